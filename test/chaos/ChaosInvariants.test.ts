/**
 * The chaos oracle on its own: a world where one Service's LB was built by the real provider and
 * nothing else happened passes; a leaked IP, a duplicated rule, a foreign resource touched and a
 * Node deleted while its VM lives are each reported, precisely.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { associateIpAddress } from "../../src/cloudstack/commands/Addresses.js"
import { deleteFirewallRule } from "../../src/cloudstack/commands/Firewall.js"
import { createLoadBalancerRule } from "../../src/cloudstack/commands/LoadBalancers.js"
import { deleteTags } from "../../src/cloudstack/commands/Tags.js"
import { FirewallRuleId, IpAddressId, NetworkId } from "../../src/cloudstack/Ids.js"
import { NodeView } from "../../src/kubernetes/NodeView.js"
import { ServiceView } from "../../src/kubernetes/ServiceView.js"
import { lbName } from "../../src/provider/loadbalancer/LbName.js"
import * as LoadBalancers from "../../src/provider/loadbalancer/LoadBalancers.js"
import * as Tags from "../../src/provider/loadbalancer/Tags.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import type { SimState } from "../../src/simulation/cloudstack/SimModel.js"
import { annotationStore } from "../provider/loadbalancer/LbTestEnv.js"
import { cloudLayer } from "../simulation/NodeScenariosEnv.js"
import { check, type CheckInput } from "./ChaosInvariants.js"
import { CCM_ACCOUNT, CCM_KEYS, chaosWorld, CLUSTER, CLUSTER_NETWORKS, createForeign } from "./ChaosWorld.js"

const env = LoadBalancers.layer({ clusterName: CLUSTER }).pipe(
  Layer.provideMerge(cloudLayer({
    world: chaosWorld,
    config: { apiKey: Redacted.make(CCM_KEYS.apiKey), secretKey: Redacted.make(CCM_KEYS.secretKey) }
  }))
)

const providers = new Map(CLUSTER_NETWORKS.map((n) => [n.name, { udp: n.udp, healthChecks: n.healthChecks }] as const))
const UID = "0a0b0c0d-1111-4222-8333-444455556666"

const node = (name: string, vmId: string) =>
  Schema.decodeUnknownSync(NodeView)({
    metadata: { name, uid: `uid-${name}` },
    spec: { providerID: `external-cloudstack://${vmId}` }
  })

/** The world before the CCM, one Service's LB built by the provider on it, and the check's input. */
const built = Effect.gen(function*() {
  const sim = yield* CloudStackSimulator
  yield* createForeign(sim)
  const before = yield* sim.state
  const nodes = before.vms.filter((v) => /^(vr|ns|tier1|tier2)-\d+$/.test(v.name)).map((v) => node(v.name, v.uuid))
  const store = yield* annotationStore()
  const lbService = {
    namespace: "default",
    name: "web",
    uid: UID,
    annotations: {},
    ports: [{ name: "http", protocol: "TCP" as const, port: 80, nodePort: 30080 }],
    loadBalancerIP: undefined,
    loadBalancerSourceRanges: [],
    sessionAffinity: "None" as const
  }
  const lbs = yield* LoadBalancers.LoadBalancers
  const result = yield* lbs.ensure({
    service: lbService,
    nodes: nodes.map((n) => ({ name: n.metadata.name, providerID: n.spec.providerID })),
    fresh: true,
    claimedElsewhere: () => false,
    requestedElsewhere: () => false,
    associatingElsewhere: () => false,
    persist: store.persist
  })
  const address = Option.getOrElse(result.address, () => "")
  const service = Schema.decodeUnknownSync(ServiceView)({
    metadata: {
      name: "web",
      namespace: "default",
      uid: UID,
      annotations: yield* store.ref.get,
      finalizers: ["service.kubernetes.io/load-balancer-cleanup"]
    },
    spec: { type: "LoadBalancer", ports: lbService.ports, sessionAffinity: "None" },
    status: { loadBalancer: { ingress: [{ ip: address }] } }
  })
  const input = (after: SimState): CheckInput => ({
    cluster: CLUSTER,
    ccmAccount: CCM_ACCOUNT,
    providers,
    before,
    after,
    services: [service],
    nodes,
    events: [],
    kept: new Map(),
    nodeDeletions: [],
    registered: nodes.map((n) => ({
      node: n.metadata.name,
      vm: n.spec.providerID.slice("external-cloudstack://".length)
    })),
    steadyCalls: []
  })
  return { address, input, nodes, sim }
})

const messages = (violations: ReturnType<typeof check>) => violations.map((v) => `[${v.invariant}] ${v.message}`)

