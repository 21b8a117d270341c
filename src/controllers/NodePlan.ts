/**
 * Pure decisions of the cloud-node and cloud-node-lifecycle controllers: the spec update that
 * initialises a Node from its instance metadata, the status addresses to write, and what the
 * lifecycle monitor does with a Node. No I/O; the controllers execute what these return.
 */
import { Data, Either } from "effect"
import type { NodeUpdate } from "../kubernetes/NodeApi.js"
import type { NodeAddress, NodeView, Taint } from "../kubernetes/NodeView.js"
import * as InstanceLookup from "../provider/InstanceLookup.js"
import * as NodeAddresses from "../provider/NodeAddresses.js"

/** kubelet `--cloud-provider=external` registers Nodes with this taint; we remove it once initialised. */
export const TAINT_UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
/** Added to NotReady Nodes whose VM is stopped; removed once the Node is Ready again. */
export const TAINT_SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"
export const shutdownTaint: Taint = { key: TAINT_SHUTDOWN, effect: "NoSchedule" }

/** GA label -> its deprecated beta twin; both are written at initialisation. */
export const LABELS = {
  instanceType: ["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"],
  zone: ["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"],
  region: ["topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"]
} as const

export const hasTaint = (node: NodeView, key: string): boolean => node.spec.taints.some((t) => t.key === key)

export const isUninitialized = (node: NodeView): boolean => hasTaint(node, TAINT_UNINITIALIZED)

/** Ready=True; a missing Ready condition counts as Unknown (not ready), as the upstream controller does. */
export const isReady = (node: NodeView): boolean =>
  node.status.conditions.some((c) => c.type === "Ready" && c.status === "True")

export const providedNodeIp = (node: NodeView): string | undefined =>
  node.metadata.annotations[NodeAddresses.PROVIDED_NODE_IP_ANNOTATION]

const refs = new WeakMap<NodeView, InstanceLookup.NodeRef>()

/**
 * A Node's name and providerID. One object per cached Node, shared: the service controller's
 * workers each hold every Node's ref (a Service's backends), and would otherwise hold their own.
 */
export const nodeRef = (node: NodeView): InstanceLookup.NodeRef => {
  const known = refs.get(node)
  if (known !== undefined) return known
  const ref = { name: node.metadata.name, providerID: node.spec.providerID }
  refs.set(node, ref)
  return ref
}

/**
 * Upstream's `reconcileNodeLabels` for initialised Nodes: the deprecated beta label is the source
 * of truth and its GA twin is added or corrected. The labels to set, or undefined when in step.
 */
export const mirroredLabels = (node: NodeView): Readonly<Record<string, string>> | undefined => {
  const labels: Record<string, string> = {}
  for (const [ga, beta] of [LABELS.instanceType, LABELS.zone, LABELS.region]) {
    const value = node.metadata.labels[beta]
    if (value !== undefined && node.metadata.labels[ga] !== value) labels[ga] = value
  }
  return Object.keys(labels).length === 0 ? undefined : labels
}

/** The addresses to write, or undefined when status.addresses already has them (or the cloud has none). */
export const addressChange = (
  node: NodeView,
  cloud: ReadonlyArray<NodeAddress>
): Either.Either<ReadonlyArray<NodeAddress> | undefined, NodeAddresses.ProvidedNodeIpError> => {
  const current = node.status.addresses.filter(isKnownAddress)
  return Either.map(
    NodeAddresses.forNode(cloud.filter(isKnownAddress), current, providedNodeIp(node)),
    (desired) =>
      desired === undefined ||
        NodeAddresses.equal(desired, node.status.addresses.filter(isKnownAddress)) &&
          desired.length === node.status.addresses.length
        ? undefined
        : desired
  )
}

/** A periodic address round's decisions: the Nodes whose addresses change, and those whose provided IP is no VM address. */
export interface AddressRound {
  readonly changes: ReadonlyArray<{ readonly node: NodeView; readonly addresses: ReadonlyArray<NodeAddress> }>
  readonly invalid: ReadonlyArray<{ readonly node: NodeView; readonly error: NodeAddresses.ProvidedNodeIpError }>
}

