/**
 * The preflight's raw CloudStack requests: one GET signed as the CCM signs it (signature version 3
 * with `expires`), or on purpose otherwise (no `expires`; a wrong signature) to tell a clock, a
 * secret-key and an api-key problem apart. Keeps what the typed client drops: the status, the body
 * and the server's `Date` header. Same TLS and proxy settings as the live transport.
 */
import { Clock, DateTime, Effect, Option, Redacted, type Scope } from "effect"
import { request as undiciRequest } from "undici"
import { CloudStackTransportError } from "../cloudstack/CloudStackError.js"
import {
  encodeRequest,
  headerValue,
  makeAgent,
  toTransportError,
  withRequestTimeout
} from "../cloudstack/HttpTransport.js"
import { encodeQuery, type Params, sign } from "../cloudstack/Signing.js"
import type { CloudConfigShape } from "../config/CloudConfig.js"

/** How a probe request is signed. */
export type Signing =
  /** As the CCM does: signatureVersion 3 and `expires` = now + 10 min. */
  | "v3"
  /** Without signatureVersion/expires: accepted with right keys whatever the clocks say (unless the server enforces v3). */
  | "noExpiry"
  /** A signature that never verifies: only what the server checks before the signature shows. */
  | "wrongSignature"

export interface RawAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string
  /** The `Date` header as epoch ms, when the server sent a parseable one. */
  readonly serverTime: Option.Option<number>
  /** This machine's Clock when the request was sent. */
  readonly sentAt: number
  readonly millis: number
  /** The key pair and this request's signature: redacted from any text taken from the answer. */
  readonly secrets: ReadonlyArray<string>
}

export interface Prober {
  readonly send: (
    command: string,
    params: Params,
    signing: Signing
  ) => Effect.Effect<RawAnswer, CloudStackTransportError>
}

const wireOf = (config: CloudConfigShape, command: string, params: Params, signing: Signing, now: number) => {
  const apiKey = Redacted.value(config.apiKey)
  const secretKey = Redacted.value(config.secretKey)
  if (signing === "v3") {
    return encodeRequest(config.apiUrl, apiKey, secretKey, { command, params, method: "GET" }, now).url
  }
  const base = { ...params, command, apiKey, response: "json" }
  const signature = signing === "wrongSignature" ? "d3Jvbmctc2lnbmF0dXJl" : sign(base, secretKey)
  return `${config.apiUrl.origin}${config.apiUrl.pathname}?${encodeQuery({ ...base, signature })}`
}

const parseDate = (value: string): Option.Option<number> =>
  value === "" ? Option.none() : Option.map(DateTime.make(value), DateTime.toEpochMillis)

/** A prober over its own agent (closed with the scope), honouring ssl-no-verify, request-timeout and proxy variables. */
export const make = (config: CloudConfigShape): Effect.Effect<Prober, never, Scope.Scope> =>
  Effect.gen(function*() {
    const agent = yield* makeAgent(config, "preflight")
    const send = (command: string, params: Params, signing: Signing) =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        const url = wireOf(config, command, params, signing, start)
        const secrets = [
          Redacted.value(config.apiKey),
          Redacted.value(config.secretKey),
          new URL(url).searchParams.get("signature") ?? ""
        ]
          .filter((x) => x !== "")
        const answer = yield* Effect.tryPromise({
          try: async (signal) => {
            const response = await undiciRequest(url, {
              method: "GET",
              dispatcher: agent,
              signal,
              headers: { accept: "application/json" }
            })
            return {
              status: response.statusCode,
              contentType: headerValue(response.headers["content-type"]),
              body: await response.body.text(),
              date: headerValue(response.headers["date"])
            }
          },
          // The URL carries the key and its signature: both are redacted from the error's text.
          catch: toTransportError(command, secrets)
        }).pipe(withRequestTimeout(command, config.requestTimeout))
        const end = yield* Clock.currentTimeMillis
        return {
          status: answer.status,
          contentType: answer.contentType,
          body: answer.body,
          serverTime: parseDate(answer.date),
          sentAt: start,
          secrets,
          millis: end - start
        }
      })
    return { send }
  })
