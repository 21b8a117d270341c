/**
 * Running effects that mix real sockets (loopback HTTP servers) with Clock waits (retry backoff,
 * periodic rounds) on the TestClock: the clock is moved in small steps, each after a turn of Node's
 * event loop so that socket callbacks run. No real sleep, and no timer of the test's own.
 */
import { type Duration, Effect, Fiber, Option, TestClock } from "effect"

/** One turn of Node's event loop (pending socket callbacks run); not a sleep. */
export const ioTurn: Effect.Effect<void> = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** `steps` times: `turns` event-loop turns, then the TestClock moves by `step`. */
export const advance = (steps: number, step: Duration.DurationInput = "100 millis", turns = 1): Effect.Effect<void> =>
  Effect.repeatN(
    Effect.zipRight(Effect.repeatN(ioTurn, Math.max(0, turns - 1)), TestClock.adjust(step)),
    Math.max(0, steps - 1)
  )

/**
 * Awaits `fiber`, moving the TestClock by `step` after each event-loop turn. A fiber still running
 * after `maxSteps` is a test failure (defect), not a hang.
 */
export const awaitDriving = <A, E>(
  fiber: Fiber.Fiber<A, E>,
  step: Duration.DurationInput = "100 millis",
  maxSteps = 5_000
): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      const done = yield* Fiber.poll(fiber)
      if (Option.isSome(done)) return yield* done.value
      yield* ioTurn
      yield* TestClock.adjust(step)
    }
    return yield* Effect.dieMessage(`fiber still running after ${maxSteps} steps`)
  })

/** Runs `effect` to completion while driving the TestClock (see `awaitDriving`). */
export const runDriving = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  step?: Duration.DurationInput
): Effect.Effect<A, E, R> => Effect.flatMap(Effect.fork(effect), (fiber) => awaitDriving(fiber, step))
