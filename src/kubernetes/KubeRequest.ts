/**
 * One request to the API server through client-node: the call as a typed, interruptible, spanned
 * effect logged at Trace, every foreign failure mapped to `KubeApiError` exactly once (by HTTP
 * status only), reads of optional objects, decoding of answers, and paged lists. Watches are KubeWatch.
 */
import * as k8s from "@kubernetes/client-node"
import { Cause, Clock, Effect, Exit, FiberRef, LogLevel, Option, ParseResult } from "effect"
import { KubeApiError, reasonFromStatus } from "./KubeError.js"
import { type KubeLimiter, unlimited } from "./KubeRateLimiter.js"
import type { ListResult } from "./WatchEvent.js"

const statusOf = (cause: unknown): number | undefined => {
  if (cause instanceof k8s.ApiException) return cause.code
  // client-node's Watch rejects with an Error carrying `statusCode` for non-200 answers.
  if (cause instanceof Error && "statusCode" in cause && typeof cause.statusCode === "number") return cause.statusCode
  return undefined
}

const detailOf = (cause: unknown): string => {
  if (cause instanceof k8s.ApiException) {
    const body: unknown = cause.body
    if (typeof body === "string") {
      const parsed = Option.liftThrowable((text: string): unknown => JSON.parse(text))(body)
      if (
        Option.isSome(parsed) && typeof parsed.value === "object" && parsed.value !== null && "message" in parsed.value
      ) {
        return String(parsed.value.message)
      }
      return body.slice(0, 300)
    }
  }
  return cause instanceof Error ? cause.message : String(cause)
}

/** Maps any failure of a client-node call to a KubeApiError, by HTTP status only. */
export const toKubeApiError =
  (verb: KubeApiError["verb"], resource: string, name?: string) => (cause: unknown): KubeApiError => {
    const status = statusOf(cause)
    return new KubeApiError({
      verb,
      resource,
      name,
      reason: status === undefined ? "Transport" : reasonFromStatus(status, verb),
      status,
      detail: detailOf(cause),
      cause
    })
  }

/**
 * Logs one request at Trace (`-v=6`, as klog logs each API call): verb, resource, name, status
 * ("ok", the HTTP code, or "transport"), duration. Never headers, so never a token.
 */
const traced =
  (verb: KubeApiError["verb"], resource: string, name: string | undefined) =>
  <A>(request: Effect.Effect<A, KubeApiError>): Effect.Effect<A, KubeApiError> =>
    // Timed and logged only when Trace is on: every Kubernetes request passes here.
    Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (minimum) =>
      LogLevel.greaterThan(minimum, LogLevel.Trace) ? request : timedTrace(verb, resource, name, request))

const timedTrace = <A>(
  verb: KubeApiError["verb"],
  resource: string,
  name: string | undefined,
  request: Effect.Effect<A, KubeApiError>
): Effect.Effect<A, KubeApiError> =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (started) =>
      Effect.onExit(request, (exit) =>
        Effect.flatMap(Clock.currentTimeMillis, (ended) =>
          Effect.logTrace("kubernetes request").pipe(
            Effect.annotateLogs({
              verb,
              resource,
              ...(name === undefined ? {} : { name }),
              status: Exit.match(exit, {
                onSuccess: () =>
                  "ok",
                onFailure: (cause) =>
                  Option.match(Cause.failureOption(cause), {
                    onNone: () => "interrupted",
                    onSome: (error) => error.status === undefined ? error.reason.toLowerCase() : String(error.status)
                  })
              }),
              durationMs: ended - started
            })
          )))
  )

/** Runs one client-node call as a typed, interruptible, spanned effect, logged at Trace. */
export const call = <A>(
  verb: KubeApiError["verb"],
  resource: string,
  name: string | undefined,
  f: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, KubeApiError> =>
  Effect.tryPromise({ try: f, catch: toKubeApiError(verb, resource, name) }).pipe(
    traced(verb, resource, name),
    Effect.withSpan(`Kubernetes.${verb}`, { attributes: { resource, ...(name === undefined ? {} : { name }) } })
  )

/** `call` through a rate limiter: what resource APIs use, with their client's `limit`. */
export const limitedCall = (limit: KubeLimiter) =>
<A>(
  verb: KubeApiError["verb"],
  resource: string,
  name: string | undefined,
  f: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, KubeApiError> => limit(call(verb, resource, name, f))

/** Reads one object: None when it does not exist, else the decoded view. */
export const readOptional = <A>(
  read: Effect.Effect<unknown, KubeApiError>,
  decode: (input: unknown) => Effect.Effect<A, KubeApiError>
): Effect.Effect<Option.Option<A>, KubeApiError> =>
  read.pipe(
    Effect.flatMap(decode),
    Effect.map(Option.some),
    Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none<A>()))
  )

