/**
 * One CloudStack exchange for the client: the client-wide concurrency bound and rate limit, the
 * envelope and the command's decoder, per-command metrics, the -v=6 trace line, and class-based
 * retries (reads on any retryable failure, mutations only when provably not executed).
 */
import { Clock, Effect, Either, FiberRef, LogLevel, RateLimiter, Redacted, Schedule } from "effect"
import { ArrayFormatter, type ParseError } from "effect/ParseResult"
import type { CloudConfig } from "../config/CloudConfig.js"
import type { MetricsShape } from "../metrics/Metrics.js"
import { CloudStackDecodeError, type CloudStackError, isRetryable, isRetryableMutation } from "./CloudStackError.js"
import type { CloudStackRawResponse, CloudStackTransport } from "./CloudStackTransport.js"
import * as Envelope from "./Envelope.js"
import type * as ListSkim from "./ListSkim.js"
import * as Redact from "./Redact.js"
import { retrySchedule } from "./RetryPolicy.js"
import type { Params } from "./Signing.js"

/** A decode failure; its issue texts quote the answer's values, so they are redacted. */
export const toDecodeError =
  (command: string, prefix: ReadonlyArray<string>, secrets: ReadonlyArray<string>) => (error: ParseError) =>
    new CloudStackDecodeError({
      command,
      detail: Redact.redact(
        ArrayFormatter.formatErrorSync(error)
          .map((issue) => `${[...prefix, ...issue.path.map(String)].join(".") || "(root)"}: ${issue.message}`)
          .join("; "),
        secrets
      )
    })

const outcomeOf = (error: CloudStackError): string => {
  switch (error._tag) {
    case "CloudStackApiError":
      return String(error.errorCode)
    case "CloudStackTransportError":
      return "transport"
    case "CloudStackUnexpectedBodyError":
      return "unexpected_body"
    default:
      return "decode"
  }
}

export interface Core {
  readonly request: <A>(
    command: string,
    method: "GET" | "POST",
    params: Params,
    decode: (inner: unknown) => Effect.Effect<A, ParseError>,
    skim?: ListSkim.Skim
  ) => Effect.Effect<A, CloudStackError>
}

/** The configured key pair, redacted from every foreign text an error carries. */
export const secretsOf = (config: CloudConfig["Type"]): ReadonlyArray<string> => [
  Redacted.value(config.apiKey),
  Redacted.value(config.secretKey)
]

export const makeCore = (
  keys: ReadonlyArray<string>,
  transport: CloudStackTransport["Type"],
  metrics: MetricsShape,
  limit: RateLimiter.RateLimiter,
  semaphore: Effect.Semaphore
): Core => {
  const record = (command: string, outcome: string, durationMs: number) =>
    Effect.sync(() => {
      metrics.apiRequests.inc({ command, outcome })
      metrics.apiRequestDuration.observe({ command }, durationMs / 1000)
    })

  /** The decoded answer; the request's signature is redacted along with the keys from any error text. */
  const answerOf = <A>(
    command: string,
    raw: CloudStackRawResponse,
    decode: (inner: unknown) => Effect.Effect<A, ParseError>,
    skim: ListSkim.Skim | undefined
  ) => {
    const secrets = raw.signature === undefined ? keys : [...keys, raw.signature]
    return Effect.flatMap(
      Envelope.decode(command, raw, secrets, skim),
      (inner) => Effect.mapError(decode(inner), toDecodeError(command, [], secrets))
    )
  }

  /**
   * klog's -v=6 request line: command, method, parameter NAMES (never a value: a value may be a
   * secret or personal), HTTP status, duration and outcome. Built only when Trace is enabled.
   */
  const trace = (
    request: { readonly command: string; readonly method: string; readonly params: Params },
    status: number | undefined,
    durationMs: number,
    outcome: string
  ) =>
    Effect.flatMap(
      FiberRef.get(FiberRef.currentMinimumLogLevel),
      (minimum) =>
        LogLevel.lessThanEqual(minimum, LogLevel.Trace)
          ? Effect.logTrace("CloudStack request").pipe(Effect.annotateLogs({
            command: request.command,
            method: request.method,
            params: Object.keys(request.params).sort().join(","),
            status: status ?? "none",
            durationMs,
            outcome
          }))
          : Effect.void
    )

  // One HTTP exchange: rate-limited and bounded, measured, decoded; metrics count the final outcome.
  const once = <A>(
    command: string,
    method: "GET" | "POST",
    params: Params,
    decode: (inner: unknown) => Effect.Effect<A, ParseError>,
    skim: ListSkim.Skim | undefined
  ): Effect.Effect<A, CloudStackError> =>
    semaphore.withPermits(1)(limit(Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      const sent = yield* Effect.either(transport.send({ command, params, method, skim }))
      const result: Either.Either<A, CloudStackError> = Either.isLeft(sent)
        ? Either.left(sent.left)
        : yield* Effect.either(answerOf(command, sent.right, decode, skim))
      const durationMs = (yield* Clock.currentTimeMillis) - startedAt
      const outcome = Either.isRight(result) ? "success" : outcomeOf(result.left)
      yield* record(command, outcome, durationMs)
      yield* trace(
        { command, method, params },
        Either.isRight(sent) ? sent.right.status : undefined,
        durationMs,
        outcome
      )
      return yield* result
    })))

  // Retries start only after a retryable failure, so the common success path sets up no Schedule.
  const retryAfter = <A>(
    first: CloudStackError,
    retryable: (e: CloudStackError) => boolean,
    attempt: Effect.Effect<A, CloudStackError>,
    command: string
  ): Effect.Effect<A, CloudStackError> =>
    Effect.gen(function*() {
      const driver = yield* Schedule.driver(retrySchedule)
      let last = first
      for (let n = 2;; n++) {
        // sleeps the jittered backoff; fails once MAX_ATTEMPTS is reached
        const step = yield* Effect.either(driver.next(last))
        if (Either.isLeft(step)) return yield* Effect.fail(last)
        yield* Effect.sync(() => metrics.apiRetries.inc({ command }))
        yield* Effect.logDebug("CloudStack request retried").pipe(
          Effect.annotateLogs({ command, attempt: n, after: last._tag })
        )
        const result = yield* Effect.either(attempt)
        if (Either.isRight(result)) return result.right
        if (!retryable(result.left)) return yield* Effect.fail(result.left)
        last = result.left
      }
    })

  const request: Core["request"] = (command, method, params, decode, skim) => {
    const retryable = method === "GET" ? isRetryable : isRetryableMutation
    const attempt = once(command, method, params, decode, skim)
    return attempt.pipe(
      Effect.catchIf(retryable, (error) => retryAfter(error, retryable, attempt, command)),
      Effect.withSpan("CloudStackClient.request", { attributes: { command } })
    )
  }

  return { request }
}
