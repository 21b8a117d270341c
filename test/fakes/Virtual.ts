/**
 * Tests on virtual time (runVirtual) for scenarios that move the clock a lot: stepping the TestClock
 * takes real timer turns per step (minutes of controller time cost seconds, more on a busy machine),
 * while runVirtual moves the clock whenever nothing can run, at CPU speed. Like @effect/vitest's
 * `it.scoped`: the effect gets a scope of its own and logs nothing.
 */
import { Cause, Clock, Duration, Effect, Exit, Logger, type Scope } from "effect"
import { advanceTo, runVirtual, VirtualTime } from "../../src/simulation/VirtualTime.js"

/** The unit project's testTimeout: a run past it is a failed test, and its loop must not spin on. */
const GIVE_UP_MS = 60_000

/** Runs `effect` on virtual time; a failure or defect (a failed assertion) is thrown as itself. */
export const runScoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | VirtualTime>): Promise<A> =>
  runVirtual(effect.pipe(Effect.scoped, Effect.provide(Logger.remove(Logger.defaultLogger))), {
    signal: AbortSignal.timeout(GIVE_UP_MS)
  }).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  })

/** Lets everything else run for `duration` of virtual time, then settle. */
export const pass = (duration: Duration.DurationInput): Effect.Effect<void, never, VirtualTime> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => advanceTo(now + Duration.toMillis(duration)))

/** Completes once no other fiber can run without the clock moving (the clock stays where it is). */
export const settled: Effect.Effect<void, never, VirtualTime> = Effect.flatMap(VirtualTime, (driver) => driver.settled)
