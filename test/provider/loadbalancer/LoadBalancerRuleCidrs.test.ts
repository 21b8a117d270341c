import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import { LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import { annotationStore, env, nodesFor, request, rulesOfUid, service } from "./LbTestEnv.js"

describe("LoadBalancers: the rules' own cidrlist", () => {
  it.effect("removing source-cidrs clears the rule's list (recreated: an update cannot clear it), then nothing more", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({ annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8" } })
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const cleared = yield* lbs.ensure(yield* request({ ...svc, annotations: {} }, nodes, store))
      const [rule] = yield* rulesOfUid(svc.uid)
      assert.deepStrictEqual(rule?.cidrlist, [])
      assert.deepStrictEqual([...(rule?.members.keys() ?? [])].length, 2)
      assert.isAbove(cleared.mutations, 0)
      // before the fix, every ensure sent an updateLoadBalancerRule that changed nothing
      const again = yield* lbs.ensure(yield* request({ ...svc, annotations: {} }, nodes, store))
      assert.strictEqual(again.mutations, 0)
    }).pipe(Effect.provide(env())))
})
