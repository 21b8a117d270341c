/**
 * What the chaos checker expects of one Service in the final world, derived from the Service and
 * the cloud as they are at the end (not from anything the CCM recorded): whether it wants a load
 * balancer, its network, the ports that can have rules there, the members its eligible Nodes give,
 * and the user errors that excuse it from converging, each with the Warning reason it must carry.
 * The annotation grammar comes from the provider's own `LbSpec.fromService` (table-tested on its
 * own); every cloud fact is judged here from the simulator's tables. Pure.
 */
import { Either, Option } from "effect"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import type { ServiceView } from "../../src/kubernetes/ServiceView.js"
import { fromService, type LbSpec, type PortSpec } from "../../src/provider/loadbalancer/LbSpec.js"
import type { IpRow, LbRuleRow, NetworkRow, SimState, VmRow } from "../../src/simulation/cloudstack/SimModel.js"

export const key = (s: ServiceView): string => `${s.metadata.namespace}/${s.metadata.name}`

export const wantsLb = (s: ServiceView): boolean =>
  s.spec.type === "LoadBalancer" && (s.spec.loadBalancerClass ?? "") === ""

const FALSE_VALUES = new Set(["0", "f", "F", "false", "FALSE", "False"])

/** Kubernetes' stable node-set predicates, written out again (not imported from the controller). */
export const eligible = (node: NodeView): boolean => {
  if (node.metadata.deletionTimestamp !== undefined) return false
  const exclude = node.metadata.labels["node.kubernetes.io/exclude-from-external-load-balancers"]
  if (exclude !== undefined && !FALSE_VALUES.has(exclude)) return false
  return !node.spec.taints.some((t) => t.key === "ToBeDeletedByClusterAutoscaler")
}

export const vmGone = (vm: VmRow): boolean => vm.state === "Destroyed" || vm.state === "Expunging"

/** The VM a Node stands for: by the id in its providerID, else by name. */
export const vmOfNode = (state: SimState, node: NodeView): VmRow | undefined => {
  const id = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(node.spec.providerID)?.[1]
  if (id !== undefined) return state.vms.find((v) => v.uuid === id)
  const short = node.metadata.name.split(".")[0]?.toLowerCase()
  return state.vms.find((v) => v.name.toLowerCase() === short && !vmGone(v))
}

export interface NetworkFacts {
  readonly row: NetworkRow
  readonly hasLb: boolean
  readonly udp: boolean
  readonly healthChecks: boolean
  /** Firewall rules (isolated), items of a custom ACL list (VPC tier), or nothing (default ACL lists). */
  readonly access: "Firewall" | "Acl" | "None"
}

export const networkFacts = (
  state: SimState,
  providers: ReadonlyMap<string, { readonly udp: boolean; readonly healthChecks: boolean }>,
  row: NetworkRow
): NetworkFacts => {
  const caps = providers.get(row.name)
  const list = state.aclLists.find((l) => l.uuid === row.aclUuid)
  return {
    row,
    hasLb: caps !== undefined,
    udp: caps?.udp ?? false,
    healthChecks: caps?.healthChecks ?? false,
    access: row.vpcUuid === undefined
      ? "Firewall"
      : list !== undefined && list.name !== "default_allow" && list.name !== "default_deny"
      ? "Acl"
      : "None"
  }
}

/** Why a Service may rightly stay unconverged: the reason of the Warning it must carry, and why. */
export interface Excuse {
  readonly reason: string
  readonly why: string
  /** Another reason that says as much (which one the CCM gives depends on what it has learnt). */
  readonly or?: string | undefined
}

