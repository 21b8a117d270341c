/**
 * The HTTP side of delegated auth on the secure port, as k8s.io/apiserver's filters write it: the
 * bearer token of a request, the always-allow path matcher (pkg/authorization/path), the anonymous
 * user, and the 401, 403 and 500 answers (a `Status` object, or plain text for internal errors).
 * Pure: no reviews, no caching.
 */
import { Option } from "effect"

/** The token of `Authorization: Bearer <token>` (scheme in any case); anything else is no token (anonymous). */
export const bearerToken = (header: string | undefined): Option.Option<string> => {
  const parts = (header ?? "").trim().split(" ")
  const [scheme, token] = parts
  return parts.length >= 2 && scheme?.toLowerCase() === "bearer" && token !== undefined && token !== ""
    ? Option.some(token)
    : Option.none()
}

/** The user of a request without credentials (the delegating authenticator allows anonymous requests). */
export const ANONYMOUS = {
  username: "system:anonymous",
  uid: "",
  groups: ["system:unauthenticated"],
  extra: {}
} as const

/** Members of this group are authorized without a SubjectAccessReview (as the k8s CCM's AlwaysAllowGroups). */
export const PRIVILEGED_GROUP = "system:masters"

/**
 * Whether `path` is always allowed: paths match exactly, `x*` entries match prefixes, leading
 * slashes ignored (so `/healthz` does not cover `/healthz/leaderElection`).
 */
export const alwaysAllowed = (paths: ReadonlyArray<string>) => {
  const trimmed = paths.map((p) => p.replace(/^\//, ""))
  const exact = new Set(trimmed.filter((p) => !p.endsWith("*")))
  const prefixes = trimmed.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1))
  return (path: string): boolean => {
    const p = path.replace(/^\//, "")
    return exact.has(p) || prefixes.some((prefix) => p.startsWith(prefix))
  }
}

export interface HttpAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const status = (code: number, reason: string, message: string, details: boolean): HttpAnswer => ({
  status: code,
  contentType: "application/json",
  body: JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details: {} } : {}),
    code
  })
})

/** No valid credentials (an invalid token, or its review failed). */
export const unauthorized: HttpAnswer = status(401, "Unauthorized", "Unauthorized", false)

/** `forbidden: User "u" cannot get path "/metrics"[: reason]`. */
export const forbidden = (username: string, verb: string, path: string, reason: string): HttpAnswer =>
  status(
    403,
    "Forbidden",
    `forbidden: User ${JSON.stringify(username)} cannot ${verb} path ${JSON.stringify(path)}${
      reason === "" ? "" : `: ${reason}`
    }`,
    true
  )

/** The authorizer failed: `Internal Server Error: "<uri>": <error>`. */
export const internalError = (requestUri: string, error: string): HttpAnswer => ({
  status: 500,
  contentType: "text/plain; charset=utf-8",
  body: `Internal Server Error: ${JSON.stringify(requestUri)}: ${error}\n`
})
