/**
 * Watches over client-node's `Watch`: one HTTP stream per watch (its own connection, outside the
 * requests' keep-alive one), as a Stream of decoded WatchEvents ending when the server closes it.
 */
import * as k8s from "@kubernetes/client-node"
import { Duration, Effect, Either, ParseResult, Random, Stream } from "effect"
import { KubeApiError, reasonFromStatus } from "./KubeError.js"
import { type KubeLimiter, unlimited } from "./KubeRateLimiter.js"
import { toKubeApiError } from "./KubeRequest.js"
import { WatchEvent } from "./WatchEvent.js"

/** A watch `ERROR` event carries a Status; its `code` classifies it (410 = Gone). */
export const watchErrorToKubeApiError = (resource: string, status: unknown): KubeApiError => {
  const code = typeof status === "object" && status !== null && "code" in status && typeof status.code === "number"
    ? status.code
    : undefined
  const detail = typeof status === "object" && status !== null && "message" in status
    ? String(status.message)
    : "watch error"
  return new KubeApiError({
    verb: "watch",
    resource,
    reason: code === undefined ? "Unknown" : reasonFromStatus(code, "watch"),
    status: code,
    detail
  })
}

const bookmarkVersion = (object: unknown): string =>
  typeof object === "object" && object !== null && "metadata" in object && typeof object.metadata === "object" &&
    object.metadata !== null && "resourceVersion" in object.metadata &&
    typeof object.metadata.resourceVersion === "string"
    ? object.metadata.resourceVersion
    : ""

/**
 * Watches `path` from `resourceVersion` with bookmarks. The stream ends when the server closes the
 * watch (its timeout), fails with reason Gone when the version is too old, and aborts the HTTP
 * request when the consumer stops. Only the request that opens the watch waits for `limit`; its
 * events are never throttled (client-go does the same).
 */
export const watchPath = <A>(
  config: k8s.KubeConfig,
  resource: string,
  path: string,
  resourceVersion: string,
  decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>,
  limit: KubeLimiter = unlimited
): Stream.Stream<WatchEvent<A>, KubeApiError> =>
  // Spread reconnections of many watchers, as client-go does (5 to 10 minutes).
  Stream.unwrap(Effect.map(Random.nextIntBetween(300, 600), (timeoutSeconds) =>
    watchOnce(config, resource, path, resourceVersion, decode, timeoutSeconds, limit).pipe(
      // The server ends a healthy watch after timeoutSeconds (and sends bookmarks meanwhile); silence
      // well beyond that means a dead connection nobody closed.
      Stream.timeoutFail(
        () =>
          new KubeApiError({ verb: "watch", resource, reason: "Transport", detail: "watch silent past its timeout" }),
        Duration.seconds(timeoutSeconds + 60)
      )
    )))

const watchOnce = <A>(
  config: k8s.KubeConfig,
  resource: string,
  path: string,
  resourceVersion: string,
  decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>,
  timeoutSeconds: number,
  limit: KubeLimiter
): Stream.Stream<WatchEvent<A>, KubeApiError> =>
  Stream.asyncScoped<WatchEvent<A>, KubeApiError>((emit) =>
    Effect.gen(function*() {
      const onEvent = (phase: string, object: unknown): void => {
        if (phase === "BOOKMARK") {
          void emit.single(WatchEvent.Bookmark({ resourceVersion: bookmarkVersion(object) }))
          return
        }
        if (phase === "ERROR") {
          void emit.fail(watchErrorToKubeApiError(resource, object))
          return
        }
        const decoded = decode(object)
        if (Either.isLeft(decoded)) {
          void emit.fail(
            new KubeApiError({
              verb: "watch",
              resource,
              reason: "Decode",
              detail: ParseResult.TreeFormatter.formatErrorSync(decoded.left),
              cause: decoded.left
            })
          )
          return
        }
        const event = phase === "ADDED"
          ? WatchEvent.Added({ object: decoded.right })
          : phase === "MODIFIED"
          ? WatchEvent.Modified({ object: decoded.right })
          : WatchEvent.Deleted({ object: decoded.right })
        void emit.single(event)
      }
      const onDone = (error: unknown): void => {
        void (error === null || error === undefined ? emit.end() : emit.fail(toKubeApiError("watch", resource)(error)))
      }
      // The token is taken before the (uninterruptible) acquire, so waiting for it stays interruptible.
      yield* limit(Effect.void)
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () =>
            new k8s.Watch(config).watch(
              path,
              { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
              onEvent,
              onDone
            ),
          catch: toKubeApiError("watch", resource)
        }),
        (controller) => Effect.sync(() => controller.abort())
      )
      yield* Effect.logTrace("kubernetes watch opened").pipe(
        Effect.annotateLogs({ verb: "watch", resource, resourceVersion })
      )
    }), "unbounded")
