import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Exit, Fiber, Option, Random, Ref } from "effect"
import { advanceTo, runVirtual, untilIdle, VirtualTime, VirtualTimeDeadlock } from "../../src/simulation/VirtualTime.js"

const now = Clock.currentTimeMillis

const valueOf = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) return assert.fail(`the program failed: ${String(exit.cause)}`)
  return exit.value
}

describe("VirtualTime.runVirtual", () => {
  it("runs a day of sleeps at CPU speed: the Clock reads virtual time from startMillis", async () => {
    const started = performance.now()
    const exit = await runVirtual(
      Effect.gen(function*() {
        const t0 = yield* now
        for (let i = 0; i < 24; i++) yield* Effect.sleep("1 hour")
        return [t0, yield* now] as const
      }),
      { startMillis: 1_000 }
    )
    assert.deepStrictEqual(valueOf(exit), [1_000, 1_000 + 24 * 3_600_000])
    assert.isBelow(performance.now() - started, 5_000, "no real waiting")
  })

  it("wakes sleepers in time order, and those due at one instant in the order they slept", async () => {
    const exit = await runVirtual(
      Effect.gen(function*() {
        const woke = yield* Ref.make<ReadonlyArray<string>>([])
        const sleeper = (name: string, ms: number) =>
          Effect.fork(
            Effect.zipRight(
              Effect.sleep(ms),
              Effect.flatMap(now, (t) => Ref.update(woke, (w) => [...w, `${name}@${t}`]))
            )
          )
        const fibers = [
          yield* sleeper("c", 3_000),
          yield* sleeper("a", 1_000),
          yield* sleeper("b1", 2_000),
          yield* sleeper("b2", 2_000),
          yield* sleeper("half", 0.5)
        ]
        yield* Fiber.joinAll(fibers)
        return yield* Ref.get(woke)
      })
    )
    // a fractional sleep takes a whole millisecond, as a timer does
    assert.deepStrictEqual(valueOf(exit), ["half@1", "a@1000", "b1@2000", "b2@2000", "c@3000"])
  })

  it("is deterministic: the same program and seed give the same interleaving", async () => {
    const program = () =>
      Effect.gen(function*() {
        const log = yield* Ref.make<ReadonlyArray<string>>([])
        const worker = (id: number) =>
          Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
            Effect.gen(function*() {
              yield* Effect.sleep(yield* Random.nextIntBetween(0, 50))
              if (i % 3 === 0) yield* Effect.yieldNow()
              const t = yield* now
              yield* Ref.update(log, (l) => [...l, `${id}.${i}@${t}`])
            }), { discard: true })
        yield* Effect.all([worker(1), worker(2), worker(3)], { concurrency: "unbounded" })
        return yield* Ref.get(log)
      }).pipe(Effect.withRandom(Random.make("seed")))
    const a = valueOf(await runVirtual(program()))
    const b = valueOf(await runVirtual(program()))
    assert.lengthOf(a, 60)
    assert.deepStrictEqual(a, b)
  })

  it("lets a promise that settles without I/O resume its fiber before the clock moves", async () => {
    const exit = await runVirtual(
      Effect.gen(function*() {
        yield* Effect.fork(Effect.forever(Effect.sleep("1 second")))
        // a chain of a few microtasks, as an in-memory library's async API answers
        const answer = yield* Effect.promise(() =>
          Promise.resolve(1).then((n) => n + 1).then((n) => Promise.resolve(n * 21))
        )
        return [answer, yield* now] as const
      })
    )
    assert.deepStrictEqual(valueOf(exit), [42, 0])
  })

  it("gives the event loop turns during a long burst of work, not only between bursts", async () => {
    let turned = false
    setImmediate(() => {
      turned = true
    })
    // one burst: 50,000 yields and no sleep, so the clock never has to move
    const exit = await runVirtual(
      Effect.zipRight(Effect.repeatN(Effect.yieldNow(), 50_000), Effect.sync(() => turned))
    )
    assert.isTrue(valueOf(exit), "an event-loop turn happened inside the burst")
  })

  it("gives up when its signal aborts (a program that would run forever)", async () => {
    const controller = new AbortController()
    const running = runVirtual(Effect.forever(Effect.sleep("1 second")), { signal: controller.signal })
    controller.abort(new Error("test timed out"))
    const error = await running.then(() => assert.fail("finished"), (e: unknown) => e)
    assert.instanceOf(error, Error)
    assert.strictEqual(error.message, "test timed out")
  })

  it("resolves with the program's failure as its Exit", async () => {
    const exit = await runVirtual(Effect.zipRight(Effect.sleep("1 minute"), Effect.fail("boom")))
    assert.deepStrictEqual(exit, Exit.fail("boom"))
  })

  it("rejects with VirtualTimeDeadlock when every fiber waits and no sleep can end", async () => {
    const never = Effect.flatMap(Deferred.make<void>(), Deferred.await)
    const error = await runVirtual(Effect.zipRight(Effect.sleep("1 second"), never)).then(
      () => assert.fail("a deadlocked program finished"),
      (e: unknown) => e
    )
    assert.instanceOf(error, VirtualTimeDeadlock)
    assert.strictEqual(error.at, 1_000)
    assert.include(error.message, "every fiber waits")
  })

  it("rejects a program that wakes forever without time passing", async () => {
    const error = await runVirtual(Effect.forever(Effect.sleep(0)), { maxStalled: 1_000 }).then(
      () => assert.fail("finished"),
      (e: unknown) => e
    )
    assert.instanceOf(error, VirtualTimeDeadlock)
    assert.include(error.message, "1000 wake-ups without time passing")
  })
})

