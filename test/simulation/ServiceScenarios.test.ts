import { Clock, Effect, Option } from "effect"
import { assert, describe, it } from "vitest"
import { EXCLUDE_LABEL, FINALIZER } from "../../src/controllers/ServicePlan.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { newMeta } from "../../src/kubernetes/ObjectMeta.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { pass, runScoped } from "../fakes/Virtual.js"
import {
  allocated,
  cloud,
  counters,
  createService,
  env,
  eventsOf,
  registerNodes,
  rulesOf,
  serviceNamed,
  startController
} from "./ServiceScenariosEnv.js"

describe("service controller on the simulator and FakeKubernetes", () => {
  it("a LoadBalancer Service gets an IP, a rule with every node, a firewall rule, status and events; delete releases it", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2", "node-3")
      const before = yield* allocated
      yield* startController()
      const created = yield* createService({ name: "web" })
      yield* pass("3 seconds")

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
      const leaving = yield* nodes.get("node-3")
      yield* nodes.delete("node-3", leaving._tag === "Some" ? leaving.value.metadata.uid : "")
      yield* pass("3 seconds")
      assert.strictEqual((yield* rulesOf(created.metadata.uid))[0]?.members.size, 2)
      assert.include((yield* eventsOf("web")).map((e) => e.reason), "UpdatedLoadBalancer")

      // Delete: the finalizer holds the Service until everything is gone.
      yield* Effect.flatMap(ServiceApi, (api) => api.delete("default", "web"))
      yield* pass("3 seconds")
      assert.isUndefined(yield* serviceNamed("web"))
      assert.deepStrictEqual(yield* rulesOf(created.metadata.uid), [])
      assert.deepStrictEqual(yield* allocated, before)
      assert.includeMembers((yield* eventsOf("web")).map((e) => e.reason), [
        "DeletingLoadBalancer",
        "DeletedLoadBalancer"
      ])
    }).pipe(Effect.provide(env()), runScoped))

  it("a Service that stops being a LoadBalancer is torn down: IP released, record, status and finalizer removed", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      const before = yield* allocated
      yield* startController()
      const created = yield* createService({ name: "web" })
      yield* pass("3 seconds")
      assert.strictEqual((yield* rulesOf(created.metadata.uid)).length, 1)
      yield* Effect.flatMap(ServiceApi, (api) => api.update("default", "web", { type: "ClusterIP" }))
      yield* pass("3 seconds")
      const svc = yield* serviceNamed("web")
      assert.deepStrictEqual(svc?.metadata.finalizers, [])
      assert.deepStrictEqual(svc?.status.loadBalancer.ingress, [])
      assert.isUndefined(svc?.metadata.annotations[Annotations.IP_ID])
      assert.deepStrictEqual(yield* rulesOf(created.metadata.uid), [])
      assert.deepStrictEqual(yield* allocated, before)
    }).pipe(Effect.provide(env()), runScoped))

  it("a Service with a loadBalancerClass is someone else's: no finalizer, no CloudStack call", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      yield* startController()
      const mark = yield* counters
      yield* createService({ name: "other", loadBalancerClass: "example.com/other-lb" })
      yield* pass("3 seconds")
      assert.deepStrictEqual((yield* serviceNamed("other"))?.metadata.finalizers, [])
      assert.deepStrictEqual(yield* counters, mark)
    }).pipe(Effect.provide(env()), runScoped))

  it("the finalizer goes on before any cloud call: while it cannot be written, CloudStack is not called", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      const fake = yield* FakeKubernetes.FakeKubernetes
      yield* startController()
      yield* pass("500 millis")
      const mark = yield* counters
      yield* fake.failNext({ verb: "patch", resource: "services", reason: "Unavailable", times: 3 })
      yield* createService({ name: "web" })
      yield* pass("2 seconds")
      assert.deepStrictEqual(yield* counters, mark, "no CloudStack call without the finalizer")
      assert.include((yield* eventsOf("web")).map((e) => e.reason), "SyncLoadBalancerFailed")
      // after the backoff the finalizer and the LB come
      yield* pass("60 seconds")
      const svc = yield* serviceNamed("web")
      assert.deepStrictEqual(svc?.metadata.finalizers, [FINALIZER])
      assert.strictEqual(svc?.status.loadBalancer.ingress.length, 1)
    }).pipe(Effect.provide(env()), runScoped))

  it("node changes: heartbeats cost nothing; the exclusion label, the autoscaler's taint and a joining node change members", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      const fake = yield* FakeKubernetes.FakeKubernetes
      const nodes = yield* NodeApi
      yield* startController()
      const created = yield* createService({ name: "web" })
      yield* pass("3 seconds")
      const members = Effect.map(rulesOf(created.metadata.uid), (rs) => rs[0]?.members.size)
      assert.strictEqual(yield* members, 2)

      let mark = yield* counters
      yield* fake.setNodeReady("node-1", "True")
      yield* fake.setNodeReady("node-2", "True")
      yield* pass("2 seconds")
      assert.deepStrictEqual(yield* counters, mark, "a heartbeat triggers nothing")

      const relabel = (name: string, labels: Record<string, string | null>) =>
        Effect.flatMap(
          nodes.get(name),
          (n) =>
            n._tag === "Some"
              ? nodes.update({ name, resourceVersion: n.value.metadata.resourceVersion, labels })
              : Effect.dieMessage("no node")
        )
      yield* relabel("node-2", { [EXCLUDE_LABEL]: "" })
      yield* pass("2 seconds")
      assert.strictEqual(yield* members, 1, "kubeadm's empty exclusion label excludes")
      yield* relabel("node-2", { [EXCLUDE_LABEL]: "false" })
      yield* pass("2 seconds")
      assert.strictEqual(yield* members, 2, "exclusion label false includes")

      mark = yield* counters
      yield* registerNodes("node-3")
      yield* pass("2 seconds")
      assert.strictEqual(yield* members, 3)
      const joined = yield* counters
      const delta = [...joined].reduce((a, [c, n]) => a + n - (mark.get(c) ?? 0), 0)
      // one listing of the rule's members, the assignment and its job (the Go CCM: 5, plus 8 per node for the init)
      assert.isAtMost(delta, 4)

      const n2 = yield* nodes.get("node-2")
      if (n2._tag === "Some") {
        yield* nodes.update({
          name: "node-2",
          resourceVersion: n2.value.metadata.resourceVersion,
          taints: [{ key: "ToBeDeletedByClusterAutoscaler", value: "1", effect: "NoSchedule" }]
        })
      }
      yield* pass("2 seconds")
      assert.strictEqual(yield* members, 2, "a node being scaled down leaves")
    }).pipe(Effect.provide(env()), runScoped))

  it("externalTrafficPolicy Local: members are the nodes with a ready endpoint, following EndpointSlice changes", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2", "node-3")
      const fake = yield* FakeKubernetes.FakeKubernetes
      const slice = (ready: ReadonlyArray<string>) =>
        fake.putEndpointSlice({
          metadata: {
            ...newMeta({ name: "web-abc", namespace: "default", labels: { "kubernetes.io/service-name": "web" } })
          },
          endpoints: ["node-1", "node-2", "node-3"].map((nodeName) => ({ nodeName, ready: ready.includes(nodeName) }))
        })
      yield* slice(["node-1"])
      yield* startController()
      const created = yield* createService({ name: "web", externalTrafficPolicy: "Local" })
      yield* pass("3 seconds")
      const members = Effect.map(rulesOf(created.metadata.uid), (rs) => rs[0]?.members.size)
      assert.strictEqual(yield* members, 1)
      yield* slice(["node-1", "node-3"])
      yield* pass("2 seconds")
      assert.strictEqual(yield* members, 2)
    }).pipe(Effect.provide(env()), runScoped))

  it("status: ipMode Proxy with PROXY protocol, a hostname-only ingress with the hostname annotation", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      yield* startController()
      yield* createService({ name: "proxied", annotations: { [Annotations.PROXY_PROTOCOL]: "true" } })
      yield* createService({
        name: "named",
        annotations: { [Annotations.HOSTNAME]: "lb.example.com" },
        ports: [{ name: "https", port: 443 }]
      })
      yield* pass("3 seconds")
      const proxied = (yield* serviceNamed("proxied"))?.status.loadBalancer.ingress
      assert.strictEqual(proxied?.[0]?.ipMode, "Proxy")
      assert.deepStrictEqual((yield* serviceNamed("named"))?.status.loadBalancer.ingress, [{
        hostname: "lb.example.com"
      }])
    }).pipe(Effect.provide(env()), runScoped))

  it("a user error is one Warning Event and a capped backoff, never a hot loop, and never delays another Service", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      yield* startController()
      const mark = yield* counters
      yield* createService({ name: "bad", annotations: { [Annotations.PROXY_PROTOCOL]: "enabled" } })
      yield* createService({ name: "dns", ports: [{ name: "dns", port: 53, protocol: "UDP" }] })
      yield* createService({ name: "good" })
      yield* pass("2 seconds")
      assert.strictEqual((yield* serviceNamed("good"))?.status.loadBalancer.ingress.length, 1)
      // ten minutes later: past the retry at 615 s (5 s doubling to 300 s: 0, 5, 15, ... 315, 615), so
      // the Event spans ten minutes of retries (on the TestClock a ticker fiber moved the clock further)
      yield* pass("620 seconds")
      const bad = (yield* eventsOf("bad")).filter((e) => e.reason === "InvalidAnnotation")
      assert.strictEqual(bad.length, 1, "one Event, aggregated")
      // 5 s doubling to 300 s: the attempts that fit between the first and the last Event, no more.
      const elapsed = (Date.parse(bad[0]?.lastTimestamp ?? "") - Date.parse(bad[0]?.firstTimestamp ?? "")) / 1000
      let allowed = 1
      for (let t = 0, delay = 5; t + delay <= elapsed; t += delay, delay = Math.min(delay * 2, 300)) allowed++
      assert.isAtLeast(elapsed, 600)
      assert.isAtMost(bad[0]?.count ?? 0, allowed, `${elapsed} s`)
      assert.isAtLeast(bad[0]?.count ?? 0, allowed - 1, `${elapsed} s: retried all along`)
      assert.match(bad[0]?.message ?? "", /proxy-protocol: "enabled" is not valid/)
      const udp = (yield* eventsOf("dns")).filter((e) => e.reason === "UnsupportedProtocol")
      assert.strictEqual(udp.length, 1)
      const now = yield* counters
      const associated = (now.get("associateIpAddress") ?? 0) - (mark.get("associateIpAddress") ?? 0)
      assert.strictEqual(associated, 2, "one IP for good, one for the first UDP try (released): no IP churn on retries")
      assert.strictEqual((now.get("createLoadBalancerRule") ?? 0) - (mark.get("createLoadBalancerRule") ?? 0), 2)
    }).pipe(Effect.provide(env()), runScoped))

  it("a finalizer removed by hand while CloudStack is down: the vanished Service's LB is still cleaned up, once", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      const before = yield* allocated
      const simulator = yield* CloudStackSimulator
      yield* startController()
      const created = yield* createService({ name: "web" })
      yield* pass("3 seconds")
      assert.strictEqual((yield* rulesOf(created.metadata.uid)).length, 1)
      const now = yield* Clock.currentTimeMillis
      yield* simulator.setFaults({ apiDown: Option.some({ from: now, until: now + 60_000, mode: "unavailable" }) })
      const api = yield* ServiceApi
      yield* api.delete("default", "web")
      yield* pass("2 seconds")
      assert.isDefined(yield* serviceNamed("web"), "held by the finalizer while the cleanup fails")
      yield* api.setFinalizer("default", "web", FINALIZER, false)
      assert.isUndefined(yield* serviceNamed("web"))
      yield* pass("120 seconds")
      assert.deepStrictEqual(yield* rulesOf(created.metadata.uid), [])
      assert.deepStrictEqual(yield* allocated, before)
      const deleted = (yield* eventsOf("web")).filter((e) => e.reason === "DeletedLoadBalancer")
      assert.strictEqual(deleted.reduce((n, e) => n + e.count, 0), 1)
    }).pipe(Effect.provide(env()), runScoped))

  it("a normal delete cleans up exactly once (no second pass when the Service goes)", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      yield* startController()
      yield* createService({ name: "web" })
      yield* pass("3 seconds")
      yield* Effect.flatMap(ServiceApi, (api) => api.delete("default", "web"))
      yield* pass("3 seconds")
      const reasons = (yield* eventsOf("web")).filter((e) =>
        e.reason.endsWith("LoadBalancer") && e.reason.startsWith("Delet")
      )
      assert.deepStrictEqual(reasons.map((e) => [e.reason, e.count]).sort(), [["DeletedLoadBalancer", 1], [
        "DeletingLoadBalancer",
        1
      ]])
    }).pipe(Effect.provide(env()), runScoped))
})
