import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref, TestClock } from "effect"
import { simulate } from "../../src/cli/SimulateCommand.js"

/** Runs the demo in-process on the TestClock, driving time until it finishes; returns its output. */
const run = (nodes: number, seed: number) =>
  Effect.gen(function*() {
    const out = yield* Ref.make<ReadonlyArray<string>>([])
    const fiber = yield* Effect.fork(simulate({
      seed,
      nodes,
      duration: Duration.seconds(6),
      providerName: "cloudstack",
      verbose: false,
      output: (text) => Ref.update(out, (lines) => [...lines, ...text.split("\n")])
    }))
    for (let i = 0; i < 600 && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust("100 millis")
      yield* Effect.repeatN(Effect.yieldNow(), 30)
    }
    yield* Fiber.join(fiber)
    return yield* Ref.get(out)
  })

describe("cloudstack-ccm simulate (npm start)", () => {
  it.effect("nodes get initialised, one gets the shutdown taint, one is deleted; ends with the table", () =>
    Effect.gen(function*() {
      const lines = yield* run(8, 1)
      const text = lines.join("\n")
      assert.strictEqual(lines.filter((l) => l.includes("registered by kubelet")).length, 8)
      assert.strictEqual(lines.filter((l) => l.includes("initialised: cloudstack:///")).length, 8)
      assert.include(text, "VM stopped: shutdown taint added")
      assert.include(text, "deleted: its VM no longer exists")
      const header = lines.findIndex((l) => l.startsWith("NODE") && l.includes("PROVIDER ID") && l.includes("ADDRESSES"))
      assert.isAtLeast(header, 0)
      const rows = lines.slice(header + 2).filter((l) => l.includes("cloudstack:///"))
      assert.strictEqual(rows.length, 7)
      assert.strictEqual(rows.filter((r) => r.includes("shutdown")).length, 1)
      assert.include(text, "Events: Synced 8, DeletingNode 1")
    }))

  it.effect("the same seed gives the same run; more nodes than the demo world deploys VMs", () =>
    Effect.gen(function*() {
      const a = (yield* run(3, 7)).filter((l) => l.includes("registered by kubelet")).map((l) => l.slice(8))
      const b = (yield* run(3, 7)).filter((l) => l.includes("registered by kubelet")).map((l) => l.slice(8))
      assert.deepStrictEqual(a, b)
      const big = yield* run(16, 2)
      assert.strictEqual(big.filter((l) => l.includes("initialised:")).length, 16)
      assert.include(big.join("\n"), "deployVirtualMachine 4")
    }))
})
