/** The library's defaults are the command line's: a CCM started from code behaves as one started with no flags. */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { parse } from "../../src/cli/RunFlags.js"
import { defaults } from "../../src/runtime/CcmSettings.js"

describe("CcmSettings", () => {
  it("defaults equal the run flags' defaults, setting by setting", () => {
    const parsed = parse(["--cloud-config=/etc/cloud-config"])
    if (Either.isLeft(parsed)) return assert.fail(parsed.left.message)
    // What only the command line decides; the rest is the CCM's settings.
    const {
      cloudConfig,
      concurrentNodeStatusUpdates,
      kubeApiBurst,
      kubeApiQps,
      kubeconfig,
      master,
      minResyncPeriod,
      verbosity,
      ...settings
    } = parsed.right.flags
    assert.deepStrictEqual(settings, defaults)
  })
})
