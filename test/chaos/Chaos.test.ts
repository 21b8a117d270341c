/**
 * A few chaos seeds in `npm test` (smaller than `npm run chaos`: fewer Services, shorter churn), and
 * the suite's own promise: a seed replays exactly. The full run is `npm run chaos -- --seeds 100`.
 */
import { assert, describe, it } from "@effect/vitest"
import { runSeed } from "./ChaosRun.js"

const SMALL = { services: 30, churnMinutes: 5, settleMinutes: 30 } as const
const report = (seed: number, violations: ReadonlyArray<{ readonly invariant: string; readonly message: string }>) =>
  violations.map((v) => `[${v.invariant}] ${v.message}`).join("\n") +
  `\nreplay: npm run chaos -- --seed ${seed} --services ${SMALL.services} --churn ${SMALL.churnMinutes} --settle ${SMALL.settleMinutes}`

describe("chaos suite (seeded, on virtual time)", () => {
  for (const seed of [1, 2]) {
    it(
      `seed ${seed}: every Service converges, nothing leaks, is duplicated or foreign-touched, no Node of a live VM deleted`,
      async () => {
        const result = await runSeed({ seed, ...SMALL })
        assert.isAbove(result.stats.mutations, 100, "the run did something")
        assert.isAbove(result.stats.kills + result.stats.pauses, 0, "processes were killed or paused")
        assert.deepStrictEqual(result.violations, [], report(seed, result.violations))
      },
      180_000
    )
  }

  it("a seed replays exactly: the same calls, the same final world", async () => {
    const options = { seed: 7, services: 10, churnMinutes: 3, settleMinutes: 15 }
    const a = await runSeed(options)
    const b = await runSeed(options)
    assert.strictEqual(a.fingerprint, b.fingerprint)
    assert.deepStrictEqual(a.stats, b.stats)
    assert.notStrictEqual(
      (await runSeed({ ...options, seed: 8 })).fingerprint,
      a.fingerprint,
      "another seed is another run"
    )
  }, 180_000)
})
