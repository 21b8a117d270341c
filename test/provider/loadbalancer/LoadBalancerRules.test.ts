import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option, Schema } from "effect"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import { LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import { World } from "../../../src/simulation/cloudstack/World.js"
import {
  annotationStore,
  callsSince,
  countersNow,
  env,
  inventory,
  networkId,
  nodesFor,
  request,
  rulesOfUid,
  service,
  simState
} from "./LbTestEnv.js"

const fwOf = (ipUuid: string) =>
  Effect.map(
    simState,
    (s) =>
      s.firewallRules.filter((f) => f.ipUuid === ipUuid).map((f) =>
        `${f.protocol}/${f.startport}<${f.cidrlist.join(",")}`
      ).sort()
  )

describe("LoadBalancers: rules, protocols, algorithms and sources", () => {
  it.effect("one rule and one firewall rule per port; a changed port replaces only its own rule", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({
        ports: [
          { name: "http", protocol: "TCP", port: 80, nodePort: 30080 },
          { name: "https", protocol: "TCP", port: 443, nodePort: 30443 }
        ]
      })
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const rules = yield* rulesOfUid(svc.uid)
      assert.deepStrictEqual(rules.map((r) => [r.name.slice(33), r.publicPort, r.privatePort]).sort(), [[
        "tcp-443",
        443,
        30443
      ], ["tcp-80", 80, 30080]])
      const ip = rules[0]!.ipUuid
      assert.deepStrictEqual(yield* fwOf(ip), ["tcp/443<0.0.0.0/0", "tcp/80<0.0.0.0/0"])
      const http = rules.find((r) => r.publicPort === 80)!

      const moved = {
        ...svc,
        ports: [svc.ports[0]!, { name: "https", protocol: "TCP" as const, port: 8443, nodePort: 30443 }]
      }
      const result = yield* lbs.ensure(yield* request(moved, nodes, store))
      const after = yield* rulesOfUid(svc.uid)
      assert.deepStrictEqual(after.map((r) => r.publicPort).sort(), [80, 8443])
      assert.strictEqual(after.find((r) => r.publicPort === 80)?.uuid, http.uuid, "the unchanged port's rule is kept")
      assert.deepStrictEqual(yield* fwOf(ip), ["tcp/80<0.0.0.0/0", "tcp/8443<0.0.0.0/0"])
      // create rule + assign + create firewall, delete firewall + delete rule, tag the new rule and firewall rule
      assert.strictEqual(result.mutations, 7)
    }).pipe(Effect.provide(env())))

  it.effect("TCP → PROXY protocol on the same port: the old rule goes before the new one (no 537), the firewall rule stays", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service()
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const ip = (yield* rulesOfUid(svc.uid))[0]!.ipUuid
      const fwBefore = yield* Effect.map(
        simState,
        (s) => s.firewallRules.filter((f) => f.ipUuid === ip).map((f) => f.uuid)
      )
      const proxied = { ...svc, annotations: { [Annotations.PROXY_PROTOCOL]: "true" } }
      const result = yield* lbs.ensure(yield* request(proxied, nodes, store))
      const rules = yield* rulesOfUid(svc.uid)
      assert.deepStrictEqual(rules.map((r) => [r.name.slice(33), r.protocol, r.members.size]), [[
        "tcp-proxy-80",
        "tcp-proxy",
        2
      ]])
      assert.deepStrictEqual(
        yield* Effect.map(simState, (s) => s.firewallRules.filter((f) => f.ipUuid === ip).map((f) => f.uuid)),
        fwBefore
      )
      assert.isTrue(result.spec.proxyProtocol)
    }).pipe(Effect.provide(env())))

  it.effect("UDP on the virtual router: refused once (431), a Warning, the IP released; the next ensure neither associates nor retries the rule", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      // A TCP LB first: the network's profile and the VM listing are known (the steady state).
      yield* lbs.ensure(yield* request(service(), nodes, yield* annotationStore(), true))
      const before = yield* inventory
      const svc = service({ ports: [{ name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }] })
      const mark = yield* countersNow
      const first = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const calls = yield* callsSince(mark)
      assert.isTrue(Option.isNone(first.address))
      assert.deepStrictEqual(first.warnings.map((w) => w.reason), ["UnsupportedProtocol"])
      assert.match(first.warnings[0]!.message, /refuses udp rules/)
      assert.deepStrictEqual(yield* inventory, before, "nothing kept: the IP associated for nothing is released")
      // pick, associate, the refused rule, a look at what is left (on the IP, and the Service's rules by
      // name: a port lacks its rule), release (the Go CCM: 8 every attempt)
      assert.deepStrictEqual(calls.byCommand, {
        listPublicIpAddresses: 2,
        associateIpAddress: 1,
        createLoadBalancerRule: 1,
        listLoadBalancerRules: 2,
        disassociateIpAddress: 1,
        queryAsyncJobResult: 2
      })
      const mark2 = yield* countersNow
      const second = yield* lbs.ensure(yield* request(svc, nodes, store))
      assert.deepStrictEqual(second.warnings.map((w) => w.reason), ["UnsupportedProtocol"])
      assert.strictEqual((yield* callsSince(mark2)).mutating, 0)
      assert.deepStrictEqual(yield* inventory, before)
    }).pipe(Effect.provide(env())))

  // Only the provider's own refusal says a protocol cannot be balanced there: any other 431 (an
  // invalid value, a proxy's answer) made TCP "refused" on the network for an hour (chaos seed 3).
  it.effect("a 431 that is not the provider's refusal fails the ensure and teaches nothing: the next ensure creates the rule", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const sim = yield* CloudStackSimulator
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service()
      yield* sim.setFaults({ errorRates: [{ command: "createLoadBalancerRule", code: 431, rate: 1 }] })
      const failed = yield* Effect.either(lbs.ensure(yield* request(svc, nodes, store, true)))
      yield* sim.setFaults({ errorRates: [] })
      assert.isTrue(
        Either.isLeft(failed) && failed.left._tag === "CloudStackApiError" && failed.left.errorCode === 431,
        "the 431 is the ensure's error"
      )
      const second = yield* lbs.ensure(yield* request(svc, nodes, store))
      assert.deepStrictEqual(second.warnings, [])
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid)).map((r) => [r.protocol, r.publicPort]), [["tcp", 80]])
    }).pipe(Effect.provide(env())))

  it.effect("UDP next to TCP on the virtual router: the TCP port works and keeps the IP, the UDP port is a Warning", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({
        ports: [
          { name: "http", protocol: "TCP", port: 80, nodePort: 30080 },
          { name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }
        ]
      })
      const result = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.isTrue(Option.isSome(result.address))
      assert.deepStrictEqual(result.warnings.map((w) => w.reason), ["UnsupportedProtocol"])
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid)).map((r) => r.protocol), ["tcp"])
    }).pipe(Effect.provide(env())))

  it.effect("UDP on the Netscaler-like network (network-id annotation): rule, members and a UDP firewall rule", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "ns-node-1", "ns-node-2")
      const store = yield* annotationStore()
      const ns = yield* networkId("isolated-ns")
      const svc = service({
        annotations: { [Annotations.NETWORK_ID]: ns },
        ports: [{ name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }]
      })
      const result = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.isTrue(Option.isSome(result.address))
      const [rule] = yield* rulesOfUid(svc.uid)
      assert.strictEqual(rule?.protocol, "udp")
      assert.strictEqual(rule?.networkUuid, ns)
      assert.strictEqual(rule?.members.size, 2)
      assert.deepStrictEqual(yield* fwOf(rule!.ipUuid), ["udp/53<0.0.0.0/0"])
      assert.deepStrictEqual(result.warnings.map((w) => w.reason), ["NodesOnSeveralNetworks"])
      assert.match(result.warnings[0]!.message, /node-1$/)
    }).pipe(Effect.provide(env())))

  it.effect("sessionAffinity ClientIP and the algorithm annotation update the rule in place", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service()
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const id = (yield* rulesOfUid(svc.uid))[0]!.uuid
      const mark = yield* countersNow
      yield* lbs.ensure(yield* request({ ...svc, sessionAffinity: "ClientIP" }, nodes, store))
      const calls = yield* callsSince(mark)
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid)).map((r) => [r.uuid, r.algorithm]), [[id, "source"]])
      // 4 reads + update and its job (the Go CCM: 6)
      assert.strictEqual(calls.total, 6)
      yield* lbs.ensure(yield* request({ ...svc, annotations: { [Annotations.ALGORITHM]: "leastconn" } }, nodes, store))
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid)).map((r) => [r.uuid, r.algorithm]), [[id, "leastconn"]])
    }).pipe(Effect.provide(env())))

  it.effect("source ranges: spec first, then the annotation, else everyone; a change replaces the firewall rule", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({ annotations: { [Annotations.SOURCE_RANGES]: "192.0.2.0/24, 198.51.100.7" } })
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const ip = (yield* rulesOfUid(svc.uid))[0]!.ipUuid
      assert.deepStrictEqual(yield* fwOf(ip), ["tcp/80<192.0.2.0/24,198.51.100.7"])
      yield* lbs.ensure(yield* request({ ...svc, loadBalancerSourceRanges: ["10.0.0.0/8"] }, nodes, store))
      assert.deepStrictEqual(yield* fwOf(ip), ["tcp/80<10.0.0.0/8"])
      // 0.0.0.0/0 overlaps 10.0.0.0/8: the old rule must go first, or CloudStack answers 537
      yield* lbs.ensure(yield* request({ ...svc, annotations: {} }, nodes, store))
      assert.deepStrictEqual(yield* fwOf(ip), ["tcp/80<0.0.0.0/0"])
    }).pipe(Effect.provide(env())))

  it.effect("source-cidrs sets the rule's own cidrlist at creation and changes it in place", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({ annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8" } })
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const [rule] = yield* rulesOfUid(svc.uid)
      assert.deepStrictEqual(rule?.cidrlist, ["10.0.0.0/8"])
      const ip = rule!.ipUuid
      // the firewall is independent of the rule's own list
      assert.deepStrictEqual(yield* fwOf(ip), ["tcp/80<0.0.0.0/0"])
      yield* lbs.ensure(
        yield* request(
          { ...svc, annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8,172.16.0.0/12" } },
          nodes,
          store
        )
      )
      const [updated] = yield* rulesOfUid(svc.uid)
      assert.strictEqual(updated?.uuid, rule?.uuid)
      assert.deepStrictEqual(updated?.cidrlist, ["10.0.0.0/8", "172.16.0.0/12"])
    }).pipe(Effect.provide(env())))

  it.effect("SCTP, ports without nodePort and a second protocol on one port are Warnings; invalid annotations fail before any call", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({
        ports: [
          { name: "http", protocol: "TCP", port: 80, nodePort: 30080 },
          { name: "sctp", protocol: "SCTP", port: 9, nodePort: 30009 },
          { name: "dup", protocol: "UDP", port: 80, nodePort: 30081 },
          { name: "none", protocol: "TCP", port: 81, nodePort: 0 }
        ]
      })
      const result = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.deepStrictEqual(result.warnings.map((w) => w.reason).sort(), [
        "NoNodePort",
        "PortConflict",
        "UnsupportedProtocol"
      ])
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid)).map((r) => r.publicPort), [80])

      const mark = yield* countersNow
      const bad = service({
        annotations: { [Annotations.PROXY_PROTOCOL]: "enabled", [Annotations.SOURCE_CIDRS]: "10.0.0.0/33" }
      })
      const failed = yield* Effect.either(lbs.ensure(yield* request(bad, nodes, yield* annotationStore(), true)))
      assert.isTrue(Either.isLeft(failed))
      if (Either.isLeft(failed)) {
        assert.strictEqual(failed.left._tag, "LbUserError")
        assert.match(failed.left.message, /proxy-protocol: "enabled" is not valid \(expected "true" or "false"\)/)
        assert.match(failed.left.message, /source-cidrs: "10.0.0.0\/33" is not valid/)
      }
      assert.strictEqual((yield* callsSince(mark)).total, 0)
    }).pipe(Effect.provide(env())))

  it.effect("before CloudStack 4.22 (cidrlist ignored on update) a cidrs change recreates the rule, once learnt", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const store = yield* annotationStore()
      const svc = service({ annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8" } })
      yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const [rule] = yield* rulesOfUid(svc.uid)
      const changed = { ...svc, annotations: { [Annotations.SOURCE_CIDRS]: "192.168.0.0/16" } }
      yield* lbs.ensure(yield* request(changed, nodes, store))
      const [recreated] = yield* rulesOfUid(svc.uid)
      assert.notStrictEqual(recreated?.uuid, rule?.uuid)
      assert.deepStrictEqual(recreated?.cidrlist, ["192.168.0.0/16"])
      assert.strictEqual(recreated?.members.size, 2)
      // learnt: the next change goes straight to delete + create, no update attempt
      const mark = yield* countersNow
      yield* lbs.ensure(
        yield* request({ ...svc, annotations: { [Annotations.SOURCE_CIDRS]: "172.16.0.0/12" } }, nodes, store)
      )
      const calls = yield* callsSince(mark)
      assert.isUndefined(calls.byCommand["updateLoadBalancerRule"])
      assert.strictEqual(calls.byCommand["deleteLoadBalancerRule"], 1)
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid))[0]?.cidrlist, ["172.16.0.0/12"])
    }).pipe(
      Effect.provide(
        env({ world: Schema.decodeSync(World)({ ...Schema.encodeSync(World)(demoWorld), version: "4.20.1.0" }) })
      )
    ))
})
