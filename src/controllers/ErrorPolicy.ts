/**
 * The controllers' error policy. A failed reconcile is one of:
 * - user-fixable: a person must change something (an annotation, the keys, an RBAC rule, an account
 *   limit). Retried on a capped backoff in case they did; logged once per distinct cause at Error,
 *   without a stack (the Warning Event, where there is an object, is the controller's).
 * - transient: the cloud or the API server may answer next time. Retried with backoff, logged at
 *   Debug until it persists.
 * - a defect (a die): a bug. Logged with its stack, retried with backoff.
 * Classification is by error tag and code, never by message text. Pure.
 */
import type { CloudStackError } from "../cloudstack/CloudStackError.js"
import type { KubeApiError } from "../kubernetes/KubeError.js"

export type ErrorClass = "user" | "transient"

/**
 * The controllers' own failures: a user error of a Service (its Warning Event is recorded), a
 * Node's provided IP that is not its VM's (the kubelet's --node-ip to fix), a Node whose VM is
 * not found (yet: a VM may still be starting).
 */
export interface ControllerError {
  readonly _tag: "ServiceUserError" | "ProvidedNodeIpError" | "NodeNotResolvedError"
}

/** Consecutive failed attempts after which a transient error is no longer Debug but Error. */
export const PERSISTS_AFTER = 3

/** CloudStack answers that only a person can change: keys, the role's permissions, account limits. */
const USER_API_CLASSES: ReadonlySet<string> = new Set(["auth", "permission", "limit"])

export const classify = (error: KubeApiError | CloudStackError | ControllerError): ErrorClass => {
  switch (error._tag) {
    case "ServiceUserError":
    case "ProvidedNodeIpError":
      return "user"
    case "KubeApiError":
      // a token or RBAC rule to fix; an object the API server calls invalid will not become valid by retrying
      return error.reason === "Unauthorized" || error.reason === "Forbidden" || error.reason === "Invalid"
        ? "user"
        : "transient"
    case "CloudStackApiError":
    case "AsyncJobFailedError":
      return USER_API_CLASSES.has(error.errorClass) ? "user" : "transient"
    default:
      return "transient"
  }
}
