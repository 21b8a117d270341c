/**
 * The Kubernetes semantics of the service controller, as the upstream library has them
 * (reference ccm-framework A3): which Services want a load balancer or a cleanup, which changes
 * need a sync, which Nodes are backends, and the status a result publishes. Pure.
 */
import { Option } from "effect"
import { createHash } from "node:crypto"
import type { EndpointSliceView } from "../kubernetes/EndpointSliceView.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import type { LoadBalancerIngress, ServiceView } from "../kubernetes/ServiceView.js"
import type { NodeRef } from "../provider/InstanceLookup.js"
import * as Annotations from "../provider/loadbalancer/Annotations.js"
import type { LbService } from "../provider/loadbalancer/LbSpec.js"
import { nodeRef } from "./NodePlan.js"

export const FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
export const EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
export const TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"

export const serviceKey = (service: ServiceView): string => `${service.metadata.namespace}/${service.metadata.name}`

/** `type: LoadBalancer` without a `loadBalancerClass` (any class, even ours by name, is someone else's). */
export const wantsLoadBalancer = (service: ServiceView): boolean =>
  service.spec.type === "LoadBalancer" && (service.spec.loadBalancerClass ?? "") === ""

export const hasFinalizer = (service: ServiceView): boolean => service.metadata.finalizers.includes(FINALIZER)

/** The Service is being deleted or stopped being a LoadBalancer, and this controller still holds it. */
export const needsCleanup = (service: ServiceView): boolean =>
  hasFinalizer(service) && (service.metadata.deletionTimestamp !== undefined || !wantsLoadBalancer(service))

/** Annotations without the ones the controller writes itself (its own writes never trigger a sync). */
const userAnnotations = (service: ServiceView): ReadonlyArray<readonly [string, string]> =>
  Object.entries(service.metadata.annotations).filter(([k]) => !Annotations.managedKeys.has(k)).sort((
    [a],
    [b]
  ) => (a < b ? -1 : 1))

/**
 * Everything of a Service its load balancer depends on, as one comparable string: a change of it
 * needs a full ensure; status, finalizers, labels and the controller's own annotations do not.
 */
export const specSignature = (service: ServiceView): string =>
  JSON.stringify([
    service.metadata.uid,
    wantsLoadBalancer(service),
    service.spec.ports.map((p) => [p.name, p.protocol, p.port, p.nodePort]),
    [...service.spec.loadBalancerSourceRanges].sort(),
    service.spec.loadBalancerIP ?? "",
    service.spec.sessionAffinity ?? "None",
    service.spec.externalTrafficPolicy ?? "Cluster",
    service.spec.healthCheckNodePort ?? 0,
    userAnnotations(service)
  ])

/** The spec signature as a SHA-256 digest: what the controller remembers of each converged Service. */
export const specDigest = (service: ServiceView): string =>
  createHash("sha256").update(specSignature(service)).digest("base64")

/** Whether an update of a Service needs a sync (upstream's needsUpdate, restricted to what we use). */
export const needsUpdate = (previous: ServiceView, current: ServiceView): boolean =>
  specSignature(previous) !== specSignature(current) || needsCleanup(current) ||
  (previous.metadata.deletionTimestamp === undefined) !== (current.metadata.deletionTimestamp === undefined)

/** Go's strconv.ParseBool falsehoods: only these keep a node that carries the exclusion label. */
const FALSE_VALUES = new Set(["0", "f", "F", "false", "FALSE", "False"])

/** upstream's stableNodeSetPredicates: not being deleted, not excluded, not being scaled down. */
export const isEligible = (node: NodeView): boolean => {
  if (node.metadata.deletionTimestamp !== undefined) return false
  const exclude = node.metadata.labels[EXCLUDE_LABEL]
  if (exclude !== undefined && !FALSE_VALUES.has(exclude)) return false
  return !node.spec.taints.some((t) => t.key === TO_BE_DELETED_TAINT)
}

/** What of a Node can change its membership (a heartbeat never does). */
export const membershipFacts = (node: NodeView): string => JSON.stringify([isEligible(node), node.spec.providerID])

/** The nodes with a ready endpoint of the Service (externalTrafficPolicy: Local). */
export const nodesWithReadyEndpoints = (
  service: ServiceView,
  slices: ReadonlyArray<EndpointSliceView>
): ReadonlySet<string> => {
  const out = new Set<string>()
  for (const slice of slices) {
    if (slice.metadata.namespace !== service.metadata.namespace) continue
    if (slice.metadata.labels["kubernetes.io/service-name"] !== service.metadata.name) continue
    for (const e of slice.endpoints) if (e.ready && e.nodeName !== undefined) out.add(e.nodeName)
  }
  return out
}

