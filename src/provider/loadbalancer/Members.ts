/**
 * From the eligible nodes' VM lookups to the LB's network and members: the network of the existing
 * rules, else the one most nodes' default NICs are on; members are the VMs with a NIC in it.
 * Nodes that cannot be members become one warning each kind, naming at most a few nodes. Pure.
 */
import { Option } from "effect"
import type { InstanceVm } from "../../cloudstack/commands/VirtualMachines.js"
import type { NetworkId, VmId } from "../../cloudstack/Ids.js"
import { isGone, type Lookup } from "../InstanceLookup.js"
import type { LbWarning } from "./LbSpec.js"
import type { ObservedBase } from "./Observe.js"

const defaultNetwork = (vm: InstanceVm): NetworkId | undefined =>
  (vm.nics.find((n) => n.isDefault) ?? vm.nics[0])?.networkId

const liveVm = (lookup: Lookup | undefined): InstanceVm | undefined =>
  lookup?._tag === "Found" && !isGone(lookup.vm) ? lookup.vm : undefined

/**
 * The LB's network: the one the user chose, else where its rules are, else where most nodes are. An
 * IP without rules decides nothing: a LB there would have no members, and an address the Service
 * asks for is judged against the nodes' network.
 */
export const chooseNetwork = (
  base: ObservedBase,
  lookups: ReadonlyMap<string, Lookup>,
  chosen: Option.Option<NetworkId> = Option.none()
): Option.Option<NetworkId> => {
  if (Option.isSome(chosen)) return chosen
  const recorded = base.rules.find((r) =>
    base.ips.some((ip) => ip.recorded && ip.id === r.ipId) && Option.isSome(r.networkId)
  )
  const fromRules = (recorded ?? base.rules.find((r) => Option.isSome(r.networkId)))?.networkId
  if (fromRules !== undefined && Option.isSome(fromRules)) return fromRules
  const counts = new Map<NetworkId, number>()
  for (const lookup of lookups.values()) {
    const net = Option.fromNullable(liveVm(lookup)).pipe(Option.flatMapNullable(defaultNetwork))
    if (Option.isSome(net)) counts.set(net.value, (counts.get(net.value) ?? 0) + 1)
  }
  // Most nodes win; ties go to the smallest id, so every reconcile picks the same one.
  const best = [...counts.entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))[0]
  return Option.fromNullable(best?.[0])
}

const listed = (names: ReadonlyArray<string>): string => {
  const shown = names.slice(0, 10).join(", ")
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown
}

export interface MemberSet {
  readonly vms: ReadonlyArray<VmId>
  readonly warnings: ReadonlyArray<LbWarning>
}

/**
 * The members in a network and the nodes left out, as the list their warnings name (at most a few
 * nodes): what an ensure keeps of the VM lookups, which it lets go before its long cloud calls.
 */
export interface Membership {
  readonly vms: ReadonlyArray<VmId>
  /** Nodes without a NIC in the network. */
  readonly elsewhere: Option.Option<string>
  /** Nodes whose VM was not found or is gone. */
  readonly unresolved: Option.Option<string>
}

/** The members in `network` of the nodes (by name), and the nodes left out by kind. */
export const membership = (
  network: NetworkId,
  nodes: ReadonlyArray<string>,
  lookups: ReadonlyMap<string, Lookup>
): Membership => {
  const vms = new Set<VmId>()
  const elsewhere: Array<string> = []
  const unresolved: Array<string> = []
  for (const node of nodes) {
    const lookup = lookups.get(node)
    const vm = liveVm(lookup)
    if (vm === undefined) {
      unresolved.push(node)
      continue
    }
    if (vm.nics.some((n) => n.networkId === network)) vms.add(vm.id)
    else elsewhere.push(node)
  }
  const some = (names: Array<string>) => names.length === 0 ? Option.none() : Option.some(listed(names.sort()))
  return { vms: [...vms].sort(), elsewhere: some(elsewhere), unresolved: some(unresolved) }
}

/**
 * `membership` remembered per lookups (weakly: a replaced VM listing is not kept alive) and network,
 * for the last nodes asked about: the drift pass places every Service against the same lookups and,
 * Services of one traffic policy, the same nodes; working it out each time was a quarter of its CPU.
 */
export const membershipMemo = () => {
  const memo = new WeakMap<
    ReadonlyMap<string, Lookup>,
    Map<NetworkId, { readonly nodes: ReadonlyArray<{ readonly name: string }>; readonly members: Membership }>
  >()
  return (
    network: NetworkId,
    nodes: ReadonlyArray<{ readonly name: string }>,
    lookups: ReadonlyMap<string, Lookup>
  ): Membership => {
    const byNetwork = memo.get(lookups) ?? new Map()
    memo.set(lookups, byNetwork)
    const last = byNetwork.get(network)
    if (last !== undefined && sameNodes(last.nodes, nodes)) return last.members
    const members = membership(network, nodes.map((n) => n.name), lookups)
    byNetwork.set(network, { nodes, members })
    return members
  }
}

const sameNodes = (a: ReadonlyArray<{ readonly name: string }>, b: ReadonlyArray<{ readonly name: string }>) =>
  a === b || (a.length === b.length && a.every((node, i) => node.name === b[i]?.name))

/** A membership's warnings, one per kind of node left out. */
export const withWarnings = (members: Membership, networkName: string): MemberSet => ({
  vms: members.vms,
  warnings: [
    ...Option.toArray(Option.map(members.elsewhere, (names) => ({
      reason: "NodesOnSeveralNetworks",
      message: `nodes without a NIC in the load balancer's network ${networkName} are not members: ${names}`
    }))),
    ...Option.toArray(Option.map(members.unresolved, (names) => ({
      reason: "UnresolvedNodes",
      message: `nodes whose CloudStack VM was not found (or is gone) are not members: ${names}`
    })))
  ]
})

/** The members in `network` of the nodes (by name), with a warning per kind of node left out. */
export const membersIn = (
  network: NetworkId,
  networkName: string,
  nodes: ReadonlyArray<string>,
  lookups: ReadonlyMap<string, Lookup>
): MemberSet => withWarnings(membership(network, nodes, lookups), networkName)
