/**
 * Long CPU-bound stretches that still let the event loop turn. Effect's default scheduler yields a
 * busy fiber every 2,048 ops, but through a microtask, and only after 2,048 such yields in a row
 * through a timer: a fiber that plans for tens of seconds without I/O (the drift pass over thousands
 * of Services) holds the loop all that time, and /healthz, /metrics and the Lease renewal wait on
 * it. Under `giveTurns` each yield of the fiber (and of fibers it forks) waits for the loop's check
 * phase (setImmediate): the loop polls its sockets at every yield. A fiber run by another scheduler
 * (the virtual time of the simulations, `runVirtual`) keeps it: its order must not depend on the
 * loop.
 */
import { Effect, FiberRef, Scheduler } from "effect"

/** Runs each batch of a fiber's tasks in the event loop's check phase, after its I/O poll. */
export const loopTurnScheduler: Scheduler.Scheduler = Scheduler.makeBatched((drain) => setImmediate(drain))

/** Runs `self` on `loopTurnScheduler` when it would run on the default scheduler; as it is otherwise. */
export const giveTurns = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    FiberRef.get(FiberRef.currentScheduler),
    (scheduler) => scheduler === Scheduler.defaultScheduler ? Effect.withScheduler(self, loopTurnScheduler) : self
  )
