import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Ref, TestClock } from "effect"
import * as ControllerManager from "../../src/runtime/ControllerManager.js"
import * as HealthChecks from "../../src/runtime/HealthChecks.js"

describe("ControllerManager", () => {
  it.effect("runs every controller (loops and fork-and-return setups), a crash marks only its own check unhealthy, interruption stops the rest and removes their checks", () =>
    Effect.gen(function*() {
      const checks = yield* HealthChecks.HealthChecks
      const ticks = yield* Ref.make(0)
      const stoppedCleanly = yield* Ref.make(false)
      const steady: ControllerManager.Controller = {
        name: "service-lb-controller",
        run: Effect.addFinalizer(() => Ref.set(stoppedCleanly, true)).pipe(
          Effect.zipRight(Effect.forever(Effect.zipRight(Effect.sleep("1 second"), Ref.update(ticks, (n) => n + 1))))
        )
      }
      const crashing: ControllerManager.Controller = {
        name: "cloud-node-controller",
        run: Effect.sleep("3 seconds").pipe(Effect.zipRight(Effect.die("bug")))
      }
      // The other shape: a setup that forks its loop into the Scope it is given and returns at once.
      const forkedTicks = yield* Ref.make(0)
      const forking: ControllerManager.Controller = {
        name: "cloud-node-lifecycle-controller",
        run: Effect.asVoid(
          Effect.forkScoped(Effect.forever(Effect.zipRight(
            Effect.sleep("1 second"),
            Ref.update(forkedTicks, (n) => n + 1)
          )))
        )
      }
      const manager = yield* Effect.fork(ControllerManager.run([steady, crashing, forking]))
      yield* TestClock.adjust("2 seconds")
      const healthyAll = yield* checks.runAll
      assert.deepStrictEqual(healthyAll.map((r) => [r.name, r.healthy]), [
        ["ping", true],
        ["service-lb-controller", true],
        ["cloud-node-controller", true],
        ["cloud-node-lifecycle-controller", true]
      ])
      yield* TestClock.adjust("3 seconds")
      const crashed = Option.getOrThrow(yield* checks.runOne("cloud-node-controller"))
      assert.isFalse(crashed.healthy)
      assert.deepStrictEqual(crashed.reason, Option.some("controller crashed"))
      assert.isTrue(Option.getOrThrow(yield* checks.runOne("service-lb-controller")).healthy)
      assert.strictEqual(yield* Ref.get(ticks), 5, "the other controller kept running")
      assert.strictEqual(yield* Ref.get(forkedTicks), 5, "the loop forked by a returning run keeps running")
      assert.isTrue(Option.getOrThrow(yield* checks.runOne("cloud-node-lifecycle-controller")).healthy)
      yield* Fiber.interrupt(manager)
      assert.isTrue(yield* Ref.get(stoppedCleanly))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Ref.get(forkedTicks), 5, "its loop stopped with the manager")
      assert.deepStrictEqual((yield* checks.runAll).map((r) => r.name), ["ping"])
    }).pipe(Effect.provide(HealthChecks.layer)))
})
