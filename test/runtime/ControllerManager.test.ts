import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Ref, TestClock } from "effect"
import * as ControllerManager from "../../src/runtime/ControllerManager.js"
import * as HealthChecks from "../../src/runtime/HealthChecks.js"

describe("ControllerManager", () => {
  it.effect("runs every controller, a crash marks only its own check unhealthy, interruption stops the rest and removes their checks", () =>
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
      const manager = yield* Effect.fork(ControllerManager.run([steady, crashing]))
      yield* TestClock.adjust("2 seconds")
      const healthyBoth = yield* checks.runAll
      assert.deepStrictEqual(healthyBoth.map((r) => [r.name, r.healthy]), [["ping", true], ["service-lb-controller", true], ["cloud-node-controller", true]])
      yield* TestClock.adjust("3 seconds")
      const crashed = Option.getOrThrow(yield* checks.runOne("cloud-node-controller"))
      assert.isFalse(crashed.healthy)
      assert.deepStrictEqual(crashed.reason, Option.some("controller crashed"))
      assert.isTrue(Option.getOrThrow(yield* checks.runOne("service-lb-controller")).healthy)
      assert.strictEqual(yield* Ref.get(ticks), 5, "the other controller kept running")
      yield* Fiber.interrupt(manager)
      assert.isTrue(yield* Ref.get(stoppedCleanly))
      assert.deepStrictEqual((yield* checks.runAll).map((r) => r.name), ["ping"])
    }).pipe(Effect.provide(HealthChecks.layer)))
})
