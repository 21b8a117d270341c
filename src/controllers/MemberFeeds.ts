/**
 * The service controller's member feeds: a Node change that matters for membership (added, removed,
 * its membership facts changed) and any EndpointSlice change schedule one member re-sync of every
 * LB Service. Debounced: changes arriving within `delay` of each other share one pass; a Node's
 * heartbeat alone triggers nothing. The EndpointSlice watch starts with the first Local Service.
 */
import { Deferred, type Duration, Effect, Ref, type Scope, Stream } from "effect"
import type { EndpointSliceView } from "../kubernetes/EndpointSliceView.js"
import * as Informer from "../kubernetes/Informer.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import * as ServicePlan from "./ServicePlan.js"

export interface MemberFeedOptions<R> {
  readonly nodes: Informer.Informer<NodeView>
  /** The EndpointSlice informer, made on first use. */
  readonly slices: Effect.Effect<Informer.Informer<EndpointSliceView>>
  /** Completed once a Service needs EndpointSlices. */
  readonly slicesWanted: Deferred.Deferred<void>
  readonly delay: Duration.Duration
  /** One member re-sync pass over every LB Service. */
  readonly resync: Effect.Effect<void, never, R>
}

/** Forks both feeds into the scope. */
export const start = <R>(options: MemberFeedOptions<R>): Effect.Effect<void, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const pending = yield* Ref.make(false)
    const nudge = Effect.gen(function*() {
      if (yield* Ref.getAndSet(pending, true)) return
      yield* Effect.forkScoped(
        Effect.sleep(options.delay).pipe(Effect.zipRight(Ref.set(pending, false)), Effect.zipRight(options.resync))
      )
    })
    const nodeFeed = options.nodes.changes.pipe(
      Stream.runForEach(Informer.Change.$match({
        Added: () => nudge,
        Deleted: () => nudge,
        Updated: ({ object, previous }) =>
          ServicePlan.membershipFacts(previous) === ServicePlan.membershipFacts(object) ? Effect.void : nudge
      }))
    )
    const sliceFeed = Effect.gen(function*() {
      yield* Deferred.await(options.slicesWanted)
      const informer = yield* options.slices
      yield* informer.changes.pipe(Stream.runForEach(() => nudge))
    })
    yield* Effect.forkScoped(nodeFeed)
    yield* Effect.forkScoped(sliceFeed)
  })
