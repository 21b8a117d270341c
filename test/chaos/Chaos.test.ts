/**
 * A few chaos seeds in `npm test` (smaller than `npm run chaos`: fewer Services, shorter churn), and
 * the suite's own promise: a seed replays exactly. The full run is `npm run chaos -- --seeds 100`.
 */
import { assert, describe, it } from "@effect/vitest"
import { runSeed } from "./ChaosRun.js"

const SMALL = { services: 40, churnMinutes: 6, settleMinutes: 30 } as const
const report = (seed: number, violations: ReadonlyArray<{ readonly invariant: string; readonly message: string }>) =>
  violations.map((v) => `[${v.invariant}] ${v.message}`).join("\n") +
  `\nreplay: npm run chaos -- --seed ${seed} --services ${SMALL.services} --churn ${SMALL.churnMinutes} --settle ${SMALL.settleMinutes}`

describe("chaos suite (seeded, on virtual time)", () => {
  for (const seed of [1, 2]) {
    it(`seed ${seed}: every Service converges, nothing leaks, is duplicated or foreign-touched, no Node of a live VM deleted`, () => {
      const result = runSeed({ seed, ...SMALL })
      assert.isAbove(result.stats.mutations, 100, "the run did something")
      assert.isAbove(result.stats.kills + result.stats.pauses, 0, "processes were killed or paused")
      assert.deepStrictEqual(result.violations, [], report(seed, result.violations))
    })
  }

  it("a seed replays exactly: the same calls, the same final world", () => {
    const options = { seed: 7, services: 15, churnMinutes: 4, settleMinutes: 20 }
    const a = runSeed(options)
    const b = runSeed(options)
    assert.strictEqual(a.fingerprint, b.fingerprint)
    assert.deepStrictEqual(a.stats, b.stats)
    assert.notStrictEqual(runSeed({ ...options, seed: 8 }).fingerprint, a.fingerprint, "another seed is another run")
  })
})
