/**
 * Migration from the leaseweb fork: its rules (`K8s_svc_<cluster>_<ns>_<svc>-<proto>-<port>`) and
 * annotations (`...-address`, `...-id`, `...-network-id`, `...-keep-ip`) are adopted as they are:
 * the same LB, no delete, no new IP; deleted as the fork did (released unless keep-ip).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import { associateIpAddress } from "../../../src/cloudstack/commands/Addresses.js"
import { createFirewallRule } from "../../../src/cloudstack/commands/Firewall.js"
import { assignToLoadBalancerRule, createLoadBalancerRule } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { NetworkId, VmId } from "../../../src/cloudstack/Ids.js"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import { forkName } from "../../../src/provider/loadbalancer/LbName.js"
import { LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import type { LbService } from "../../../src/provider/loadbalancer/LbSpec.js"
import { annotationStore, callsSince, countersNow, env, networkId, nodesFor, request, service, simState } from "./LbTestEnv.js"

/** What the fork v1.8 leaves for a Service: IP, rule named by its scheme, members, firewall, annotations. */
const forkLb = (svc: LbService, nodes: ReadonlyArray<{ readonly providerID: string }>) =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const net = NetworkId.make(yield* networkId("isolated1"))
    const ip = yield* cs.run(associateIpAddress, { networkId: net })
    const rule = yield* cs.run(createLoadBalancerRule, {
      name: `${forkName("kubernetes", svc.namespace, svc.name)}-tcp-80`,
      algorithm: "roundrobin",
      privatePort: 30080,
      publicPort: 80,
      publicIpId: ip.id,
      networkId: net,
      protocol: "tcp",
      openFirewall: false
    })
    yield* cs.run(assignToLoadBalancerRule, { id: rule.id, virtualMachineIds: nodes.map((n) => VmId.make(n.providerID.slice(22))) })
    yield* cs.run(createFirewallRule, { ipAddressId: ip.id, protocol: "tcp", startPort: 80, endPort: 80, cidrList: ["0.0.0.0/0"] })
    const annotations = {
      [Annotations.ADDRESS]: ip.ipAddress,
      [Annotations.IP_ID]: ip.id,
      [Annotations.NETWORK_ID]: net
    }
    return { ip, rule, annotations }
  })

const ipState = (id: string) => Effect.map(simState, (s) => s.publicIps.find((i) => i.uuid === id)?.state)

describe("LoadBalancers: migration from the leaseweb fork", () => {
  it.effect("adopts the fork's LB as it is (no delete, no new rule or IP); delete releases its IP as the fork did", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const base = service()
      const { annotations, ip, rule } = yield* forkLb(base, nodes)
      const svc = { ...base, annotations }
      const store = yield* annotationStore()
      const mark = yield* countersNow
      const result = yield* lbs.ensure(yield* request(svc, nodes, store))
      const calls = yield* callsSince(mark)
      assert.deepStrictEqual(result.address, Option.some(ip.ipAddress))
      for (const command of ["createLoadBalancerRule", "deleteLoadBalancerRule", "associateIpAddress", "assignToLoadBalancerRule", "createFirewallRule"]) {
        assert.isUndefined(calls.byCommand[command], command)
      }
      const state = yield* simState
      assert.deepStrictEqual(state.lbRules.filter((r) => r.ipUuid === ip.id).map((r) => r.uuid), [rule.id], "the fork's rule, kept under its name")
      yield* lbs.delete(yield* request(svc, nodes, store))
      assert.strictEqual(yield* ipState(ip.id), "Free")
    }).pipe(Effect.provide(env())))

  it.effect("the fork's keep-ip keeps the IP", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const base = service()
      const { annotations, ip } = yield* forkLb(base, nodes)
      const svc = { ...base, annotations: { ...annotations, [Annotations.KEEP_IP]: "true" } }
      const store = yield* annotationStore()
      yield* lbs.ensure(yield* request(svc, nodes, store))
      yield* lbs.delete(yield* request(svc, nodes, store))
      assert.deepStrictEqual((yield* simState).lbRules.filter((r) => r.ipUuid === ip.id), [])
      assert.strictEqual(yield* ipState(ip.id), "Allocated")
    }).pipe(Effect.provide(env())))
})