describe("VirtualTime driver", () => {
  it("settled: completes once the other fibers are done at this instant, without moving the clock", async () => {
    const exit = await runVirtual(
      Effect.gen(function*() {
        const steps = yield* Ref.make(0)
        yield* Effect.fork(
          Effect.forEach(Array.from({ length: 1_000 }), () =>
            Effect.zipRight(
              Effect.yieldNow(),
              Ref.update(steps, (n) => n + 1)
            ), { discard: true })
        )
        yield* Effect.fork(Effect.zipRight(Effect.sleep("1 second"), Ref.set(steps, -1)))
        const t0 = yield* now
        yield* Effect.flatMap(VirtualTime, (d) => d.settled)
        return { steps: yield* Ref.get(steps), moved: (yield* now) - t0 }
      })
    )
    assert.deepStrictEqual(valueOf(exit), { steps: 1_000, moved: 0 })
  })

  it("nextWake: the earliest pending sleep, None when nothing sleeps", async () => {
    const exit = await runVirtual(
      Effect.gen(function*() {
        const driver = yield* VirtualTime
        const none = yield* driver.nextWake
        const a = yield* Effect.fork(Effect.sleep("5 seconds"))
        yield* Effect.fork(Effect.sleep("7 seconds"))
        yield* driver.settled
        const first = yield* driver.nextWake
        yield* Fiber.interrupt(a)
        return [none, first, yield* driver.nextWake] as const
      }),
      { startMillis: 100 }
    )
    assert.deepStrictEqual(valueOf(exit), [Option.none(), Option.some(5_100), Option.some(7_100)])
  })

  it("untilIdle: the virtual time of the last change before a quiet spell; periodic timers do not count", async () => {
    const exit = await runVirtual(
      Effect.gen(function*() {
        const progress = yield* Ref.make(0)
        // ten changes a second apart, and a timer that never stops but changes nothing
        yield* Effect.fork(
          Effect.forEach(Array.from({ length: 10 }), () =>
            Effect.zipRight(
              Effect.sleep("1 second"),
              Ref.update(progress, (n) => n + 1)
            ), { discard: true })
        )
        yield* Effect.fork(Effect.forever(Effect.sleep("30 seconds")))
        const t0 = yield* now
        const busy = yield* untilIdle(Ref.get(progress), 60_000, 3_600_000)
        return { busy, progress: yield* Ref.get(progress), waited: (yield* now) - t0 }
      })
    )
    const result = valueOf(exit)
    assert.strictEqual(result.busy, 10_000)
    assert.strictEqual(result.progress, 10)
    // it stops at the first wake-up more than a quiet minute after the last change: the timer at 90 s
    assert.strictEqual(result.waited, 60_000)
  })

  it("untilIdle dies when the system is still busy at the limit", async () => {
    const exit = await runVirtual(
      Effect.gen(function*() {
        const progress = yield* Ref.make(0)
        yield* Effect.fork(
          Effect.forever(Effect.zipRight(Effect.sleep("1 second"), Ref.update(progress, (n) => n + 1)))
        )
        return yield* untilIdle(Ref.get(progress), 10_000, 60_000)
      })
    )
    assert.isTrue(Exit.isFailure(exit) && String(exit.cause).includes("still busy after 60000 ms"))
  })

  it("advanceTo: runs every sleeper due up to the target and stops there", async () => {
    const exit = await runVirtual(
      Effect.gen(function*() {
        const ticks = yield* Ref.make(0)
        yield* Effect.fork(Effect.forever(Effect.zipRight(Effect.sleep("1 second"), Ref.update(ticks, (n) => n + 1))))
        yield* advanceTo(10_500)
        return { at: yield* now, ticks: yield* Ref.get(ticks) }
      })
    )
    assert.deepStrictEqual(valueOf(exit), { at: 10_500, ticks: 10 })
  })
})
