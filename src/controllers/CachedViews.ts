/**
 * What the controllers' informers keep of each Node and Service: every one of the cluster, for the
 * life of the process, so only what the controllers read. A Node keeps the labels and annotation
 * they read (instance type, zone and region with their beta twins, the load-balancer exclusion,
 * provided-node-ip) and its Ready condition, the rest of its view whole; a Service all but its
 * labels. Neither keeps its creationTimestamp: the node controller times an initialisation from the
 * Node its update returned. Label values many Nodes repeat (zones, instance types) are held once per informer. Reads
 * through NodeApi and ServiceApi still answer whole views. Pure, apart from the informers it starts.
 */
import type { Effect, Scope } from "effect"
import * as Informer from "../kubernetes/Informer.js"
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
 * What a Node informer keeps of a Node, the text many Nodes repeat (label values, taint keys and
 * effects) shared through `share`. Lists are built to their exact length (a filtered array keeps
 * room for 16).
 */
export const cachedNode = (node: NodeView, share: (value: string) => string = same): NodeView => {
  const ready = node.status.conditions.find((c) => c.type === "Ready")
  const { creationTimestamp: _, ...metadata } = node.metadata
  return {
    metadata: {
      ...metadata,
      labels: pick(node.metadata.labels, NODE_LABELS, share),
      annotations: pick(node.metadata.annotations, NODE_ANNOTATIONS, same)
    },
    spec: {
      providerID: node.spec.providerID,
      taints: node.spec.taints.map((t) => ({ ...t, key: share(t.key), effect: share(t.effect) }))
    },
    status: { addresses: node.status.addresses, conditions: ready === undefined ? [] : [ready] }
  }
}

/** What a Service informer keeps of a Service. */
export const cachedService = (service: ServiceView): ServiceView => {
  const { creationTimestamp: _, ...metadata } = service.metadata
  return { ...service, metadata: { ...metadata, labels: NONE } }
}

/** A Node informer in the current scope, keeping cached Nodes. */
export const nodeInformer = (
  api: Informer.ListWatch<NodeView>
): Effect.Effect<Informer.Informer<NodeView>, never, Scope.Scope> => {
  const share = sharing<string>(SHARED_VALUES)
  return Informer.make("nodes", api, { keep: (node) => cachedNode(node, share) })
}

/** A Service informer in the current scope, keeping cached Services. */
export const serviceInformer = (
  api: ServiceApi["Type"]
): Effect.Effect<Informer.Informer<ServiceView>, never, Scope.Scope> =>
  Informer.make("services", api, { keep: cachedService })
