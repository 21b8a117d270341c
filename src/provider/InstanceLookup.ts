/**
 * Pure matching of Kubernetes Nodes to CloudStack VMs from one complete VM listing, and the
 * InstancesV2 answers (exists, shutdown, metadata) derived from a match. No I/O: the Instances
 * service fetches the listing and confirms providerIDs missing from it by id.
 */
import { Data, Either } from "effect"
import type { InstanceNic, InstanceVm } from "../cloudstack/commands/VirtualMachines.js"
import type { NetworkId } from "../cloudstack/Ids.js"
import * as LabelValue from "./LabelValue.js"
import * as NodeAddresses from "./NodeAddresses.js"
import * as ProviderId from "./ProviderId.js"
import { sharing } from "./Sharing.js"

/** What the provider needs of a Node: its name and `spec.providerID` ("" when unset). */
export interface NodeRef {
  readonly name: string
  readonly providerID: string
}

/** The outcome of matching one Node against a listing (before by-id confirmation). */
export type Match = Data.TaggedEnum<{
  /** The VM, by providerID or by name. */
  Found: { readonly vm: InstanceVm; readonly by: "providerID" | "name" }
  /** The providerID's VM is not in the listing: only a by-id lookup can say it is gone. */
  Unlisted: { readonly vmId: string }
  /** No VM by that name (in the configured zone): definitive, the listing was complete. */
  Missing: {}
  /** Several live VMs carry the name: never guess. */
  Ambiguous: { readonly vmIds: ReadonlyArray<string> }
  /** The providerID belongs to another provider or is malformed: never treated as missing. */
  BadProviderId: { readonly error: ProviderId.ProviderIdError }
}>
export const Match = Data.taggedEnum<Match>()

/** A Node's VM could not be determined; never a reason to delete the Node. */
export class NodeNotResolvedError extends Data.TaggedError("NodeNotResolvedError")<{
  readonly node: string
  readonly reason: "Ambiguous" | "BadProviderId" | "NotFound"
  readonly detail: string
}> {
  override get message(): string {
    return `node ${this.node}: ${this.detail}`
  }
}

export interface MatchOptions {
  /** The configured zone name: name matches consider only VMs in it (case-insensitive). */
  readonly zone: string | undefined
}

/** VM states after which the instance no longer exists for Kubernetes. */
export const isGone = (vm: InstanceVm): boolean => vm.state === "Destroyed" || vm.state === "Expunging"

/**
 * Stopped (and the rare `Shutdown`) VMs are shut down. `Stopping` is not: it is transitional and
 * a VM being rebooted passes through it; the next monitor round sees `Stopped` if it really stops.
 */
export const isShutdown = (vm: InstanceVm): boolean => vm.state === "Stopped" || vm.state === "Shutdown"

/** Index of a listing for many lookups: by id, and by lowercased name (zone-filtered). */
export interface VmIndex {
  readonly byId: ReadonlyMap<string, InstanceVm>
  readonly byName: ReadonlyMap<string, ReadonlyArray<InstanceVm>>
}

/** VMs `compactor` made: compacting one again would only copy it. */
const compacted = new WeakSet<InstanceVm>()

/**
 * A VM as the index keeps it (every VM of the account, for minutes): reduced to the InstanceVm
 * fields (a fuller object from a test double keeps no more), and the text thousands of VMs repeat
 * (state, zone, offering, network ids) held once per compactor instead of once per VM. One
 * compactor serves a whole listing, page by page (`Instances.vmSourceFromClient`); a VM it made
 * is taken as it is.
 */
export const compactor = (): (vm: InstanceVm) => InstanceVm => {
  const text = sharing<string>()
  const network = sharing<NetworkId>()
  const nic = (n: InstanceNic): InstanceNic => ({
    networkId: network(n.networkId),
    ...(n.ipAddress === undefined ? {} : { ipAddress: n.ipAddress }),
    ...(n.ip6Address === undefined ? {} : { ip6Address: n.ip6Address }),
    isDefault: n.isDefault
  })
  return (vm) => {
    if (compacted.has(vm)) return vm
    const kept: InstanceVm = {
      id: vm.id,
      name: vm.name,
      state: text(vm.state),
      ...(vm.zoneName === undefined ? {} : { zoneName: text(vm.zoneName) }),
      ...(vm.serviceOfferingName === undefined ? {} : { serviceOfferingName: text(vm.serviceOfferingName) }),
      ...(vm.publicIp === undefined ? {} : { publicIp: vm.publicIp }),
      nics: vm.nics.map(nic)
    }
    compacted.add(kept)
    return kept
  }
}

/** The listing as the index keeps it: each VM through one compactor (see `compactor`). */
export const compact = (vms: ReadonlyArray<InstanceVm>): ReadonlyArray<InstanceVm> => vms.map(compactor())

