/**
 * Drives a TestClock like a discrete-event simulation: let every fiber run until nothing changes
 * any more, then jump the clock to the earliest pending sleep. Measured times are virtual
 * (CloudStack's job durations and the CCM's poll delays), so a run is deterministic and takes
 * seconds of CPU whatever the virtual duration.
 */
import { Chunk, Clock, Effect, Option, Order, TestClock } from "effect"

/** Lets runnable fibers run until `progress` has not changed for `quiet` yields in a row. */
export const quiesce = <R>(progress: Effect.Effect<number, never, R>, quiet = 25, max = 20_000) =>
  Effect.gen(function*() {
    let last = yield* progress
    let stable = 0
    for (let i = 0; i < max && stable < quiet; i++) {
      yield* Effect.yieldNow()
      const now = yield* progress
      stable = now === last ? stable + 1 : 0
      last = now
    }
  })

export class Stuck extends Error {}

/**
 * Advances virtual time from sleep to sleep until `progress` has not moved for `idleMs` of virtual
 * time (the system has converged: only periodic timers are left). Returns the virtual milliseconds
 * from the start to the last progress. Dies when `limitMs` passes first.
 */
export const untilIdle = <R>(progress: Effect.Effect<number, never, R>, idleMs: number, limitMs: number) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    let lastValue = yield* progress
    let lastAt = start
    for (;;) {
      yield* quiesce(progress)
      const now = yield* Clock.currentTimeMillis
      const value = yield* progress
      if (value !== lastValue) {
        lastValue = value
        lastAt = now
      }
      const next = Chunk.head(Chunk.sort(yield* TestClock.sleeps(), Order.number))
      if (Option.isNone(next) || next.value - lastAt > idleMs) return lastAt - start
      if (next.value - start > limitMs) {
        return yield* Effect.die(new Stuck(`still busy after ${limitMs} ms of virtual time`))
      }
      yield* TestClock.setTime(Math.max(next.value, now))
    }
  })

/** Advances virtual time from sleep to sleep up to `target` (absolute ms), letting fibers run at each step. */
export const advanceTo = <R>(progress: Effect.Effect<number, never, R>, target: number) =>
  Effect.gen(function*() {
    for (;;) {
      yield* quiesce(progress)
      const now = yield* Clock.currentTimeMillis
      const next = Chunk.head(Chunk.sort(yield* TestClock.sleeps(), Order.number))
      if (Option.isNone(next) || next.value > target) {
        if (target > now) yield* TestClock.setTime(target)
        return yield* quiesce(progress)
      }
      yield* TestClock.setTime(Math.max(next.value, now))
    }
  })
