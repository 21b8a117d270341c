/**
 * What the controllers' informers keep of each Node and Service: every one of the cluster, for the
 * life of the process, so only what the controllers read. A Node keeps the labels and annotation
 * they read (instance type, zone and region with their beta twins, the load-balancer exclusion,
 * provided-node-ip) and its Ready condition, the rest of its view whole; a Service all but its
 * labels. Neither keeps its creationTimestamp: the node controller times an initialisation from the
 * Node its update returned. What many Nodes or Services have alike is held once per informer. The
 * informers' lists keep each object as its page is decoded. Reads through NodeApi and ServiceApi
 * still answer whole views. Pure, apart from the informers it starts.
 */
import { Effect, type Scope } from "effect"
import * as Informer from "../kubernetes/Informer.js"
import * as NodeApi from "../kubernetes/NodeApi.js"
import type { NodeCondition, NodeView, Taint } from "../kubernetes/NodeView.js"
import * as ServiceApi from "../kubernetes/ServiceApi.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import { PROVIDED_NODE_IP_ANNOTATION } from "../provider/NodeAddresses.js"
import { sharing, sharingBy } from "../provider/Sharing.js"
import * as NodePlan from "./NodePlan.js"
import * as ServicePlan from "./ServicePlan.js"

/** The Node labels a controller reads. */
export const NODE_LABELS: ReadonlySet<string> = new Set([
  ...NodePlan.LABELS.instanceType,
  ...NodePlan.LABELS.zone,
  ...NodePlan.LABELS.region,
  ServicePlan.EXCLUDE_LABEL
])

/** The Node annotations a controller reads. */
export const NODE_ANNOTATIONS: ReadonlySet<string> = new Set([PROVIDED_NODE_IP_ANNOTATION])

/** Distinct values of each kind an informer shares; past it a value is kept as it came. */
const SHARED_VALUES = 1024

const NONE: Readonly<Record<string, string>> = Object.freeze({})

/** The entries of `map` under `keys` (one shared empty object when there are none). */
const pick = (
  map: Readonly<Record<string, string>>,
  keys: ReadonlySet<string>,
  share: (value: string) => string
): Readonly<Record<string, string>> => {
  let kept: Record<string, string> | undefined
  for (const [key, value] of Object.entries(map)) if (keys.has(key)) (kept ??= {})[key] = share(value)
  return kept ?? NONE
}

const same = (value: string) => value

/**
 * What Nodes have alike, held once per informer: label values, taint keys and effects, and whole
 * label maps, taint lists and Ready conditions (most Nodes of a cluster carry the same ones).
 */
export interface NodeSharing {
  readonly text: (value: string) => string
  readonly labels: (key: string, labels: Readonly<Record<string, string>>) => Readonly<Record<string, string>>
  readonly taints: (key: string, taints: ReadonlyArray<Taint>) => ReadonlyArray<Taint>
  readonly conditions: (key: string, conditions: ReadonlyArray<NodeCondition>) => ReadonlyArray<NodeCondition>
}

const unshared: NodeSharing = {
  text: same,
  labels: (_, labels) => labels,
  taints: (_, taints) => taints,
  conditions: (_, conditions) => conditions
}

/** A fresh sharing pool for one informer (each part remembers at most SHARED_VALUES distinct values). */
export const nodeSharing = (): NodeSharing => ({
  text: sharing<string>(SHARED_VALUES),
  labels: sharingBy<Readonly<Record<string, string>>>(SHARED_VALUES),
  taints: sharingBy<ReadonlyArray<Taint>>(SHARED_VALUES),
  conditions: sharingBy<ReadonlyArray<NodeCondition>>(SHARED_VALUES)
})

/**
 * What a Node informer keeps of a Node, what Nodes have alike shared through `shared` (values that
 * end up shared are never changed: views are read-only). Lists are built to their exact length (a
 * filtered array keeps room for 16).
 */
