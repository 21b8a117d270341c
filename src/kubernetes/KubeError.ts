/**
 * The one error type of the Kubernetes boundary. Foreign failures (client-node's ApiException,
 * fetch errors, watch breaks) are mapped here once, by HTTP status; nothing above sees `unknown`.
 */
import { Data } from "effect"

export type KubeErrorReason =
  | "NotFound" // 404
  | "Conflict" // 409 on update/patch with a stale resourceVersion
  | "AlreadyExists" // 409 on create
  | "Invalid" // 422
  | "Gone" // 410: resourceVersion too old (watch, list)
  | "Forbidden" // 403
  | "Unauthorized" // 401
  | "Unavailable" // 429, 5xx
  | "Transport" // no HTTP answer
  | "Decode" // an answer that does not match our view schema
  | "Unknown"

export class KubeApiError extends Data.TaggedError("KubeApiError")<{
  readonly verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete"
  readonly resource: string
  readonly name?: string | undefined
  readonly reason: KubeErrorReason
  readonly status?: number | undefined
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    // `name` shadows Error's own: without the field, `this.name` would be the class name.
    const name: unknown = Object.hasOwn(this, "name") ? this.name : undefined
    const target = name === undefined ? this.resource : `${this.resource} ${String(name)}`
    return `Kubernetes ${this.verb} ${target}: ${this.reason}${
      this.status === undefined ? "" : ` (HTTP ${this.status})`
    }: ${this.detail}`
  }
}

/** `verb resource: Reason (HTTP n)`: the error without the server's text, for health check reasons. */
export const brief = (error: KubeApiError): string =>
  `${error.verb} ${error.resource}: ${error.reason}${error.status === undefined ? "" : ` (HTTP ${error.status})`}`

/** Whether repeating the same call may succeed. Conflict is retryable after a re-read, not blindly. */
export const isRetryable = (error: KubeApiError): boolean =>
  error.reason === "Unavailable" || error.reason === "Transport"

export const reasonFromStatus = (status: number, verb: KubeApiError["verb"]): KubeErrorReason => {
  switch (status) {
    case 401:
      return "Unauthorized"
    case 403:
      return "Forbidden"
    case 404:
      return "NotFound"
    case 409:
      return verb === "create" ? "AlreadyExists" : "Conflict"
    case 410:
      return "Gone"
    case 422:
      return "Invalid"
    case 429:
      return "Unavailable"
    default:
      return status >= 500 ? "Unavailable" : "Unknown"
  }
}
