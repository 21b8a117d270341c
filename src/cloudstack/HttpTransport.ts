/**
 * The live `CloudStackTransport`: adds apiKey/response/signatureVersion/expires, signs (reference 1.3)
 * and sends over undici — GET query for reads, POST form for mutations — honouring HTTP(S)_PROXY and
 * NO_PROXY, with TLS verified unless `ssl-no-verify`. Maps every socket failure to a typed reason.
 * A list sent with `skim` is read as it arrives (ListSkim): its answer is never held whole.
 * Secrets are read from `Redacted` only to sign and never reach logs, errors or spans: socket error
 * texts (which may contain the URL) are redacted before they become a `CloudStackTransportError`.
 */
import { Clock, Duration, Effect, Layer, Predicate, Redacted, type Scope } from "effect"
import { EnvHttpProxyAgent, request as undiciRequest } from "undici"
import { CloudConfig, type CloudConfigShape } from "../config/CloudConfig.js"
import { CloudStackTransportError } from "./CloudStackError.js"
import { type CloudStackRawResponse, type CloudStackRequest, CloudStackTransport } from "./CloudStackTransport.js"
import * as ListSkim from "./ListSkim.js"
import * as Redact from "./Redact.js"
import { encodeQuery, formatExpires, type Params, sign } from "./Signing.js"

/** How long a signed request stays valid (`expires` = now + 10 min, as the cs client does). */
export const SIGNATURE_VALIDITY = Duration.minutes(10)

export interface WireRequest {
  readonly method: "GET" | "POST"
  readonly url: string
  /** Form body for POST, undefined for GET. */
  readonly body: string | undefined
  /** The request's signature (for redaction: a server may echo it). */
  readonly signature: string
}

/**
 * Pure: the exact HTTP request for a command at `nowMillis`. Values go through `encodeQuery`, so a
 * `+` is sent as `%2B` (a raw `+` would decode as a space and break the signature).
 */
export const encodeRequest = (
  apiUrl: URL,
  apiKey: string,
  secretKey: string,
  request: CloudStackRequest,
  nowMillis: number
): WireRequest => {
  const params: Params = {
    ...request.params,
    command: request.command,
    apiKey,
    response: "json",
    signatureVersion: "3",
    expires: formatExpires(nowMillis + Duration.toMillis(SIGNATURE_VALIDITY))
  }
  const signature = sign(params, secretKey)
  const encoded = encodeQuery({ ...params, signature })
  const base = `${apiUrl.origin}${apiUrl.pathname}`
  return request.method === "GET"
    ? { method: "GET", url: `${base}?${encoded}`, body: undefined, signature }
    : { method: "POST", url: base, body: encoded, signature }
}

const CONNECT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT"
])
const RESET = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"])
const TIMEOUT = new Set(["ETIMEDOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"])
const TLS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

const codeOf = (error: unknown, depth = 0): string | undefined => {
  if (Predicate.hasProperty(error, "code") && typeof error.code === "string") return error.code
  if (depth < 3 && Predicate.hasProperty(error, "cause")) return codeOf(error.cause, depth + 1)
  return undefined
}