export const cachedNode = (node: NodeView, shared: NodeSharing = unshared): NodeView => {
  const { creationTimestamp: _, ...metadata } = node.metadata
  const labels = pick(node.metadata.labels, NODE_LABELS, shared.text)
  const taints = node.spec.taints.map((t) => ({ ...t, key: shared.text(t.key), effect: shared.text(t.effect) }))
  const ready = node.status.conditions.find((c) => c.type === "Ready")
  const name = node.metadata.name
  return {
    metadata: {
      ...metadata,
      labels: labels === NONE ? NONE : shared.labels(JSON.stringify(labels), labels),
      annotations: pick(node.metadata.annotations, NODE_ANNOTATIONS, same)
    },
    spec: {
      providerID: node.spec.providerID,
      taints: taints.length === 0 ? NO_TAINTS : shared.taints(JSON.stringify(taints), taints)
    },
    status: {
      // kubelet's Hostname address is usually the Node's name: one string for both
      addresses: node.status.addresses.map((a) => (a.address === name ? { type: a.type, address: name } : a)),
      conditions: ready === undefined
        ? NO_CONDITIONS
        : shared.conditions(JSON.stringify(ready), [{ type: ready.type, status: ready.status }])
    }
  }
}

const NO_TAINTS: ReadonlyArray<Taint> = Object.freeze([])
const NO_CONDITIONS: ReadonlyArray<NodeCondition> = Object.freeze([])

/** What Services have alike, held once per informer: annotation values, the type, finalizer lists. */
export interface ServiceSharing {
  readonly text: (value: string) => string
  readonly type: (value: ServiceView["spec"]["type"]) => ServiceView["spec"]["type"]
  readonly finalizers: (key: string, finalizers: ReadonlyArray<string>) => ReadonlyArray<string>
}

const unsharedServices: ServiceSharing = { text: same, type: (value) => value, finalizers: (_, list) => list }

/** A fresh sharing pool for one Service informer. */
export const serviceSharing = (): ServiceSharing => ({
  text: sharing<string>(SHARED_VALUES),
  type: sharing<ServiceView["spec"]["type"]>(SHARED_VALUES),
  finalizers: sharingBy<ReadonlyArray<string>>(SHARED_VALUES)
})

const NO_TEXTS: ReadonlyArray<string> = Object.freeze([])

/** What a Service informer keeps of a Service, what Services have alike shared through `shared`. */
export const cachedService = (service: ServiceView, shared: ServiceSharing = unsharedServices): ServiceView => {
  const { creationTimestamp: _, ...metadata } = service.metadata
  const annotations: Record<string, string> = {}
  for (const [key, value] of Object.entries(service.metadata.annotations)) annotations[key] = shared.text(value)
  const finalizers = service.metadata.finalizers
  const ranges = service.spec.loadBalancerSourceRanges
  return {
    ...service,
    metadata: {
      ...metadata,
      labels: NONE,
      annotations,
      finalizers: finalizers.length === 0 ? NO_TEXTS : shared.finalizers(JSON.stringify(finalizers), finalizers)
    },
    spec: {
      ...service.spec,
      type: shared.type(service.spec.type),
      loadBalancerSourceRanges: ranges.length === 0 ? NO_TEXTS : ranges
    }
  }
}

/**
 * `reduce` twice over: for the informer's source list, which keeps each object as its page is
 * decoded (the whole list of full objects is never alive at once), and for the informer, which
 * takes what the list already kept as it is (and reduces watched objects).
 */
const keepers = <A extends object>(reduce: (object: A) => A) => {
  // Emptied as the informer takes the list's objects: it holds nothing once the list is cached.
  const listed = new WeakSet<A>()
  return {
    list: (object: A): A => {
      const slim = reduce(object)
      listed.add(slim)
      return slim
    },
    informer: (object: A): A => (listed.delete(object) ? object : reduce(object))
  }
}

/** A Node informer in the current scope, keeping cached Nodes (each as its list page comes in). */
export const nodeInformer = (
  api: Informer.ListWatch<NodeView>
): Effect.Effect<Informer.Informer<NodeView>, never, Scope.Scope> => {
  const shared = nodeSharing()
  const keep = keepers((node: NodeView) => cachedNode(node, shared))
  return Informer.make("nodes", { list: Effect.locally(api.list, NodeApi.listKeep, keep.list), watch: api.watch }, {
    keep: keep.informer
  })
}

/** A Service informer in the current scope, keeping cached Services (each as its list page comes in). */
export const serviceInformer = (
  api: Informer.ListWatch<ServiceView>
): Effect.Effect<Informer.Informer<ServiceView>, never, Scope.Scope> => {
  const shared = serviceSharing()
  const keep = keepers((service: ServiceView) => cachedService(service, shared))
  return Informer.make(
    "services",
    { list: Effect.locally(api.list, ServiceApi.listKeep, keep.list), watch: api.watch },
    { keep: keep.informer }
  )
}
