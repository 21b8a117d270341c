/**
 * Wiring for provider-level LB tests: the simulator (in memory, TestClock) behind the real client,
 * Instances and LoadBalancers, plus helpers to build a Service, record its annotations in memory
 * and count CloudStack calls by command.
 */
import { Effect, Layer, Option, Ref } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import { associateIpAddress } from "../../../src/cloudstack/commands/Addresses.js"
import { createFirewallRule } from "../../../src/cloudstack/commands/Firewall.js"
import { assignToLoadBalancerRule, createLoadBalancerRule } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { listVirtualMachines } from "../../../src/cloudstack/commands/VirtualMachines.js"
import { NetworkId, VmId } from "../../../src/cloudstack/Ids.js"
import type { NodeRef } from "../../../src/provider/InstanceLookup.js"
import { lbName } from "../../../src/provider/loadbalancer/LbName.js"
import type { LbService } from "../../../src/provider/loadbalancer/LbSpec.js"
import * as LoadBalancers from "../../../src/provider/loadbalancer/LoadBalancers.js"
import * as Ownership from "../../../src/provider/loadbalancer/Ownership.js"
import * as CallCounts from "../../../src/simulation/cloudstack/CallCounts.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { cloudLayer, type CloudOptions } from "../../simulation/NodeScenariosEnv.js"

export const env = (options: CloudOptions = {}) => LoadBalancers.layer().pipe(Layer.provideMerge(cloudLayer(options)))

let counter = 0
/** A LoadBalancer Service with a fresh UID and one TCP port 80 → 30080 unless told otherwise. */
export const service = (overrides: Partial<LbService> = {}): LbService => {
  counter++
  const uid = `${counter.toString(16).padStart(8, "0")}-5e1c-4000-a000-0000c0de0000`
  return {
    namespace: "default",
    name: `web-${counter}`,
    uid,
    annotations: {},
    ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }],
    loadBalancerIP: undefined,
    loadBalancerSourceRanges: [],
    sessionAffinity: "None",
    ...overrides
  }
}

/** Nodes named after VMs of the demo world, with providerIDs (as the node controller sets them). */
export const nodesFor = (...names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const vms = yield* cs.list(listVirtualMachines, {})
    return names.map((name): NodeRef => {
      const vm = vms.find((v) => v.name === name)
      return { name, providerID: vm === undefined ? "" : `external-cloudstack://${vm.id}` }
    })
  })

/** A Service's annotations kept in a Ref: what `persist` writes, the next request reads. */
export const annotationStore = (initial: Readonly<Record<string, string>> = {}) =>
  Effect.map(Ref.make<Readonly<Record<string, string>>>(initial), (ref) => ({
    ref,
    persist: (o: Ownership.Ownership) =>
      Ref.update(ref, (current) => {
        const next: Record<string, string> = { ...current }
        for (const [k, v] of Object.entries(Ownership.toAnnotations(o))) {
          if (v === null) delete next[k]
          else next[k] = v
        }
        return next
      })
  }))

/** Calls per command since `mark` (a snapshot of the counters). */
export const countersNow = Effect.flatMap(CloudStackSimulator, (s) => s.counters)
export const callsSince = (mark: ReadonlyMap<string, number>) =>
  Effect.map(countersNow, (now) => {
    const calls = CallCounts.since(mark, now)
    return {
      byCommand: Object.fromEntries(calls),
      total: CallCounts.total(calls),
      mutating: CallCounts.total(calls, CallCounts.isMutation)
    }
  })

export const request = (
  svc: LbService,
  nodes: ReadonlyArray<NodeRef>,
  store: {
    readonly ref: Ref.Ref<Readonly<Record<string, string>>>
    readonly persist: (o: Ownership.Ownership) => Effect.Effect<void>
  },
  fresh = false
) =>
  Effect.map(Ref.get(store.ref), (annotations): LoadBalancers.LbRequest<never> => ({
    service: { ...svc, annotations: { ...svc.annotations, ...annotations } },
    nodes,
    fresh,
    claimedElsewhere: () => false,
    // the addresses the tests ask for (203.0.113.50-69) are never picked as a free one
    requestedElsewhere: (address) => /^203\.0\.113\.[56]\d$/.test(address),
    associatingElsewhere: () => false,
    persist: store.persist
  }))

export const simState = Effect.flatMap(CloudStackSimulator, (s) => s.state)

export const someOrFail = <A>(o: Option.Option<A>, what: string) =>
  Option.match(o, { onNone: () => Effect.dieMessage(`expected ${what}`), onSome: Effect.succeed })

/** A network's id by name (demo world). */
export const networkId = (name: string) =>
  Effect.map(simState, (s) => s.networks.find((n) => n.name === name)?.uuid ?? "")

/** Everything the CCM could leak or duplicate, for before/after comparisons. */
export const inventory = Effect.map(simState, (s) => ({
  ips: s.publicIps.filter((ip) => ip.state !== "Free").map((ip) =>
    `${ip.address}@${ip.associatedNetworkUuid ?? ip.vpcUuid ?? ""}`
  ).sort(),
  rules: s.lbRules.map((r) =>
    `${r.name}@${r.ipUuid}:${r.publicPort}>${r.privatePort}/${r.protocol}[${[...r.members.keys()].sort().join(",")}]`
  ).sort(),
  firewall: s.firewallRules.map((f) => `${f.ipUuid}:${f.protocol}/${f.startport}-${f.endport}<${f.cidrlist.join(",")}`)
    .sort(),
  acl: s.aclItems.map((a) =>
    `${a.aclUuid}#${a.number}:${a.protocol}/${a.startport}<${a.cidrlist.join(",")}(${a.reason ?? ""})`
  ).sort()
}))

/** The simulator's rules of a Service (by its lbName prefix). */
export const rulesOfUid = (uid: string) =>
  Effect.map(
    simState,
    (s) => s.lbRules.filter((r) => r.name.startsWith(`${`a${uid.replace(/-/g, "")}`.slice(0, 32)}-`))
  )

/** What the Go CCM v1.2.0 leaves for a Service (calls-cs4.20.txt, lb-create): IP, rule, members, firewall rule. */
export const goCcmLb = (uid: string, nodes: ReadonlyArray<{ readonly providerID: string }>) =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const net = NetworkId.make((yield* simState).networks.find((n) => n.name === "isolated1")?.uuid ?? "")
    const ip = yield* cs.run(associateIpAddress, { networkId: net })
    const rule = yield* cs.run(createLoadBalancerRule, {
      name: `${lbName(uid)}-tcp-80`,
      algorithm: "roundrobin",
      privatePort: 30080,
      publicPort: 80,
      publicIpId: ip.id,
      networkId: net,
      protocol: "tcp",
      openFirewall: false,
      cidrList: ["0.0.0.0/0"]
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
    return ip
  })