export interface Expectation {
  readonly service: ServiceView
  readonly spec: Either.Either<LbSpec, string>
  /** Its rules (by name) anywhere in the cloud. */
  readonly rules: ReadonlyArray<LbRuleRow>
  readonly network: Option.Option<NetworkFacts>
  /** The ports that must have a rule (after the provider's refusals and the ports others hold). */
  readonly ports: ReadonlyArray<PortSpec>
  /** The IP its rules must be on (None: no port can have a rule, or not decidable: see excuses). */
  readonly ip: Option.Option<IpRow>
  readonly members: ReadonlySet<string>
  /** Partial outcomes the user must be told of (the Service still converges on the rest). */
  readonly warnings: ReadonlyArray<Excuse>
  /** The whole LB cannot be built: nothing more is expected than this Warning. */
  readonly excuse: Option.Option<Excuse>
}

export interface World {
  readonly state: SimState
  readonly ccmAccount: string
  readonly providers: ReadonlyMap<string, { readonly udp: boolean; readonly healthChecks: boolean }>
  readonly nodes: ReadonlyArray<NodeView>
  /** Rule ids that existed before the CCM started. */
  readonly foreignRules: ReadonlySet<string>
}

const toLbService = (s: ServiceView) => ({
  namespace: s.metadata.namespace,
  name: s.metadata.name,
  uid: s.metadata.uid,
  annotations: s.metadata.annotations,
  ports: s.spec.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port, nodePort: p.nodePort })),
  loadBalancerIP: s.spec.loadBalancerIP ?? undefined,
  loadBalancerSourceRanges: s.spec.loadBalancerSourceRanges,
  sessionAffinity: s.spec.sessionAffinity ?? undefined
})

export const specOf = (s: ServiceView, cluster: string): Either.Either<LbSpec, string> =>
  Either.mapLeft(fromService(toLbService(s), cluster), (errors) => errors.map((e) => e.message).join("; "))

/** The VMs of eligible Nodes with a live VM with a NIC in `network`. */
export const membersOf = (world: World, network: string): ReadonlySet<string> => {
  const out = new Set<string>()
  for (const node of world.nodes) {
    if (!eligible(node)) continue
    const vm = vmOfNode(world.state, node)
    if (vm !== undefined && !vmGone(vm) && vm.nics.some((n) => n.networkUuid === network)) out.add(vm.uuid)
  }
  return out
}

/** Whether an IP can carry rules of `network` (isolated: associated with it; VPC: of its VPC, on no other tier). */
const onNetwork = (ip: IpRow, network: NetworkRow): boolean =>
  network.vpcUuid === undefined
    ? ip.associatedNetworkUuid === network.uuid
    : ip.vpcUuid === network.vpcUuid &&
      (ip.associatedNetworkUuid === undefined || ip.associatedNetworkUuid === network.uuid)