const byName = (a: NodeRef, b: NodeRef) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/**
 * The backends of every Service without `externalTrafficPolicy: Local`, by node list: the informer
 * answers the same list while its cache is unchanged, and the syncs in flight share one answer.
 */
const clusterBackends = new WeakMap<ReadonlyArray<NodeView>, ReadonlyArray<NodeRef>>()

/** The backends of a Service: eligible nodes, and with `externalTrafficPolicy: Local` only those with a ready endpoint. */
export const backends = (
  service: ServiceView,
  nodes: ReadonlyArray<NodeView>,
  slices: ReadonlyArray<EndpointSliceView>
): ReadonlyArray<NodeRef> => {
  if (service.spec.externalTrafficPolicy !== "Local") {
    const known = clusterBackends.get(nodes)
    if (known !== undefined) return known
    const all = nodes.filter(isEligible).map(nodeRef).sort(byName)
    clusterBackends.set(nodes, all)
    return all
  }
  const local = nodesWithReadyEndpoints(service, slices)
  return nodes.filter((n) => isEligible(n) && local.has(n.metadata.name)).map(nodeRef).sort(byName)
}

/**
 * The key of each backend list still in use: the syncs of every Service without
 * `externalTrafficPolicy: Local` share one list (`backends`), whose key would otherwise be joined
 * and hashed again for each of them (a string of every Node, per sync).
 */
const backendKeys = new WeakMap<ReadonlyArray<NodeRef>, string>()

/**
 * upstream's nodesSufficientlyEqual: the set of node name → providerID, as a SHA-256 digest. The
 * controller keeps one per Service: the joined list itself is ~60 bytes per Node, so 2,000
 * Services over 5,000 Nodes would keep 600 MB of equal strings.
 */
export const backendsKey = (nodes: ReadonlyArray<NodeRef>): string => {
  const known = backendKeys.get(nodes)
  if (known !== undefined) return known
  const key = createHash("sha256").update(nodes.map((n) => `${n.name}=${n.providerID}`).join(",")).digest("base64")
  backendKeys.set(nodes, key)
  return key
}

/** The plain Service data the provider takes. */
export const toLbService = (service: ServiceView): LbService => ({
  namespace: service.metadata.namespace,
  name: service.metadata.name,
  uid: service.metadata.uid,
  annotations: service.metadata.annotations,
  ports: service.spec.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port, nodePort: p.nodePort })),
  loadBalancerIP: service.spec.loadBalancerIP ?? undefined,
  loadBalancerSourceRanges: service.spec.loadBalancerSourceRanges,
  sessionAffinity: service.spec.sessionAffinity ?? undefined,
  ingress: service.status.loadBalancer.ingress.flatMap((i) => (i.ip === undefined || i.ip === null ? [] : [i.ip]))
})

/** No controller has acted on it: no finalizer, no status, no record of an IP. */
export const isFresh = (service: ServiceView): boolean =>
  !hasFinalizer(service) && service.status.loadBalancer.ingress.length === 0 &&
  service.metadata.annotations[Annotations.IP_ID] === undefined &&
  service.metadata.annotations[Annotations.IP_ALLOCATING] === undefined

/** The ingress a result publishes: the hostname annotation wins, else the IP (ipMode Proxy for PROXY protocol). */
export const ingressOf = (
  address: Option.Option<string>,
  hostname: Option.Option<string>,
  proxyProtocol: boolean
): ReadonlyArray<LoadBalancerIngress> =>
  Option.match(hostname, {
    onSome: (h) => (Option.isSome(address) ? [{ hostname: h }] : []),
    onNone: () =>
      Option.match(address, { onNone: () => [], onSome: (ip) => [{ ip, ipMode: proxyProtocol ? "Proxy" : "VIP" }] })
  })

/** Ingress lists compare equal, ignoring ipMode where the server does not keep it (before 1.29). */
export const sameIngress = (
  a: ReadonlyArray<LoadBalancerIngress>,
  b: ReadonlyArray<LoadBalancerIngress>,
  withIpMode: boolean
): boolean =>
  a.length === b.length &&
  a.every((x, i) => {
    const y = b[i]
    return y !== undefined && (x.ip ?? "") === (y.ip ?? "") && (x.hostname ?? "") === (y.hostname ?? "") &&
      (!withIpMode || (x.ipMode ?? "") === (y.ipMode ?? ""))
  })