describe("the chaos oracle (ChaosInvariants.check)", () => {
  it.effect("a world where a Service's LB was built and nothing else happened has no violation", () =>
    Effect.gen(function*() {
      const { address, input, sim } = yield* built
      const after = yield* sim.state
      assert.isTrue(after.lbRules.some((r) => r.name === `${lbName(UID)}-tcp-80`), "the provider built the LB")
      assert.notStrictEqual(address, "")
      assert.deepStrictEqual(messages(check(input(after))), [])
    }).pipe(Effect.provide(env)))

  it.effect("an IP the CCM's account holds for no Service is a leak", () =>
    Effect.gen(function*() {
      const { input, sim } = yield* built
      const cs = yield* CloudStackClient
      const net = (yield* sim.state).networks.find((n) => n.name === "k8s-vr")?.uuid ?? ""
      const ip = yield* cs.run(associateIpAddress, { networkId: NetworkId.make(net) })
      assert.deepStrictEqual(messages(check(input(yield* sim.state))), [
        `[leak] IP ${ip.ipAddress} (Allocated, network ${net}) is held for no live Service`
      ])
    }).pipe(Effect.provide(env)))

  it.effect("a Service's IP without this cluster's tag is reported, unless a Service asked to keep it (keep-ip)", () =>
    Effect.gen(function*() {
      const { address, input, sim } = yield* built
      const cs = yield* CloudStackClient
      const ip = (yield* sim.state).publicIps.find((i) => i.address === address)
      assert.isDefined(ip)
      yield* cs.run(deleteTags, { resourceType: "PublicIpAddress", resourceIds: [ip?.uuid ?? ""] })
      const after = yield* sim.state
      assert.deepStrictEqual(messages(check(input(after))), [
        `[converged] default/web: its IP ${address} lacks the ownership tag ${Tags.CLUSTER}`
      ])
      // kept once (a Service that asked to keep it recorded it): the user's from then on
      const kept = new Map([["an-earlier-service-uid", new Set([ip?.uuid ?? ""])]])
      assert.deepStrictEqual(messages(check({ ...input(after), kept })), [])
    }).pipe(Effect.provide(env)))

  it.effect("a second rule for a Service's port (on another IP) is a duplicate", () =>
    Effect.gen(function*() {
      const { address, input, sim } = yield* built
      const cs = yield* CloudStackClient
      const net = NetworkId.make((yield* sim.state).networks.find((n) => n.name === "k8s-vr")?.uuid ?? "")
      const other = yield* cs.run(associateIpAddress, { networkId: net })
      yield* cs.run(createLoadBalancerRule, {
        name: `${lbName(UID)}-tcp-80`,
        algorithm: "roundrobin",
        privatePort: 30080,
        publicPort: 80,
        publicIpId: IpAddressId.make(other.id),
        networkId: net,
        protocol: "tcp",
        openFirewall: false
      })
      const rule = `${lbName(UID)}-tcp-80`
      assert.deepStrictEqual(messages(check(input(yield* sim.state))), [
        `[duplicate] default/web: 2 rules for port 80 (${rule} on ${address}, ${rule} on ${other.ipAddress})`,
        `[duplicate] default/web: rules on 2 IPs (${address}, ${other.ipAddress})`,
        // the other IP carries nothing the Service may keep
        `[leak] IP ${other.ipAddress} (Allocated, network ${net}) is held for no live Service`
      ])
    }).pipe(Effect.provide(env)))

  it.effect("a foreign firewall rule deleted is reported as touched", () =>
    Effect.gen(function*() {
      const { input, sim } = yield* built
      const cs = yield* CloudStackClient
      const state = yield* sim.state
      const alices = state.firewallRules.find((f) => f.owner === "alice")
      assert.isDefined(alices, "the world holds alice's firewall rule")
      if (alices === undefined) return
      yield* cs.run(deleteFirewallRule, { id: FirewallRuleId.make(alices.uuid) })
      const address = state.publicIps.find((i) => i.uuid === alices.ipUuid)?.address ?? ""
      assert.deepStrictEqual(messages(check(input(yield* sim.state))), [
        `[foreign] foreign firewall rule ${alices.protocol}/${alices.startport ?? "-"} from ${
          alices.cidrlist.join(",")
        } on ${address} (alice) was deleted`
      ])
    }).pipe(Effect.provide(env)))

  it.effect("a Node deleted while its VM exists is reported, whether seen at the delete or missing at the end", () =>
    Effect.gen(function*() {
      const { input, nodes, sim } = yield* built
      const after = yield* sim.state
      // a node of a tier no LB uses: the Service's members stay as they are
      const gone = nodes.find((n) => n.metadata.name.startsWith("tier2-"))
      assert.isDefined(gone)
      if (gone === undefined) return
      const vm = after.vms.find((v) => `external-cloudstack://${v.uuid}` === gone.spec.providerID)
      const base = input(after)
      const found = messages(check({
        ...base,
        nodes: nodes.filter((n) => n !== gone),
        nodeDeletions: [{ node: gone.metadata.name, vm: vm?.name ?? "", vmState: "Running", at: 0 }]
      }))
      assert.deepStrictEqual(found, [
        `[node] Node ${gone.metadata.name} deleted at 1970-01-01T00:00:00.000Z while its VM ${vm?.name} was Running`,
        `[node] Node ${gone.metadata.name} is gone although its VM ${vm?.name} is Running`
      ])
    }).pipe(Effect.provide(env)))
})
