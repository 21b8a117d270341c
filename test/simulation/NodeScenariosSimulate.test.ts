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
  it.effect("nodes report Ready and get initialised; the stopped VM's node is tainted, then untainted once started; the destroyed one is deleted", () =>
    Effect.gen(function*() {
      const lines = yield* run(8, 1)
      const text = lines.join("\n")
      assert.strictEqual(lines.filter((l) => l.includes("registered by kubelet")).length, 8)
      assert.strictEqual(lines.filter((l) => l.includes("kubelet reports Ready")).length, 8)
      assert.strictEqual(lines.filter((l) => l.includes("initialised: cloudstack:///")).length, 8)
      // The story, in order: stopped -> NotReady -> shutdown taint; started -> Ready -> taint removed; destroyed -> deleted.
      const story = [
        "CloudStack: stopping VM",
        "NotReady: kubelet stopped posting status",
        "VM stopped: shutdown taint added",
        "CloudStack: starting VM",
        "Ready again: kubelet posts status",
        "shutdown taint removed",
        "CloudStack: destroying VM",
        "NotReady: kubelet stopped posting status",
        "deleted: its VM no longer exists"
      ]
      const at = story.reduce<ReadonlyArray<number>>((found, step) => {
        const index = lines.findIndex((l, i) => i > (found.at(-1) ?? -1) && l.includes(step))
        assert.isAtLeast(index, 0, `"${step}" after "${story[found.length - 1] ?? "start"}"`)
        return [...found, index]
      }, [])
      assert.strictEqual(at.length, story.length)
      // The same node goes down and comes back.
      const stoppedNode = lines[at[1]!]?.slice(8, 37).trim()
      assert.strictEqual(lines[at[5]!]?.slice(8, 37).trim(), stoppedNode)
      const header = lines.findIndex((l) => l.startsWith("NODE") && l.includes("STATUS") && l.includes("PROVIDER ID"))
      assert.isAtLeast(header, 0)
      const rows = lines.slice(header + 2).filter((l) => l.includes("cloudstack:///"))
      assert.strictEqual(rows.length, 7)
      // A real cluster's steady state: every node Ready, no taint left (no not-ready, no shutdown).
      for (const row of rows) assert.match(row, /^\S+\s+Ready\s.*\s-$/, row)
      assert.include(text, "startVirtualMachine 1")
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
