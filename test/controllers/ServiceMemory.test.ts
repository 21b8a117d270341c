import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { LbRuleId, NetworkId } from "../../src/cloudstack/Ids.js"
import * as ServiceMemory from "../../src/controllers/ServiceMemory.js"

describe("ServiceMemory", () => {
  it.effect("gives back what was remembered: signature, backends and the whole LB snapshot", () =>
    Effect.gen(function*() {
      const memory = yield* ServiceMemory.make
      const entry: ServiceMemory.Synced = {
        signature: "sig",
        backends: "digest",
        snapshot: Option.some({
          networkId: NetworkId.make("net-1"),
          networkName: "isolated1",
          rules: [{ id: LbRuleId.make("r1"), name: "a123-tcp-80" }, { id: LbRuleId.make("r2"), name: "a123-tcp-443" }],
          policies: true
        })
      }
      yield* memory.remember("default/web", entry)
      yield* memory.remember("default/api", { ...entry, snapshot: Option.none() })
      assert.deepStrictEqual(yield* memory.get("default/web"), entry)
      assert.deepStrictEqual(yield* memory.get("default/api"), { ...entry, snapshot: Option.none() })
      assert.isTrue(yield* memory.claimRepair("default/web"))
      assert.isFalse(yield* memory.claimRepair("default/web"))
      assert.isUndefined(yield* memory.get("default/web"))
      // A claim with a mark: only an entry remembered before it (a drift pass's stale listing otherwise).
      const mark = yield* memory.mark
      assert.isFalse(yield* memory.claimRepair("default/api", 1), "remembered second: after a mark of 1")
      yield* memory.remember("default/web", entry)
      assert.isFalse(yield* memory.claimRepair("default/web", mark), "remembered after the mark")
      assert.isTrue(yield* memory.claimRepair("default/api", mark))
      assert.isTrue(yield* memory.claimRepair("default/web", yield* memory.mark))
      yield* memory.markAudit("default/api")
      assert.isTrue(yield* memory.takeAudit("default/api"))
      assert.isFalse(yield* memory.takeAudit("default/api"))
    }))
})