/** The address changes of `nodes` from their lookups; a Node without a live VM is left alone. */
export const addressChanges = (
  nodes: ReadonlyArray<NodeView>,
  lookups: ReadonlyMap<string, InstanceLookup.Lookup>
): AddressRound => {
  const changes: Array<AddressRound["changes"][number]> = []
  const invalid: Array<AddressRound["invalid"][number]> = []
  for (const node of nodes) {
    const lookup = lookups.get(node.metadata.name)
    if (lookup?._tag !== "Found" || InstanceLookup.isGone(lookup.vm)) continue
    const change = addressChange(node, NodeAddresses.fromVm(lookup.vm))
    if (Either.isLeft(change)) invalid.push({ node, error: change.left })
    else if (change.right !== undefined) changes.push({ node, addresses: change.right })
  }
  return { changes, invalid }
}

const KNOWN = new Set(["Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS"])
const isKnownAddress = (a: NodeAddress): a is NodeAddresses.NodeAddress => KNOWN.has(a.type)

export interface Initialisation {
  readonly update: NodeUpdate
  /** Written right after the spec update; undefined when unchanged. */
  readonly addresses: ReadonlyArray<NodeAddress> | undefined
}

/**
 * Initialises a tainted Node: providerID only if empty (immutable once set), GA + beta labels for
 * instance type, zone and region, only the uninitialized taint removed. `provided-node-ip` is
 * validated first: an invalid one fails and the Node keeps its taint.
 */
export const initialise = (
  node: NodeView,
  metadata: InstanceLookup.InstanceMetadata
): Either.Either<Initialisation, NodeAddresses.ProvidedNodeIpError> =>
  Either.map(addressChange(node, metadata.addresses), (addresses) => {
    const labels: Record<string, string> = {}
    const set = (keys: readonly [string, string], value: string | undefined) => {
      if (value !== undefined) { for (const key of keys) labels[key] = value }
    }
    set(LABELS.instanceType, metadata.instanceType)
    set(LABELS.zone, metadata.zone)
    set(LABELS.region, metadata.region)
    const update: NodeUpdate = {
      name: node.metadata.name,
      resourceVersion: node.metadata.resourceVersion,
      ...(node.spec.providerID === "" ? { providerID: metadata.providerID } : {}),
      labels,
      taints: node.spec.taints.filter((t) => t.key !== TAINT_UNINITIALIZED)
    }
    return { update, addresses }
  })

/**
 * Whether the lifecycle monitor can have anything to do with this Node: it is NotReady, or Ready
 * with the shutdown taint. Every other Node is Nothing, whatever the cloud says.
 */
export const needsMonitoring = (node: NodeView): boolean => !isReady(node) || hasTaint(node, TAINT_SHUTDOWN)

/** What the lifecycle monitor does with one Node this round. */
export type LifecycleAction = Data.TaggedEnum<{
  Nothing: {}
  RemoveShutdownTaint: {}
  AddShutdownTaint: {}
  /** The VM definitively does not exist (or is Destroyed/Expunging) and the Node is NotReady. */
  Delete: { readonly uid: string }
  /** The Node's VM could not be determined: keep the Node, report why. */
  Unresolved: { readonly error: InstanceLookup.NodeNotResolvedError }
}>
export const LifecycleAction = Data.taggedEnum<LifecycleAction>()

/** Ready Nodes only lose the shutdown taint; NotReady ones are judged by their lookup. */
export const lifecycle = (node: NodeView, lookup: InstanceLookup.Lookup | undefined): LifecycleAction => {
  // The monitor keeps only these Nodes as candidates: the rule lives in one place.
  if (!needsMonitoring(node)) return LifecycleAction.Nothing()
  if (isReady(node)) return LifecycleAction.RemoveShutdownTaint()
  if (lookup === undefined) return LifecycleAction.Nothing()
  const name = node.metadata.name
  const exists = InstanceLookup.exists(name, lookup)
  if (Either.isLeft(exists)) return LifecycleAction.Unresolved({ error: exists.left })
  if (!exists.right) return LifecycleAction.Delete({ uid: node.metadata.uid })
  const shutdown = InstanceLookup.shutdown(name, lookup)
  return Either.isRight(shutdown) && shutdown.right && !hasTaint(node, TAINT_SHUTDOWN)
    ? LifecycleAction.AddShutdownTaint()
    : LifecycleAction.Nothing()
}
