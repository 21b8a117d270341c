/**
 * giveTurns: a busy fiber lets the event loop turn (a timer due fires while it works), and a fiber
 * of virtual time keeps its scheduler.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FiberRef } from "effect"
import { giveTurns, loopTurnScheduler } from "../../src/runtime/LoopTurns.js"
import { runVirtual } from "../../src/simulation/VirtualTime.js"

/** Work without I/O (a few hundred thousand ops, a few hundred yields); the step at which `due()` first held. */
const busy = (due: () => boolean) =>
  Effect.gen(function*() {
    let seenAt = -1
    for (let step = 0; step < 100_000; step++) {
      yield* Effect.sync(() => {
        if (seenAt < 0 && due()) seenAt = step
      })
    }
    return seenAt
  })

/** Runs `work` on the default scheduler with a timer due at once; the step at which it fired. */
const timerDuring = async (work: (due: () => boolean) => Effect.Effect<number>) => {
  let fired = false
  setTimeout(() => (fired = true), 0)
  return Effect.runPromise(work(() => fired))
}

describe("LoopTurns.giveTurns", () => {
  it("a busy fiber lets a due timer fire while it works; on the default scheduler none fires", async () => {
    const plain = await timerDuring(busy)
    assert.strictEqual(plain, -1, "the default scheduler holds the loop for the whole run")
    const turning = await timerDuring((due) => giveTurns(busy(due)))
    assert.isAtLeast(turning, 0, "the timer fired during the work")
    assert.isBelow(turning, 100_000)
  })

  it("forked fibers inherit the scheduler; a fiber of virtual time keeps its own", async () => {
    const schedulerIn = giveTurns(
      Effect.flatMap(Effect.fork(FiberRef.get(FiberRef.currentScheduler)), (child) => child.await)
    )
    const prod = await Effect.runPromise(schedulerIn)
    assert.isTrue(Exit.isSuccess(prod) && prod.value === loopTurnScheduler)
    const virtual = await runVirtual(schedulerIn)
    assert.isTrue(Exit.isSuccess(virtual) && Exit.isSuccess(virtual.value))
    if (Exit.isSuccess(virtual) && Exit.isSuccess(virtual.value)) {
      assert.notStrictEqual(virtual.value.value, loopTurnScheduler)
    }
  })
})
