/**
 * What the controllers' informers keep of each Node and Service: every one of the cluster, for the
 * life of the process, so only what the controllers read. A Node keeps the labels and annotation
 * they read (instance type, zone and region with their beta twins, the load-balancer exclusion,
 * provided-node-ip) and its Ready condition, the rest of its view whole; a Service all but its
 * labels. Label values many Nodes repeat (zones, instance types) are held once per informer. Reads
 * through NodeApi and ServiceApi still answer whole views. Pure, apart from the informers it starts.
 */
import type { Effect, Scope } from "effect"
import * as Informer from "../kubernetes/Informer.js"
import type { NodeApi } from "../kubernetes/NodeApi.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import type { ServiceApi } from "../kubernetes/ServiceApi.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import { PROVIDED_NODE_IP_ANNOTATION } from "../provider/NodeAddresses.js"
import { sharing } from "../provider/Sharing.js"
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

/** Distinct label values an informer shares; past it a value is kept as it came. */
const SHARED_VALUES = 1024

const pick = (
  map: Readonly<Record<string, string>>,
  keys: ReadonlySet<string>,
  share: (value: string) => string
): Readonly<Record<string, string>> => {
  const kept: Record<string, string> = {}
  for (const [key, value] of Object.entries(map)) if (keys.has(key)) kept[key] = share(value)
  return kept
}

const same = (value: string) => value

/** What a Node informer keeps of a Node, its label values shared through `share`. */
export const cachedNode = (node: NodeView, share: (value: string) => string = same): NodeView => ({
  metadata: {
    ...node.metadata,
    labels: pick(node.metadata.labels, NODE_LABELS, share),
    annotations: pick(node.metadata.annotations, NODE_ANNOTATIONS, same)
  },
  spec: node.spec,
  status: {
    addresses: node.status.addresses,
    conditions: node.status.conditions.filter((c) => c.type === "Ready")
  }
})

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({})

/** What a Service informer keeps of a Service. */
export const cachedService = (service: ServiceView): ServiceView => ({
  ...service,
  metadata: { ...service.metadata, labels: NO_LABELS }
})

/** A Node informer in the current scope, keeping cached Nodes. */
export const nodeInformer = (api: NodeApi["Type"]): Effect.Effect<Informer.Informer<NodeView>, never, Scope.Scope> => {
  const share = sharing<string>(SHARED_VALUES)
  return Informer.make("nodes", api, { keep: (node) => cachedNode(node, share) })
}

/** A Service informer in the current scope, keeping cached Services. */
export const serviceInformer = (
  api: ServiceApi["Type"]
): Effect.Effect<Informer.Informer<ServiceView>, never, Scope.Scope> =>
  Informer.make("services", api, { keep: cachedService })
