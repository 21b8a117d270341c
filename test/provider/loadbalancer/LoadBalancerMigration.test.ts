/**
 * Migration from the leaseweb fork: its rules (`K8s_svc_<cluster>_<ns>_<svc>-<proto>-<port>`) and
 * annotations (`...-address`, `...-id`, `...-network-id`, `...-keep-ip`) are adopted as they are:
 * the same LB, no delete, no new IP; deleted as the fork did (released unless keep-ip). And the Go
 * CCM's LB on a VPC tier: its rule adopted, its unmarked ACL item neither adopted nor deleted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import { associateIpAddress } from "../../../src/cloudstack/commands/Addresses.js"
import { createFirewallRule } from "../../../src/cloudstack/commands/Firewall.js"
import { assignToLoadBalancerRule, createLoadBalancerRule } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { createNetworkACL } from "../../../src/cloudstack/commands/NetworkAcls.js"
import { AclListId, NetworkId, VmId, VpcId } from "../../../src/cloudstack/Ids.js"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import { forkName, lbName } from "../../../src/provider/loadbalancer/LbName.js"
import type { LbService } from "../../../src/provider/loadbalancer/LbSpec.js"
import { LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import { aclMarker } from "../../../src/provider/loadbalancer/ObservedLb.js"
import * as Tags from "../../../src/provider/loadbalancer/Tags.js"
import {
  annotationStore,
  callsSince,
  countersNow,
  env,
  networkId,
  nodesFor,
  request,
  service,
  simState
} from "./LbTestEnv.js"

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
    yield* cs.run(assignToLoadBalancerRule, {
      id: rule.id,
      virtualMachineIds: nodes.map((n) => VmId.make(n.providerID.slice(22)))
    })
    yield* cs.run(createFirewallRule, {
      ipAddressId: ip.id,
      protocol: "tcp",
      startPort: 80,
      endPort: 80,
      cidrList: ["0.0.0.0/0"]
    })
    const annotations = {
      [Annotations.ADDRESS]: ip.ipAddress,
      [Annotations.IP_ID]: ip.id,
      [Annotations.NETWORK_ID]: net
    }
    return { ip, rule, annotations }
  })

const ipTags = (state: Effect.Effect.Success<typeof simState>, id: string) =>
  state.tags.filter((t) => t.resourceType === "PublicIpAddress" && t.resourceUuid === id).map((t) => t.key).sort()

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
      for (
        const command of [
          "createLoadBalancerRule",
          "deleteLoadBalancerRule",
          "associateIpAddress",
          "assignToLoadBalancerRule",
          "createFirewallRule"
        ]
      ) {
        assert.isUndefined(calls.byCommand[command], command)
      }
      const state = yield* simState
      assert.deepStrictEqual(
        state.lbRules.filter((r) => r.ipUuid === ip.id).map((r) => r.uuid),
        [rule.id],
        "the fork's rule, kept under its name"
      )
      // the IP is this CCM's to release now: tagged as ours (the orphan report and a shared IP's last user rely on it)
      assert.deepStrictEqual(ipTags(state, ip.id), [Tags.CLUSTER, Tags.SERVICE, Tags.SERVICE_UID].sort())
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
      yield* lbs.ensure(yield* request(svc, nodes, store))
      // kept by the user: never tagged as ours, not by the adoption nor by a later ensure
      assert.deepStrictEqual(ipTags(yield* simState, ip.id), [])
      yield* lbs.delete(yield* request(svc, nodes, store))
      assert.deepStrictEqual((yield* simState).lbRules.filter((r) => r.ipUuid === ip.id), [])
      assert.strictEqual(yield* ipState(ip.id), "Allocated")
      // A delete again (the finalizer not yet off) reads the IP whole, no rule left on it: still the
      // user's, not tagged as the deleted Service's (CI saw that createTags).
      yield* lbs.delete(yield* request(svc, nodes, store))
      assert.deepStrictEqual(ipTags(yield* simState, ip.id), [])
      assert.strictEqual(yield* ipState(ip.id), "Allocated")
    }).pipe(Effect.provide(env())))
})

describe("LoadBalancers: migration from the Go CCM on a VPC tier", () => {
  it.effect("its rule is adopted; its ACL item (no marker) is left alone: a marked item is added beside it and only that one is deleted", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const cs = yield* CloudStackClient
      const nodes = yield* nodesFor("web-1", "web-2")
      const svc = service({ ports: [{ name: "http", protocol: "TCP", port: 8080, nodePort: 30080 }] })
      const world = yield* simState
      const tier = world.networks.find((n) => n.name === "vpc1-web")
      const vpc = world.vpcs.find((v) => v.name === "vpc1")
      // What the Go CCM v1.2.0 leaves (reference §4.9): IP of the VPC, rule on the tier, an ACL item for the port.
      const ip = yield* cs.run(associateIpAddress, { vpcId: VpcId.make(vpc?.uuid ?? "") })
      const rule = yield* cs.run(createLoadBalancerRule, {
        name: `${lbName(svc.uid)}-tcp-8080`,
        algorithm: "roundrobin",
        privatePort: 30080,
        publicPort: 8080,
        publicIpId: ip.id,
        networkId: NetworkId.make(tier?.uuid ?? ""),
        protocol: "tcp",
        openFirewall: false,
        cidrList: ["0.0.0.0/0"]
      })
      yield* cs.run(assignToLoadBalancerRule, {
        id: rule.id,
        virtualMachineIds: nodes.map((n) => VmId.make(n.providerID.slice(22)))
      })
      const goItem = yield* cs.run(createNetworkACL, {
        protocol: "tcp",
        aclId: AclListId.make(tier?.aclUuid ?? ""),
        action: "Allow",
        cidrList: ["0.0.0.0/0"],
        startPort: 8080,
        endPort: 8080,
        networkId: NetworkId.make(tier?.uuid ?? ""),
        trafficType: "Ingress"
      })
      const store = yield* annotationStore()
      const mark = yield* countersNow
      const result = yield* lbs.ensure(yield* request(svc, nodes, store))
      const calls = yield* callsSince(mark)
      assert.deepStrictEqual(result.address, Option.some(ip.ipAddress))
      for (
        const command of [
          "createLoadBalancerRule",
          "deleteLoadBalancerRule",
          "associateIpAddress",
          "assignToLoadBalancerRule",
          "deleteNetworkACL"
        ]
      ) {
        assert.isUndefined(calls.byCommand[command], command)
      }
      assert.strictEqual(calls.byCommand["createNetworkACL"], 1, "this CCM's own item, marked")
      const items = (yield* simState).aclItems.filter((a) => a.aclUuid === tier?.aclUuid && a.startport === 8080)
      assert.deepStrictEqual(items.map((a) => a.reason ?? "").sort(), ["", aclMarker(svc.uid)].sort())
      assert.deepStrictEqual((yield* simState).lbRules.filter((r) => r.ipUuid === ip.id).map((r) => r.uuid), [rule.id])

      yield* lbs.delete(yield* request(svc, nodes, store))
      const after = yield* simState
      assert.deepStrictEqual(
        after.aclItems.filter((a) => a.aclUuid === tier?.aclUuid && a.startport === 8080).map((a) => a.uuid),
        [goItem.id]
      )
      assert.strictEqual(after.publicIps.find((i) => i.uuid === ip.id)?.state, "Free")
    }).pipe(Effect.provide(env())))
})