/** The index of a listing (compacted, see `compact`). */
export const index = (listed: ReadonlyArray<InstanceVm>, options: MatchOptions): VmIndex => {
  const byId = new Map<string, InstanceVm>()
  const byName = new Map<string, Array<InstanceVm>>()
  const zone = options.zone?.toLowerCase()
  for (const vm of compact(listed)) {
    byId.set(vm.id, vm)
    if (zone !== undefined && vm.zoneName?.toLowerCase() !== zone) continue
    const key = vm.name.toLowerCase()
    const list = byName.get(key)
    if (list === undefined) byName.set(key, [vm])
    else list.push(vm)
  }
  return { byId, byName }
}

/** Live VMs win over destroyed namesakes (a VM recreated under the same name). */
const byName = (idx: VmIndex, name: string): Match | undefined => {
  const all = idx.byName.get(name.toLowerCase())
  if (all === undefined || all.length === 0) return undefined
  const live = all.filter((vm) => !isGone(vm))
  const candidates = live.length > 0 ? live : all
  const [first, ...rest] = candidates
  if (first === undefined) return undefined
  return rest.length === 0
    ? Match.Found({ vm: first, by: "name" })
    : Match.Ambiguous({ vmIds: candidates.map((vm) => vm.id) })
}

/**
 * providerID first (every known form; its VM is never replaced by a namesake), else the exact VM
 * name case-insensitively, else the short name of an FQDN node name.
 */
export const match = (node: NodeRef, idx: VmIndex): Match => {
  if (node.providerID.trim() !== "") {
    const parsed = ProviderId.parse(node.providerID)
    if (Either.isLeft(parsed)) return Match.BadProviderId({ error: parsed.left })
    const vm = idx.byId.get(parsed.right.vmId)
    return vm === undefined ? Match.Unlisted({ vmId: parsed.right.vmId }) : Match.Found({ vm, by: "providerID" })
  }
  const exact = byName(idx, node.name)
  if (exact !== undefined) return exact
  const dot = node.name.indexOf(".")
  if (dot > 0) {
    const short = byName(idx, node.name.slice(0, dot))
    if (short !== undefined) return short
  }
  return Match.Missing()
}

/** A match after by-id confirmation: `Unlisted` has become `Found` or `Missing`. */
export type Lookup = Exclude<Match, { readonly _tag: "Unlisted" }>

const unresolved = (node: string, lookup: Lookup): NodeNotResolvedError | undefined => {
  switch (lookup._tag) {
    case "Ambiguous":
      return new NodeNotResolvedError({
        node,
        reason: "Ambiguous",
        detail: `several CloudStack VMs match the node name (${
          lookup.vmIds.join(", ")
        }); set spec.providerID or rename a VM`
      })
    case "BadProviderId":
      return new NodeNotResolvedError({ node, reason: "BadProviderId", detail: lookup.error.message })
    default:
      return undefined
  }
}

/** InstanceExists: false only for a definitive no-such-VM or a Destroyed/Expunging VM. */
export const exists = (node: string, lookup: Lookup): Either.Either<boolean, NodeNotResolvedError> => {
  const error = unresolved(node, lookup)
  if (error !== undefined) return Either.left(error)
  return Either.right(lookup._tag === "Found" && !isGone(lookup.vm))
}

/** InstanceShutdown: the VM exists and is Stopped. A missing VM is not "shut down". */
export const shutdown = (node: string, lookup: Lookup): Either.Either<boolean, NodeNotResolvedError> => {
  const error = unresolved(node, lookup)
  if (error !== undefined) return Either.left(error)
  return Either.right(lookup._tag === "Found" && isShutdown(lookup.vm))
}

export interface InstanceMetadata {
  readonly providerID: string
  /** The offering name as the Go CCM's label value; undefined when nothing valid is left. */
  readonly instanceType: string | undefined
  readonly zone: string | undefined
  readonly region: string | undefined
  readonly addresses: ReadonlyArray<NodeAddresses.NodeAddress>
}

export interface MetadataOptions {
  readonly providerName: ProviderId.ProviderName
  /** The configured region; the zone name when absent. */
  readonly region: string | undefined
}

/** InstanceMetadata of a found, live VM; a missing or gone VM is a NotFound error. */
export const metadata = (
  node: string,
  lookup: Lookup,
  options: MetadataOptions
): Either.Either<InstanceMetadata, NodeNotResolvedError> => {
  const error = unresolved(node, lookup)
  if (error !== undefined) return Either.left(error)
  if (lookup._tag !== "Found" || isGone(lookup.vm)) {
    return Either.left(
      new NodeNotResolvedError({
        node,
        reason: "NotFound",
        detail: lookup._tag === "Found"
          ? `CloudStack VM ${lookup.vm.id} is ${lookup.vm.state}`
          : "no CloudStack VM has this providerID or name (the node name must equal the VM name)"
      })
    )
  }
  const vm = lookup.vm
  const zone = vm.zoneName === undefined ? undefined : LabelValue.sanitize(vm.zoneName)
  const region = options.region === undefined ? zone : LabelValue.sanitize(options.region)
  return Either.right({
    providerID: ProviderId.format(options.providerName, vm.id),
    instanceType: vm.serviceOfferingName === undefined ? undefined : LabelValue.instanceType(vm.serviceOfferingName),
    zone,
    region,
    addresses: NodeAddresses.fromVm(vm)
  })
}