/** Classifies a socket-level failure by its error code (never by message text). */
export const reasonOf = (code: string | undefined): CloudStackTransportError["reason"] => {
  if (code === undefined) return "Other"
  if (CONNECT.has(code)) return "Connect"
  if (RESET.has(code)) return "Reset"
  if (TIMEOUT.has(code)) return "Timeout"
  if (TLS.has(code) || code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_")) return "Tls"
  return "Other"
}

/**
 * The typed error for a failed request; the foreign error's texts (undici's messages may contain
 * the URL, with the api key and signature) are redacted, in `detail` and in the `cause` kept. Also
 * used by the preflight's probes.
 */
export const toTransportError = (command: string, secrets: ReadonlyArray<string>) => (cause: unknown) => {
  const code = codeOf(cause)
  const redact = Redact.make(secrets)
  const text = cause instanceof Error ? redact(cause.message) : "request failed"
  return new CloudStackTransportError({
    command,
    reason: reasonOf(code),
    detail: `${code ?? "ERR"}: ${text}`,
    cause: Redact.redactCause(cause, redact)
  })
}

export const headerValue = (value: string | ReadonlyArray<string> | undefined): string =>
  value === undefined ? "" : typeof value === "string" ? value : value.join(", ")

/**
 * The HTTP agent for CloudStack requests: ssl-no-verify, request-timeout (connect, headers, body) and
 * the proxy variables (read once, as every other process setting at start-up); closed with the scope.
 * The preflight's prober uses the same, so it tests what the CCM will do.
 */
export const makeAgent = (
  config: Pick<CloudConfigShape, "requestTimeout" | "sslNoVerify">,
  label: string
): Effect.Effect<EnvHttpProxyAgent, never, Scope.Scope> => {
  const timeoutMs = Duration.toMillis(config.requestTimeout)
  const tls = { rejectUnauthorized: !config.sslNoVerify }
  return Effect.acquireRelease(
    Effect.sync(() =>
      new EnvHttpProxyAgent({
        connect: { ...tls, timeout: timeoutMs },
        requestTls: tls,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs
      })
    ),
    (a) =>
      Effect.tryPromise(() => a.close()).pipe(
        Effect.catchAll((cause) =>
          Effect.logDebug(`${label} HTTP agent close failed`).pipe(Effect.annotateLogs({ cause }))
        )
      )
  )
}

/** Fails a request with a Timeout transport error once request-timeout has passed. */
export const withRequestTimeout =
  (command: string, timeout: Duration.Duration) =>
  <A, E, R>(request: Effect.Effect<A, E, R>): Effect.Effect<A, E | CloudStackTransportError, R> =>
    Effect.timeoutFail(request, {
      duration: timeout,
      onTimeout: () =>
        new CloudStackTransportError({
          command,
          reason: "Timeout",
          detail: `no answer within ${Duration.format(timeout)}`
        })
    })

const make = Effect.gen(function*() {
  const config = yield* CloudConfig
  if (config.sslNoVerify) {
    yield* Effect.logWarning("TLS certificate verification of the CloudStack API is disabled (ssl-no-verify)")
  }
  const agent = yield* makeAgent(config, "CloudStack")
  const apiKey = Redacted.value(config.apiKey)
  const secretKey = Redacted.value(config.secretKey)

  const send = (request: CloudStackRequest): Effect.Effect<CloudStackRawResponse, CloudStackTransportError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const wire = encodeRequest(config.apiUrl, apiKey, secretKey, request, now)
      return yield* Effect.tryPromise({
        try: async (signal) => {
          const response = wire.body === undefined
            ? await undiciRequest(wire.url, {
              method: "GET",
              dispatcher: agent,
              signal,
              headers: { accept: "application/json" }
            })
            : await undiciRequest(wire.url, {
              method: "POST",
              dispatcher: agent,
              signal,
              headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
              body: wire.body
            })
          const head = {
            status: response.statusCode,
            contentType: headerValue(response.headers["content-type"]),
            signature: wire.signature
          }
          if (request.skim === undefined) return { ...head, body: await response.body.text() }
          // Read as it arrives: a large list is never held whole (ListSkim).
          const scanner = ListSkim.scanner(request.skim)
          for await (const chunk of response.body) scanner.write(chunk as Uint8Array)
          const skimmed = scanner.end()
          return { ...head, body: skimmed.prefix, skimmed }
        },
        catch: toTransportError(request.command, [apiKey, secretKey, wire.signature])
      })
    }).pipe(withRequestTimeout(request.command, config.requestTimeout))

  return CloudStackTransport.of({ send })
})

/** Signs and sends over HTTP(S); the agent's sockets are closed with the layer's scope. */
export const layer = Layer.scoped(CloudStackTransport, make)