export interface Claims {
  /** IP ids and addresses other Services record (annotations, status): never adopted or released as ours. */
  readonly recorded: ReadonlySet<string>
  /** Addresses other Services are associating right now (their `...-ip-allocating` record). */
  readonly associating: ReadonlySet<string>
  /** Addresses other Services ask for: never picked as a free address. */
  readonly requested: ReadonlySet<string>
}

/** What one Service holds or asks for (the values `Claims` gathers from the others). */
const claimsOfOne = (s: ServiceView): {
  readonly recorded: ReadonlyArray<string>
  readonly associating: ReadonlyArray<string>
  readonly requested: ReadonlyArray<string>
} => {
  const a = s.metadata.annotations
  const recorded: Array<string> = []
  for (const key of [Annotations.IP_ID, Annotations.IP_ALLOCATING]) {
    const v = a[key]
    if (v !== undefined && v !== "") recorded.push(v)
  }
  for (const ingress of s.status.loadBalancer.ingress) {
    if (ingress.ip !== undefined && ingress.ip !== null) recorded.push(ingress.ip)
  }
  const allocating = a[Annotations.IP_ALLOCATING]
  const associating = allocating !== undefined && allocating !== "" ? [allocating] : []
  const requested = [s.spec.loadBalancerIP ?? "", a[Annotations.ADDRESS] ?? ""].filter((v) => v !== "")
  return { recorded, associating, requested }
}

/** What Services other than `self` hold or ask for. */
export const claimsOf = (services: ReadonlyArray<ServiceView>, self: string): Claims => {
  const recorded = new Set<string>()
  const requested = new Set<string>()
  const associating = new Set<string>()
  for (const s of services) {
    if (serviceKey(s) === self) continue
    const c = claimsOfOne(s)
    for (const v of c.recorded) recorded.add(v)
    for (const v of c.associating) associating.add(v)
    for (const v of c.requested) requested.add(v)
  }
  return { recorded, requested, associating }
}

/**
 * Value -> the key of the Service that claims it, or the keys when several do (rare). A Set per value
 * would cost ~200 bytes each: every worker's sync holds an index over every Service's IPs while its
 * ensure runs, thousands of values each.
 */
type Claimants = ReadonlyMap<string, string | ReadonlyArray<string>>

/**
 * Every Service's claims at once, built in one pass: `claimsOf(services, self)` for each of S
 * Services is O(S²), and the service controller asks it for every Service it syncs.
 */
export interface ClaimIndex {
  /** `claimsOf(services, self).<kind>.has(value)`, without building the sets. */
  readonly claimedElsewhere: (kind: keyof Claims, value: string, self: string) => boolean
}

export const claimIndex = (services: ReadonlyArray<ServiceView>): ClaimIndex => {
  const index: Record<keyof Claims, Map<string, string | Array<string>>> = {
    recorded: new Map(),
    associating: new Map(),
    requested: new Map()
  }
  for (const s of services) {
    const key = serviceKey(s)
    const c = claimsOfOne(s)
    for (const kind of ["recorded", "associating", "requested"] as const) {
      for (const v of c[kind]) {
        const owners = index[kind].get(v)
        if (owners === undefined) index[kind].set(v, key)
        else if (typeof owners === "string") {
          if (owners !== key) index[kind].set(v, [owners, key])
        } else if (!owners.includes(key)) owners.push(key)
      }
    }
  }
  const elsewhere = (owners: string | ReadonlyArray<string> | undefined, self: string) =>
    owners !== undefined && (typeof owners === "string" ? owners !== self : owners.some((o) => o !== self))
  const byKind: Record<keyof Claims, Claimants> = index
  return { claimedElsewhere: (kind, value, self) => elsewhere(byKind[kind].get(value), self) }
}

/**
 * `claimIndex` of the last list given, rebuilt only when the list is another array: an informer's
 * `list` answers the same array until its cache changes, so a drift pass builds it once.
 */
export const lastClaimIndex = (): (services: ReadonlyArray<ServiceView>) => ClaimIndex => {
  let last: { readonly services: ReadonlyArray<ServiceView>; readonly index: ClaimIndex } | undefined
  return (services) => {
    if (last === undefined || last.services !== services) last = { services, index: claimIndex(services) }
    return last.index
  }
}
