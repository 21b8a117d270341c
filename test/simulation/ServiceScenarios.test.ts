import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { FINALIZER } from "../../src/controllers/ServicePlan.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"
import {
  allocated,
  cloud,
  createService,
  env,
  eventsOf,
  keepClockRunning,
  registerNodes,
  rulesOf,
  serviceNamed,
  settle,
  startController
} from "./ServiceScenariosEnv.js"

describe("service controller on the simulator and FakeKubernetes", () => {
  it.scoped("a LoadBalancer Service gets an IP, a rule with every node, a firewall rule, status and events; delete releases it", () =>
    Effect.gen(function*() {
      yield* keepClockRunning
      yield* registerNodes("node-1", "node-2", "node-3")
      const before = yield* allocated
      yield* startController()
      const created = yield* createService({ name: "web" })
      yield* settle()

      const svc = yield* serviceNamed("web")
      assert.deepStrictEqual(svc?.metadata.finalizers, [FINALIZER])
      const ingress = svc?.status.loadBalancer.ingress ?? []
      assert.strictEqual(ingress.length, 1)
      assert.strictEqual(ingress[0]?.ipMode, "VIP")
      const rules = yield* rulesOf(created.metadata.uid)
      assert.strictEqual(rules.length, 1)
      assert.strictEqual(rules[0]?.members.size, 3)
      assert.strictEqual(rules[0]?.privatePort, created.spec.ports[0]?.nodePort)
      const state = yield* cloud
      const ip = state.publicIps.find((i) => i.uuid === rules[0]?.ipUuid)
      assert.strictEqual(ip?.address, ingress[0]?.ip)
      assert.strictEqual(svc?.metadata.annotations[Annotations.IP_ID], ip?.uuid)
      assert.strictEqual(svc?.metadata.annotations[Annotations.IP_ASSOCIATED], "true")
      assert.deepStrictEqual(
        state.firewallRules.filter((f) => f.ipUuid === ip?.uuid).map((f) => [f.protocol, f.startport, f.cidrlist]),
        [["tcp", 80, ["0.0.0.0/0"]]]
      )
      const reasons = (yield* eventsOf("web")).map((e) => e.reason)
      assert.includeMembers(reasons, ["EnsuringLoadBalancer", "EnsuredLoadBalancer"])

      // A node leaves: only members change.
      const nodes = yield* NodeApi
      const leaving = (yield* nodes.get("node-3"))
      yield* nodes.delete("node-3", leaving._tag === "Some" ? leaving.value.metadata.uid : "")
      yield* settle()
      assert.strictEqual((yield* rulesOf(created.metadata.uid))[0]?.members.size, 2)
      assert.include((yield* eventsOf("web")).map((e) => e.reason), "UpdatedLoadBalancer")

      // Delete: the finalizer holds the Service until everything is gone.
      yield* Effect.flatMap(ServiceApi, (api) => api.delete("default", "web"))
      yield* settle()
      assert.isUndefined(yield* serviceNamed("web"))
      assert.deepStrictEqual(yield* rulesOf(created.metadata.uid), [])
      assert.deepStrictEqual(yield* allocated, before)
      assert.includeMembers((yield* eventsOf("web")).map((e) => e.reason), ["DeletingLoadBalancer", "DeletedLoadBalancer"])
    }).pipe(Effect.provide(env())))
})