export const expect = (world: World, service: ServiceView, cluster: string, lbName: string): Expectation => {
  const { state } = world
  const spec = specOf(service, cluster)
  const rules = state.lbRules.filter((r) => r.name.startsWith(`${lbName}-`) && !world.foreignRules.has(r.uuid))
  const none = (excuse: Option.Option<Excuse>, network: Option.Option<NetworkFacts> = Option.none()): Expectation => ({
    service,
    spec,
    rules,
    network,
    ports: [],
    ip: Option.none(),
    members: new Set(),
    warnings: [],
    excuse
  })
  if (Either.isLeft(spec)) return none(Option.some({ reason: "InvalidAnnotation", why: spec.left }))
  const s = spec.right
  // The network: the one asked for, else where its rules are, else where most eligible nodes are.
  const byId = (id: string) => state.networks.find((n) => n.uuid === id)
  const chosen = Option.match(s.networkId, {
    onSome: (id) => byId(id),
    onNone: () => {
      const ruleNet = rules[0]?.networkUuid
      if (ruleNet !== undefined) return byId(ruleNet)
      const counts = new Map<string, number>()
      for (const node of world.nodes) {
        const vm = eligible(node) ? vmOfNode(state, node) : undefined
        const net = vm === undefined || vmGone(vm) ? undefined : vm.nics[0]?.networkUuid
        if (net !== undefined) counts.set(net, (counts.get(net) ?? 0) + 1)
      }
      const best = [...counts.entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))[0]
      return best === undefined ? undefined : byId(best[0])
    }
  })
  if (chosen === undefined) {
    return none(Option.some({ reason: "UnAvailableLoadBalancer", why: "no network: no eligible node with a live VM" }))
  }
  const network = networkFacts(state, world.providers, chosen)
  if (!network.hasLb) {
    return none(
      Option.some({ reason: "NoLoadBalancerService", why: `network ${chosen.name} has no Lb service` }),
      Option.some(network)
    )
  }
  const warnings: Array<Excuse> = [...s.warnings.map((w) => ({ reason: w.reason, why: w.message }))]
  const refused: Array<Excuse> = []
  const usable = s.ports.filter((p) => {
    if (p.protocol !== "udp" || network.udp) return true
    refused.push({ reason: "UnsupportedProtocol", why: `UDP/${p.publicPort} on ${chosen.name}` })
    return false
  })
  warnings.push(...refused)
  // Why the requested IP cannot be used, if it cannot (then the whole LB is refused).
  const requested = Option.map(s.requestedIp, (address) => {
    const row = state.publicIps.find((i) => i.address === address)
    const why = row === undefined
      ? "no such public IP"
      : row.state === "Free"
      ? undefined
      : row.owner !== world.ccmAccount
      ? `allocated to account ${row.owner ?? "?"}`
      : row.staticNatVmUuid !== undefined
      ? "static NAT"
      : !onNetwork(row, chosen)
      ? `bound to another network than ${chosen.name}`
      : undefined
    return { address, row, why }
  })
  const refusedIp = Option.flatMap(
    requested,
    (r) => (r.why === undefined ? Option.none() : Option.some(`${r.address}: ${r.why}`))
  )
  if (usable.length === 0) {
    // The provider refuses every port: a CCM that has not learnt that yet looks at the IP first.
    if (s.ports.length > 0 && Option.isSome(refusedIp)) {
      const excuse = {
        reason: "UnsupportedProtocol",
        why: `${refused.map((w) => w.why).join("; ")}; or ${refusedIp.value}`,
        or: "LoadBalancerIPNotAvailable"
      }
      return {
        ...none(Option.some(excuse), Option.some(network)),
        warnings: warnings.filter((w) => !refused.includes(w))
      }
    }
    return { ...none(Option.none(), Option.some(network)), warnings }
  }
  const members = membersOf(world, chosen.uuid)
  // The IP: the requested one, else the one its rules are on, else (no rules) undecided.
  let ip: IpRow | undefined
  if (Option.isSome(requested)) {
    // The whole LB is refused: the ports' own warnings are never reached.
    if (Option.isSome(refusedIp)) {
      return none(Option.some({ reason: "LoadBalancerIPNotAvailable", why: refusedIp.value }), Option.some(network))
    }
    const row = requested.value.row
    if (row === undefined || row.state === "Free") {
      return { ...none(Option.none(), Option.some(network)), ports: usable, members, warnings }
    }
    ip = row
  } else {
    const ruleIp = rules[0]?.ipUuid
    ip = ruleIp === undefined ? undefined : state.publicIps.find((i) => i.uuid === ruleIp)
  }
  // Ports another party's rule holds on the IP are the user's conflict, not this Service's rules.
  const held = ip === undefined ? new Set<number>() : new Set(
    state.lbRules.filter((r) => r.ipUuid === ip.uuid && !r.name.startsWith(`${lbName}-`)).map((r) => r.publicPort)
  )
  const ports = usable.filter((p) => {
    if (!held.has(p.publicPort)) return true
    warnings.push({ reason: "PortConflict", why: `port ${p.publicPort} held by another rule on ${ip?.address ?? "?"}` })
    return false
  })
  return {
    service,
    spec,
    rules,
    network: Option.some(network),
    ports,
    ip: Option.fromNullable(ip),
    members,
    warnings,
    excuse: Option.none()
  }
}