/** Turns a Schema decode failure of a server answer into a KubeApiError (reason Decode). */
export const decodeWith = <A>(
  verb: KubeApiError["verb"],
  resource: string,
  decode: (input: unknown) => Effect.Effect<A, ParseResult.ParseError>
) =>
(input: unknown): Effect.Effect<A, KubeApiError> =>
  Effect.mapError(decode(input), (error) =>
    new KubeApiError({
      verb,
      resource,
      reason: "Decode",
      detail: ParseResult.TreeFormatter.formatErrorSync(error),
      cause: error
    }))

/** A list page as client-node returns it (typed list or raw JSON from CustomObjectsApi). */
interface ListPage {
  readonly items: ReadonlyArray<unknown>
  readonly metadata?:
    | { readonly resourceVersion?: string | undefined; readonly _continue?: string | undefined }
    | undefined
}

const pageOf = (value: unknown): ListPage | undefined => {
  if (typeof value !== "object" || value === null || !("items" in value) || !Array.isArray(value.items)) {
    return undefined
  }
  const items: ReadonlyArray<unknown> = value.items
  const meta: unknown = "metadata" in value ? value.metadata : undefined
  if (typeof meta !== "object" || meta === null) return { items }
  const resourceVersion = "resourceVersion" in meta && typeof meta.resourceVersion === "string"
    ? meta.resourceVersion
    : undefined
  // Typed lists name it `_continue`, raw JSON `continue`.
  const cont = "_continue" in meta && typeof meta._continue === "string"
    ? meta._continue
    : "continue" in meta && typeof meta.continue === "string"
    ? meta.continue
    : undefined
  return { items, metadata: { resourceVersion, _continue: cont } }
}

/**
 * Objects per list page: bounds the memory of one answer (5,000 Nodes come in 50 pages). A page of
 * kubelet Nodes is parsed and then copied again by client-node's serializer, so a smaller page lowers
 * the process's peak (bench/Memory.bench.ts; figures in bench/results).
 */
export const LIST_PAGE_SIZE = 100

/**
 * Lists every object, page by page, decoding each page before fetching the next so raw objects
 * never pile up; `keep` reduces each decoded object as it arrives (an informer's cache keeps only
 * what it reads, so a whole list of full objects is never alive at once); `onPage` sees each kept
 * page. The snapshot's resourceVersion is the first page's (pages share one snapshot).
 */
export const listAll = <A>(
  resource: string,
  fetchPage: (cont: string | undefined, signal: AbortSignal) => Promise<unknown>,
  decode: (input: unknown) => Effect.Effect<A, ParseResult.ParseError>,
  limit: KubeLimiter = unlimited,
  onPage: (items: ReadonlyArray<A>) => Effect.Effect<void> = () => Effect.void,
  keep: (item: A) => A = (item) => item
): Effect.Effect<ListResult<A>, KubeApiError> =>
  Effect.gen(function*() {
    const items: Array<A> = []
    let resourceVersion = ""
    let cont: string | undefined = undefined
    do {
      const token: string | undefined = cont
      const raw = yield* limit(call("list", resource, undefined, (signal) => fetchPage(token, signal)))
      const page = pageOf(raw)
      if (page === undefined) {
        return yield* new KubeApiError({ verb: "list", resource, reason: "Decode", detail: "the answer is not a list" })
      }
      if (resourceVersion === "") resourceVersion = page.metadata?.resourceVersion ?? ""
      const first = items.length
      for (const item of page.items) items.push(keep(yield* decodeWith("list", resource, decode)(item)))
      yield* onPage(items.slice(first))
      cont = page.metadata?._continue === "" ? undefined : page.metadata?._continue
    } while (cont !== undefined)
    return { items, resourceVersion }
  })
