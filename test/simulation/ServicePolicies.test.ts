import { Effect } from "effect"
import { assert, describe, it } from "vitest"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { deleteLBHealthCheckPolicy } from "../../src/cloudstack/commands/LoadBalancers.js"
import { HealthCheckPolicyId } from "../../src/cloudstack/Ids.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"
import { pass, runScoped } from "../fakes/Virtual.js"
import {
  cloud,
  createService,
  env,
  eventsOf,
  registerNodes,
  rulesOf,
  serviceNamed,
  startController
} from "./ServiceScenariosEnv.js"

const policiesOf = (uid: string) =>
  Effect.gen(function*() {
    const rules = new Set((yield* rulesOf(uid)).map((r) => r.uuid))
    const s = yield* cloud
    return {
      checks: s.healthChecks.filter((h) => rules.has(h.lbUuid)).map((h) =>
        `${h.pingpath} ${h.interval}/${h.responsetime}`
      ),
      sticky: s.stickiness.filter((p) => rules.has(p.lbUuid)).map((p) => p.methodname)
    }
  })

const warnings = (name: string, reason: string) =>
  Effect.map(eventsOf(name), (events) => events.filter((e) => e.type === "Warning" && e.reason === reason))

describe("service controller: stickiness and health-check policies", () => {
  it("on the virtual router a health-check annotation is one Warning, once: not again on node changes or drift passes", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      yield* startController({ resyncPeriod: "1 minute" })
      yield* createService({ name: "web", annotations: { [Annotations.HEALTH_CHECK_PATH]: "/healthz" } })
      yield* pass("3 seconds")
      const first = yield* warnings("web", "HealthCheckUnsupported")
      assert.strictEqual(first.length, 1)
      assert.strictEqual(first[0]?.count, 1)
      assert.match(first[0]?.message ?? "", /offers no health checks/)
      assert.isNotEmpty(
        (yield* serviceNamed("web"))?.status.loadBalancer.ingress ?? [],
        "the LB works without the check"
      )

      yield* registerNodes("node-3")
      yield* pass("30 seconds")
      // Three drift passes and member audits later.
      yield* pass("200 seconds")
      const later = yield* warnings("web", "HealthCheckUnsupported")
      assert.strictEqual(later.length, 1)
      assert.strictEqual(later[0]?.count, 1)
      assert.strictEqual((yield* cloud).healthChecks.length, 0)
    }).pipe(Effect.provide(env()), runScoped))

  it("on the Netscaler-like network: the default check at once; stickiness follows the annotation, set, changed, removed", () =>
    Effect.gen(function*() {
      yield* registerNodes("ns-node-1", "ns-node-2")
      yield* startController()
      const ns = (yield* cloud).networks.find((n) => n.name === "isolated-ns")?.uuid ?? ""
      const created = yield* createService({ name: "web", annotations: { [Annotations.NETWORK_ID]: ns } })
      yield* pass("3 seconds")
      assert.deepStrictEqual(yield* policiesOf(created.metadata.uid), { checks: ["/ 5/2"], sticky: [] })

      const api = yield* ServiceApi
      yield* api.patchAnnotations("default", "web", { [Annotations.STICKY_METHOD]: "SourceBased" })
      yield* pass("3 seconds")
      assert.deepStrictEqual((yield* policiesOf(created.metadata.uid)).sticky, ["SourceBased"])
      assert.strictEqual((yield* serviceNamed("web"))?.metadata.annotations[Annotations.STICKY_APPLIED], "true")

      yield* api.patchAnnotations("default", "web", {
        [Annotations.STICKY_METHOD]: "LbCookie",
        [Annotations.HEALTH_CHECK_INTERVAL]: "10"
      })
      yield* pass("3 seconds")
      assert.deepStrictEqual(yield* policiesOf(created.metadata.uid), { checks: ["/ 10/2"], sticky: ["LbCookie"] })

      yield* api.patchAnnotations("default", "web", { [Annotations.STICKY_METHOD]: null })
      yield* pass("3 seconds")
      assert.deepStrictEqual((yield* policiesOf(created.metadata.uid)).sticky, [])
      assert.isUndefined((yield* serviceNamed("web"))?.metadata.annotations[Annotations.STICKY_APPLIED])
      assert.deepStrictEqual(yield* warnings("web", "SyncLoadBalancerFailed"), [])

      // Delete: the rules' policies go with the rules.
      yield* api.delete("default", "web")
      yield* pass("3 seconds")
      const s = yield* cloud
      assert.deepStrictEqual([s.healthChecks.length, s.stickiness.length], [0, 0])
    }).pipe(Effect.provide(env()), runScoped))

  it("a health check gone from under a converged LB comes back at its member audit; quiet audits send no Events", () =>
    Effect.gen(function*() {
      yield* registerNodes("ns-node-1", "ns-node-2")
      yield* startController({ resyncPeriod: "1 minute" })
      const ns = (yield* cloud).networks.find((n) => n.name === "isolated-ns")?.uuid ?? ""
      const created = yield* createService({ name: "web", annotations: { [Annotations.NETWORK_ID]: ns } })
      yield* pass("3 seconds")
      assert.deepStrictEqual((yield* policiesOf(created.metadata.uid)).checks, ["/ 5/2"])
      const ensuring = (yield* eventsOf("web")).filter((e) => e.reason === "EnsuringLoadBalancer")
      // Two periods with nothing changed: each audit reads the policies, changes nothing, says nothing.
      yield* pass("150 seconds")
      assert.deepStrictEqual(
        (yield* eventsOf("web")).filter((e) => e.reason === "EnsuringLoadBalancer"),
        ensuring
      )

      // Deleted by hand (as a create job that fails after its policy was listed leaves it: gone).
      const check = (yield* cloud).healthChecks[0]?.uuid ?? ""
      yield* Effect.flatMap(
        CloudStackClient,
        (cs) => cs.run(deleteLBHealthCheckPolicy, { id: HealthCheckPolicyId.make(check) })
      )
      assert.deepStrictEqual((yield* policiesOf(created.metadata.uid)).checks, [])
      yield* pass("70 seconds")
      assert.deepStrictEqual((yield* policiesOf(created.metadata.uid)).checks, ["/ 5/2"])
      const text = yield* Effect.flatMap(Metrics.Metrics, Metrics.render)
      assert.include(text, `cloudstack_ccm_lb_drift_repaired_total{kind="policy"} 1`)
    }).pipe(Effect.provide(env()), runScoped))
})
