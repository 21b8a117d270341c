import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import { createLBStickinessPolicy, deleteLBHealthCheckPolicy } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { HealthCheckPolicyId, LbRuleId } from "../../../src/cloudstack/Ids.js"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import type { LbService } from "../../../src/provider/loadbalancer/LbSpec.js"
import { LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import {
  annotationStore,
  callsSince,
  countersNow,
  env,
  networkId,
  nodesFor,
  request,
  rulesOfUid,
  service,
  simState
} from "./LbTestEnv.js"

const policiesOf = (uid: string) =>
  Effect.gen(function*() {
    const rules = new Set((yield* rulesOfUid(uid)).map((r) => r.uuid))
    const s = yield* simState
    return {
      checks: s.healthChecks.filter((h) => rules.has(h.lbUuid)).map((h) =>
        `${h.pingpath} every ${h.interval}s timeout ${h.responsetime}s ${h.healthy}/${h.unhealthy} ${h.state}`
      ),
      sticky: s.stickiness.filter((p) => rules.has(p.lbUuid)).map((p) =>
        `${p.methodname}(${Object.entries(p.params).map(([k, v]) => `${k}=${v}`).sort().join(",")}) ${p.state}`
      )
    }
  })

/** A Service on the Netscaler-like network (health checks, UDP), by the network-id annotation. */
const onNetscaler = (overrides: Partial<LbService> = {}) =>
  Effect.map(networkId("isolated-ns"), (ns) => {
    const base = service(overrides)
    return { ...base, annotations: { [Annotations.NETWORK_ID]: ns, ...base.annotations } }
  })

describe("LoadBalancers: health checks", () => {
  it.effect("where the provider offers them: a default TCP check on every TCP rule, none on UDP; kept, replaced when the annotations change, deleted when turned off", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("ns-node-1", "ns-node-2")
      const store = yield* annotationStore()
      const svc = yield* onNetscaler({
        ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }, {
          name: "dns",
          protocol: "UDP",
          port: 53,
          nodePort: 30053
        }]
      })
      const created = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.deepStrictEqual(created.warnings, [])
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).checks, ["/ every 5s timeout 2s 2/1 Active"])

      // Unchanged: one more read per kept rule, nothing written.
      const mark = yield* countersNow
      yield* lbs.ensure(yield* request(svc, nodes, store))
      const resync = yield* callsSince(mark)
      assert.strictEqual(resync.mutating, 0)
      assert.strictEqual(resync.byCommand["listLBHealthCheckPolicies"], 2)
      assert.isUndefined(resync.byCommand["listLBStickinessPolicies"], "no stickiness wanted or applied: not read")

      const tuned = {
        ...svc,
        annotations: {
          ...svc.annotations,
          [Annotations.HEALTH_CHECK_PATH]: "/healthz",
          [Annotations.HEALTH_CHECK_INTERVAL]: "10",
          [Annotations.HEALTH_CHECK_TIMEOUT]: "3",
          [Annotations.HEALTH_CHECK_HEALTHY]: "3",
          [Annotations.HEALTH_CHECK_UNHEALTHY]: "2"
        }
      }
      const mark2 = yield* countersNow
      yield* lbs.ensure(yield* request(tuned, nodes, store))
      const changed = yield* callsSince(mark2)
      assert.strictEqual(changed.byCommand["deleteLBHealthCheckPolicy"], 1)
      assert.strictEqual(changed.byCommand["createLBHealthCheckPolicy"], 1)
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).checks, ["/healthz every 10s timeout 3s 3/2 Active"])

      const off = { ...tuned, annotations: { ...tuned.annotations, [Annotations.HEALTH_CHECK]: "false" } }
      yield* lbs.ensure(yield* request(off, nodes, store))
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).checks, [])
      const again = yield* countersNow
      yield* lbs.ensure(yield* request(off, nodes, store))
      assert.strictEqual((yield* callsSince(again)).mutating, 0)
    }).pipe(Effect.provide(env())))

  it.effect("a check deleted by hand comes back on the next ensure; a timeout longer than the interval is a Warning and no check", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("ns-node-1")
      const store = yield* annotationStore()
      const svc = yield* onNetscaler()
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const sim = yield* simState
      assert.strictEqual(sim.healthChecks.length, 1)
      // By hand: the policy is gone.
      const cs = yield* CloudStackClient
      yield* cs.run(deleteLBHealthCheckPolicy, { id: HealthCheckPolicyId.make(sim.healthChecks[0]!.uuid) })
      yield* lbs.ensure(yield* request(svc, nodes, store))
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).checks, ["/ every 5s timeout 2s 2/1 Active"])

      const bad = {
        ...svc,
        annotations: {
          ...svc.annotations,
          [Annotations.HEALTH_CHECK_INTERVAL]: "3",
          [Annotations.HEALTH_CHECK_TIMEOUT]: "4"
        }
      }
      const result = yield* lbs.ensure(yield* request(bad, nodes, store))
      assert.deepStrictEqual(result.warnings.map((w) => w.reason), ["InvalidAnnotation"])
      assert.match(result.warnings[0]!.message, /timeout \(4 s\) must not be longer than the interval \(3 s\)/)
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).checks, [])
    }).pipe(Effect.provide(env())))

  it.effect("on the virtual router: no policy, no call, one Warning naming the provider; without the annotations no Warning and no extra read", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const plain = service()
      const mark = yield* countersNow
      const quiet = yield* lbs.ensure(yield* request(plain, nodes, store, true))
      assert.deepStrictEqual(quiet.warnings, [])
      yield* lbs.ensure(yield* request(plain, nodes, store))
      const calls = yield* callsSince(mark)
      assert.isUndefined(calls.byCommand["listLBHealthCheckPolicies"])
      assert.isUndefined(calls.byCommand["createLBHealthCheckPolicy"])

      const store2 = yield* annotationStore()
      const asked = service({ annotations: { [Annotations.HEALTH_CHECK_PATH]: "/healthz" } })
      const result = yield* lbs.ensure(yield* request(asked, nodes, store2, true))
      assert.deepStrictEqual(result.warnings.map((w) => w.reason), ["HealthCheckUnsupported"])
      assert.match(result.warnings[0]!.message, /VirtualRouter provider of network isolated1 offers no health checks/)
      assert.strictEqual((yield* simState).healthChecks.length, 0)
    }).pipe(Effect.provide(env())))
})

