/**
 * One resource's watch feed inside FakeKubernetes: a bounded history of events by resourceVersion
 * (so a watch can resume from the past) and live fan-out. A version older than the retained history
 * fails with Gone (410), as the real API server does after compaction.
 */
import { Effect, Either, PubSub, Ref, type Scope, Stream } from "effect"
import { KubeApiError } from "../../kubernetes/KubeError.js"
import type { WatchEvent } from "../../kubernetes/WatchEvent.js"

interface Entry<A> {
  readonly version: number
  readonly event: WatchEvent<A>
}

interface History<A> {
  /** Watching from a version below this is Gone. */
  readonly floor: number
  readonly entries: ReadonlyArray<Entry<A>>
}

export interface WatchChannel<A> {
  /** Records and fans out one event; call while holding the store's lock so versions stay ordered. */
  readonly publish: (version: number, event: WatchEvent<A>) => Effect.Effect<void>
  /** Events after `resourceVersion` ("" or "0": from now), then live ones; call under the store's lock. */
  readonly subscribe: (
    resourceVersion: string,
    current: number
  ) => Effect.Effect<Stream.Stream<WatchEvent<A>, KubeApiError>, KubeApiError, Scope.Scope>
  /** Forgets history up to `current` and ends every open watch with `error` (e.g. Gone). */
  readonly interrupt: (current: number, error: KubeApiError, compact: boolean) => Effect.Effect<void>
}

export const make = <A>(resource: string, initialFloor: number, historyLimit: number) =>
  Effect.gen(function*() {
    const history = yield* Ref.make<History<A>>({ floor: initialFloor, entries: [] })
    const live = yield* PubSub.unbounded<Either.Either<WatchEvent<A>, KubeApiError>>()

    const gone = (resourceVersion: string, floor: number) =>
      new KubeApiError({
        verb: "watch",
        resource,
        reason: "Gone",
        status: 410,
        detail: `too old resource version: ${resourceVersion} (${floor})`
      })

    const publish = (version: number, event: WatchEvent<A>) =>
      Effect.zipRight(
        Ref.update(history, (h) => {
          const entries = [...h.entries, { version, event }]
          if (entries.length <= historyLimit) return { floor: h.floor, entries }
          const dropped = entries.slice(0, entries.length - historyLimit)
          return { floor: dropped[dropped.length - 1]?.version ?? h.floor, entries: entries.slice(-historyLimit) }
        }),
        PubSub.publish(live, Either.right(event))
      )

    const subscribe = (resourceVersion: string, current: number) =>
      Effect.gen(function*() {
        const from = resourceVersion === "" || resourceVersion === "0" ? current : Number(resourceVersion)
        const h = yield* Ref.get(history)
        if (!Number.isInteger(from) || from < h.floor) return yield* gone(resourceVersion, h.floor)
        const subscription = yield* PubSub.subscribe(live)
        const past = h.entries.filter((entry) => entry.version > from).map((entry) => entry.event)
        return Stream.concat(
          Stream.fromIterable(past),
          Stream.fromQueue(subscription).pipe(Stream.mapEffect((item) => item))
        )
      })

    const interrupt = (current: number, error: KubeApiError, compact: boolean) =>
      Effect.zipRight(
        compact ? Ref.set(history, { floor: current, entries: [] }) : Effect.void,
        PubSub.publish(live, Either.left(error))
      )

    return { publish, subscribe, interrupt } satisfies WatchChannel<A>
  })