describe("LoadBalancers: stickiness", () => {
  it.effect("created with the annotation (flags sent as flags), replaced in one call when it changes, deleted when it goes; the record says it is ours", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({
        annotations: {
          [Annotations.STICKY_METHOD]: "lbcookie",
          [Annotations.STICKY_PARAMS]: "cookie-name=srv, nocache"
        }
      })
      const result = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.deepStrictEqual(result.warnings, [])
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).sticky, ["LbCookie(cookie-name=srv,nocache=true) Active"])
      assert.strictEqual((yield* Ref.get(store.ref))[Annotations.STICKY_APPLIED], "true")

      const mark = yield* countersNow
      yield* lbs.ensure(yield* request(svc, nodes, store))
      assert.strictEqual((yield* callsSince(mark)).mutating, 0)

      const source = {
        ...svc,
        annotations: {
          [Annotations.STICKY_METHOD]: "SourceBased",
          [Annotations.STICKY_PARAMS]: "tablesize=200k,expire=30m"
        }
      }
      const mark2 = yield* countersNow
      yield* lbs.ensure(yield* request(source, nodes, store))
      const replaced = yield* callsSince(mark2)
      assert.strictEqual(replaced.byCommand["createLBStickinessPolicy"], 1)
      assert.isUndefined(replaced.byCommand["deleteLBStickinessPolicy"], "the new policy replaces the old one")
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).sticky, ["SourceBased(expire=30m,tablesize=200k) Active"])

      yield* lbs.ensure(yield* request({ ...svc, annotations: {} }, nodes, store))
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).sticky, [])
      assert.isUndefined((yield* Ref.get(store.ref))[Annotations.STICKY_APPLIED])
      // Nothing applied any more: stickiness is not even read.
      const mark3 = yield* countersNow
      yield* lbs.ensure(yield* request({ ...svc, annotations: {} }, nodes, store))
      assert.isUndefined((yield* callsSince(mark3)).byCommand["listLBStickinessPolicies"])
    }).pipe(Effect.provide(env())))

  it.effect("the Go PR's spelling is read; a policy somebody else put on the rule is left alone", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1")
      const store = yield* annotationStore()
      const svc = service({
        annotations: {
          [Annotations.STICKYNESS_METHOD]: "AppCookie",
          [Annotations.STICKYNESS_PARAM]: "cookie-name=JSESSIONID"
        }
      })
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).sticky, ["AppCookie(cookie-name=JSESSIONID) Active"])

      // Another Service whose rule got a policy from the user: never removed by this CCM.
      const store2 = yield* annotationStore()
      const other = service()
      yield* lbs.ensure(yield* request(other, nodes, store2, true))
      const cs = yield* CloudStackClient
      const [rule] = yield* rulesOfUid(other.uid)
      yield* cs.run(createLBStickinessPolicy, {
        lbRuleId: LbRuleId.make(rule!.uuid),
        name: "users",
        methodName: "SourceBased"
      })
      const mark = yield* countersNow
      yield* lbs.ensure(yield* request(other, nodes, store2))
      assert.strictEqual((yield* callsSince(mark)).mutating, 0)
      assert.deepStrictEqual((yield* policiesOf(other.uid)).sticky, ["SourceBased() Active"])
    }).pipe(Effect.provide(env())))

  it.effect("a method or parameter the provider does not offer is one Warning and no policy; an existing one of ours goes", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1")
      const store = yield* annotationStore()
      const svc = service({ annotations: { [Annotations.STICKY_METHOD]: "SourceBased" } })
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).sticky, ["SourceBased() Active"])
      const bad = {
        ...svc,
        annotations: { [Annotations.STICKY_METHOD]: "LbCookie", [Annotations.STICKY_PARAMS]: "max-age=3600" }
      }
      const result = yield* lbs.ensure(yield* request(bad, nodes, store))
      assert.deepStrictEqual(result.warnings.map((w) => w.reason), ["UnsupportedStickiness"])
      assert.match(
        result.warnings[0]!.message,
        /no parameter max-age \(it takes cookie-name, mode, nocache, indirect, postonly, domain\)/
      )
      assert.deepStrictEqual((yield* policiesOf(svc.uid)).sticky, [])
    }).pipe(Effect.provide(env())))
})
