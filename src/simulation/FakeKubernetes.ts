/**
 * An in-memory Kubernetes API behind the same Tags as the live layers (NodeApi, ServiceApi,
 * EndpointSliceApi, EventApi, LeaseApi), enforcing what the real server enforces and controllers
 * rely on: one global resourceVersion counter, watches resumable from the past (410 when too old),
 * 409 on stale writes, 422 on changing a set providerID, finalizers with deletionTimestamp, and
 * status/spec separation. The `FakeKubernetes` Tag adds inspection, fault injection, and the parts
 * of kubelet and kube-controller-manager the CCM depends on (Ready condition, not-ready taints).
 */
import { Context, DateTime, Effect, HashMap, Layer, Option, Random, Ref, Schema, Stream } from "effect"
import { EndpointSliceApi } from "../kubernetes/EndpointSliceApi.js"
import type { EndpointSliceView } from "../kubernetes/EndpointSliceView.js"
import { EventApi, type EventCreate } from "../kubernetes/EventApi.js"
import { eventNamespace, type EventView } from "../kubernetes/EventView.js"
import { KubeApiError } from "../kubernetes/KubeError.js"
import { type Lease, LeaseApi } from "../kubernetes/LeaseApi.js"
import { NodeApi, type NodeCreate, type NodeUpdate } from "../kubernetes/NodeApi.js"
import type { NodeAddress, NodeCondition, NodeView, Taint } from "../kubernetes/NodeView.js"
import { newMeta, type ObjectMeta, objectKey } from "../kubernetes/ObjectMeta.js"
import { keepNodePorts, nextFinalizers, ServiceApi, type ServiceChange, type ServiceCreate } from "../kubernetes/ServiceApi.js"
import type { LoadBalancerIngress, ServiceView } from "../kubernetes/ServiceView.js"
import { WatchEvent } from "../kubernetes/WatchEvent.js"
import * as WatchChannel from "./kubernetes/WatchChannel.js"

type Verb = KubeApiError["verb"]

/** A failure to inject: the next `times` calls of `verb` on `resource` fail with `reason`. */
export interface InjectedFailure {
  readonly verb: Verb
  readonly resource: "nodes" | "services" | "endpointslices" | "events" | "leases"
  readonly reason: KubeApiError["reason"]
  readonly times?: number
}

/** A Node condition's status. */
export type ConditionStatus = "True" | "False" | "Unknown"

/**
 * The Ready condition as kubelet writes it. The fake stores these fields, as the real server does;
 * NodeView keeps only type and status (all the controllers read), so decoded caches stay small.
 */
export const ReportedCondition = Schema.Struct({
  type: Schema.String,
  status: Schema.String,
  reason: Schema.String,
  /** When kubelet last posted the condition. */
  lastHeartbeatTime: Schema.String,
  /** When `status` last changed. */
  lastTransitionTime: Schema.String
})
export type ReportedCondition = typeof ReportedCondition.Type

/** A stored Node's Ready condition with kubelet's reason and times; None before any report. */
export const reportedReady = (node: NodeView): Option.Option<ReportedCondition> =>
  Option.flatMap(
    Option.fromNullable(node.status.conditions.find((c) => c.type === "Ready")),
    Schema.decodeUnknownOption(ReportedCondition)
  )

export class FakeKubernetes extends Context.Tag("cloudstack-ccm/simulation/FakeKubernetes")<FakeKubernetes, {
  readonly nodes: Effect.Effect<ReadonlyArray<NodeView>>
  readonly services: Effect.Effect<ReadonlyArray<ServiceView>>
  readonly endpointSlices: Effect.Effect<ReadonlyArray<EndpointSliceView>>
  /** Every Event of every namespace. */
  readonly events: Effect.Effect<ReadonlyArray<EventView>>
  readonly leases: Effect.Effect<ReadonlyArray<Lease>>
  /** Creates or replaces an EndpointSlice (the endpoint-slice controller's job in a real cluster). */
  readonly putEndpointSlice: (slice: EndpointSliceView) => Effect.Effect<EndpointSliceView>
  readonly deleteEndpointSlice: (namespace: string, name: string) => Effect.Effect<void>
  /** Compacts history and ends every open watch with 410 Gone: watchers must relist. */
  readonly expireWatches: Effect.Effect<void>
  /** Ends every open watch with a transport error (a dropped connection); history is kept. */
  readonly breakWatches: Effect.Effect<void>
  readonly failNext: (failure: InjectedFailure) => Effect.Effect<void>
  /**
   * Sets the Node's Ready condition through the status subresource (new resourceVersion, a
   * Modified event, spec untouched), as kubelet's status report does ("True"/"False", heartbeat
   * now) or kube-controller-manager once kubelet stopped posting ("Unknown", heartbeat kept).
   * Then, in a second write as kube-controller-manager's node-lifecycle controller, the taint for
   * the condition: none when Ready, `not-ready` when False, `unreachable` when Unknown (NoSchedule;
   * the NoExecute eviction taints are not modelled). NotFound if there is no such Node.
   */
  readonly setNodeReady: (name: string, status: ConditionStatus) => Effect.Effect<NodeView, KubeApiError>
}>() {}

export interface FakeKubernetesOptions {
  /** Watch events kept per resource for resuming; older versions are Gone. Default 1000. */
  readonly historyLimit?: number
}

interface State {
  readonly version: number
  readonly nodes: HashMap.HashMap<string, NodeView>
  readonly services: HashMap.HashMap<string, ServiceView>
  readonly slices: HashMap.HashMap<string, EndpointSliceView>
  readonly events: HashMap.HashMap<string, EventView>
  readonly leases: HashMap.HashMap<string, Lease>
  readonly nextNodePort: number
  readonly failures: ReadonlyArray<InjectedFailure>
}

/** The first resourceVersion handed out; watching from below it is Gone, as on a long-lived server. */
const FIRST_VERSION = 1000

const fail = (verb: Verb, resource: string, name: string, reason: KubeApiError["reason"], status: number, detail: string) =>
  new KubeApiError({ verb, resource, name, reason, status, detail })

const notFound = (verb: Verb, resource: string, name: string) =>
  fail(verb, resource, name, "NotFound", 404, `${resource} "${name}" not found`)

const conflict = (verb: Verb, resource: string, name: string) =>
  fail(
    verb,
    resource,
    name,
    "Conflict",
    409,
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`
  )

const STATUS_OF_REASON: Partial<Record<KubeApiError["reason"], number>> = {
  NotFound: 404,
  Conflict: 409,
  AlreadyExists: 409,
  Invalid: 422,
  Gone: 410,
  Forbidden: 403,
  Unauthorized: 401,
  Unavailable: 503
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const mergeMap = (
  current: Readonly<Record<string, string>>,
  patch: Readonly<Record<string, string | null>>
): Record<string, string> => {
  const next: Record<string, string> = { ...current }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key]
    else next[key] = value
  }
  return next
}

/** The TaintNodesByCondition admission plugin taints every new Node not-ready until kubelet reports. */
const withNotReadyTaint = (taints: ReadonlyArray<Taint>): ReadonlyArray<Taint> =>
  taints.some((taint) => taint.key === "node.kubernetes.io/not-ready")
    ? taints
    : [...taints, { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }]

const TAINT_NOT_READY = "node.kubernetes.io/not-ready"
const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"

/** kube-controller-manager's NoSchedule taint for a Ready status (doNoScheduleTaintingPass); others kept. */
const conditionTaints = (taints: ReadonlyArray<Taint>, ready: ConditionStatus): ReadonlyArray<Taint> => {
  const wanted = ready === "False" ? TAINT_NOT_READY : ready === "Unknown" ? TAINT_UNREACHABLE : undefined
  const others = taints.filter((t) => !((t.key === TAINT_NOT_READY || t.key === TAINT_UNREACHABLE) && t.effect === "NoSchedule"))
  const kept = taints.filter((t) => t.key === wanted && t.effect === "NoSchedule")
  return wanted === undefined ? others : kept.length > 0 ? taints : [...others, { key: wanted, effect: "NoSchedule" }]
}

/** The reason kubelet (True/False) or kube-controller-manager (Unknown) gives a Ready condition. */
const READY_REASON: Record<ConditionStatus, string> = {
  True: "KubeletReady",
  False: "KubeletNotReady",
  Unknown: "NodeStatusUnknown"
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** The API server's label validation (metav1validation.ValidateLabels): the first problem, if any. */
export const labelProblem = (labels: Readonly<Record<string, string | null>>): string | undefined => {
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf("/")
    const prefix = slash === -1 ? "" : key.slice(0, slash)
    const name = slash === -1 ? key : key.slice(slash + 1)
    if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name) || (slash !== -1 && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))) {
      return `metadata.labels: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.'`
    }
    if (value !== null && value !== "" && (value.length > 63 || !LABEL_NAME.test(value))) {
      return `metadata.labels: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`
    }
  }
  return undefined
}

const withVersion = (meta: ObjectMeta, version: number): ObjectMeta => ({ ...meta, resourceVersion: String(version) })

export const make = (options: FakeKubernetesOptions = {}) =>
  Effect.gen(function*() {
    const historyLimit = options.historyLimit ?? 1000
    const state = yield* Ref.make<State>({
      version: FIRST_VERSION,
      nodes: HashMap.empty(),
      services: HashMap.empty(),
      slices: HashMap.empty(),
      events: HashMap.empty(),
      leases: HashMap.empty(),
      nextNodePort: 30000,
      failures: []
    })
    // One lock orders every write and watch subscription, so versions are published in order.
    const lock = yield* Effect.makeSemaphore(1)
    const nodeFeed = yield* WatchChannel.make<NodeView>("nodes", FIRST_VERSION, historyLimit)
    const serviceFeed = yield* WatchChannel.make<ServiceView>("services", FIRST_VERSION, historyLimit)
    const sliceFeed = yield* WatchChannel.make<EndpointSliceView>("endpointslices", FIRST_VERSION, historyLimit)

    const locked = <A, E, R>(effect: Effect.Effect<A, E, R>) => lock.withPermits(1)(effect)

    const nextVersion = Ref.modify(state, (s) => [s.version + 1, { ...s, version: s.version + 1 }] as const)
    const uid = Effect.gen(function*() {
      const hex = (n: number) => n.toString(16).padStart(8, "0")
      const parts = yield* Effect.all([0, 1, 2, 3].map(() => Random.nextIntBetween(0, 0x7fffffff)))
      const [a = 0, b = 0, c = 0, d = 0] = parts
      const h = `${hex(a)}${hex(b)}${hex(c)}${hex(d)}`
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
    })
    // Kubernetes Time has second precision.
    const timestamp = Effect.map(DateTime.now, (now) => `${DateTime.formatIso(now).slice(0, 19)}Z`)

    /** Consumes an injected failure for (verb, resource), if any. */
    const injected = (verb: Verb, resource: InjectedFailure["resource"], name: string) =>
      Effect.flatMap(
        Ref.modify(state, (s): readonly [Option.Option<InjectedFailure>, State] => {
          const index = s.failures.findIndex((f) => f.verb === verb && f.resource === resource)
          const found = s.failures[index]
          if (found === undefined) return [Option.none(), s]
          const times = (found.times ?? 1) - 1
          const failures = times <= 0
            ? s.failures.filter((_, i) => i !== index)
            : s.failures.map((f, i) => i === index ? { ...f, times } : f)
          return [Option.some(found), { ...s, failures }]
        }),
        Option.match({
          onNone: () => Effect.void,
          onSome: (f) => Effect.fail(new KubeApiError({ verb, resource, name, reason: f.reason, status: STATUS_OF_REASON[f.reason], detail: "injected failure" }))
        })
      )

    const get = <A>(select: (s: State) => HashMap.HashMap<string, A>, key: string) =>
      Effect.map(Ref.get(state), (s) => HashMap.get(select(s), key))

    const watchOf = <A>(feed: WatchChannel.WatchChannel<A>, resource: InjectedFailure["resource"]) => (resourceVersion: string) =>
      Stream.unwrapScoped(
        Effect.zipRight(
          injected("watch", resource, ""),
          locked(Effect.flatMap(Ref.get(state), (s) => feed.subscribe(resourceVersion, s.version)))
        )
      )

    const listOf = <A>(select: (s: State) => HashMap.HashMap<string, A>, resource: InjectedFailure["resource"]) =>
      Effect.zipRight(
        injected("list", resource, ""),
        Effect.map(Ref.get(state), (s) => ({
          items: Array.from(HashMap.values(select(s))),
          resourceVersion: String(s.version)
        }))
      )

    // ---- Nodes ----
    const storeNode = (node: NodeView, kind: "Added" | "Modified") =>
      Effect.gen(function*() {
        const version = yield* nextVersion
        const stored: NodeView = { ...node, metadata: withVersion(node.metadata, version) }
        yield* Ref.update(state, (s) => ({ ...s, nodes: HashMap.set(s.nodes, stored.metadata.name, stored) }))
        yield* nodeFeed.publish(version, kind === "Added" ? WatchEvent.Added({ object: stored }) : WatchEvent.Modified({ object: stored }))
        return stored
      })

    const removeNode = (node: NodeView) =>
      Effect.gen(function*() {
        const version = yield* nextVersion
        const gone: NodeView = { ...node, metadata: withVersion(node.metadata, version) }
        yield* Ref.update(state, (s) => ({ ...s, nodes: HashMap.remove(s.nodes, node.metadata.name) }))
        yield* nodeFeed.publish(version, WatchEvent.Deleted({ object: gone }))
      })

    const nodeApi = NodeApi.of({
      list: listOf((s) => s.nodes, "nodes"),
      watch: watchOf(nodeFeed, "nodes"),
      get: (name) => Effect.zipRight(injected("get", "nodes", name), get((s) => s.nodes, name)),
      create: (input: NodeCreate) =>
        locked(Effect.gen(function*() {
          yield* injected("create", "nodes", input.name)
          if (Option.isSome(yield* get((s) => s.nodes, input.name))) {
            return yield* fail("create", "nodes", input.name, "AlreadyExists", 409, `nodes "${input.name}" already exists`)
          }
          const invalid = labelProblem(input.labels ?? {})
          if (invalid !== undefined) return yield* fail("create", "nodes", input.name, "Invalid", 422, `Node "${input.name}" is invalid: ${invalid}`)
          const node: NodeView = {
            metadata: {
              ...newMeta({ name: input.name, labels: input.labels ?? {}, annotations: input.annotations ?? {} }),
              uid: yield* uid,
              creationTimestamp: yield* timestamp
            },
            spec: { providerID: input.providerID ?? "", taints: withNotReadyTaint(input.taints ?? []) },
            // Nodes, unlike most objects, keep the status given on create (kubelet registers that way).
            status: { addresses: input.addresses ?? [], conditions: [] }
          }
          return yield* storeNode(node, "Added")
        })),
      update: (change: NodeUpdate) =>
        locked(Effect.gen(function*() {
          yield* injected("patch", "nodes", change.name)
          const found = yield* get((s) => s.nodes, change.name)
          if (Option.isNone(found)) return yield* notFound("patch", "nodes", change.name)
          const node = found.value
          if (node.metadata.resourceVersion !== change.resourceVersion) return yield* conflict("patch", "nodes", change.name)
          const invalid = labelProblem(change.labels ?? {})
          if (invalid !== undefined) return yield* fail("patch", "nodes", change.name, "Invalid", 422, `Node "${change.name}" is invalid: ${invalid}`)
          if (change.providerID !== undefined && node.spec.providerID !== "" && change.providerID !== node.spec.providerID) {
            return yield* fail(
              "patch",
              "nodes",
              change.name,
              "Invalid",
              422,
              `Node "${change.name}" is invalid: spec.providerID: Forbidden: node updates may not change providerID except from "" to valid`
            )
          }
          const next: NodeView = {
            ...node,
            metadata: change.labels === undefined
              ? node.metadata
              : { ...node.metadata, labels: mergeMap(node.metadata.labels, change.labels) },
            spec: {
              providerID: change.providerID ?? node.spec.providerID,
              taints: change.taints ?? node.spec.taints
            }
          }
          // A patch that changes nothing is not a write: the version stays.
          return sameJson(next, node) ? node : yield* storeNode(next, "Modified")
        })),
      patchStatusAddresses: (name: string, addresses: ReadonlyArray<NodeAddress>) =>
        locked(Effect.gen(function*() {
          yield* injected("patch", "nodes", name)
          const found = yield* get((s) => s.nodes, name)
          if (Option.isNone(found)) return yield* notFound("patch", "nodes/status", name)
          const node = found.value
          const next: NodeView = { ...node, status: { ...node.status, addresses } }
          return sameJson(next, node) ? node : yield* storeNode(next, "Modified")
        })),
      delete: (name: string, expectedUid: string) =>
        locked(Effect.gen(function*() {
          yield* injected("delete", "nodes", name)
          const found = yield* get((s) => s.nodes, name)
          if (Option.isNone(found)) return yield* notFound("delete", "nodes", name)
          const node = found.value
          if (node.metadata.uid !== expectedUid) {
            return yield* fail(
              "delete",
              "nodes",
              name,
              "Conflict",
              409,
              `Precondition failed: UID in precondition: ${expectedUid}, UID in object meta: ${node.metadata.uid}`
            )
          }
          if (node.metadata.finalizers.length > 0) {
            if (node.metadata.deletionTimestamp === undefined) {
              yield* storeNode({ ...node, metadata: { ...node.metadata, deletionTimestamp: yield* timestamp } }, "Modified")
            }
            return
          }
          yield* removeNode(node)
        }))
    })

    // ---- Services ----
    const storeService = (service: ServiceView, kind: "Added" | "Modified") =>
      Effect.gen(function*() {
        const version = yield* nextVersion
        const stored: ServiceView = { ...service, metadata: withVersion(service.metadata, version) }
        yield* Ref.update(state, (s) => ({ ...s, services: HashMap.set(s.services, objectKey(stored), stored) }))
        yield* serviceFeed.publish(
          version,
          kind === "Added" ? WatchEvent.Added({ object: stored }) : WatchEvent.Modified({ object: stored })
        )
        return stored
      })

    const removeService = (service: ServiceView) =>
      Effect.gen(function*() {
        const version = yield* nextVersion
        const gone: ServiceView = { ...service, metadata: withVersion(service.metadata, version) }
        yield* Ref.update(state, (s) => ({ ...s, services: HashMap.remove(s.services, objectKey(service)) }))
        yield* serviceFeed.publish(version, WatchEvent.Deleted({ object: gone }))
      })

    const serviceKey = (namespace: string, name: string) => `${namespace}/${name}`

    const allocateNodePorts = (service: Pick<ServiceCreate, "type" | "ports">) =>
      Ref.modify(state, (s) => {
        let next = s.nextNodePort
        const wantsNodePorts = service.type === "NodePort" || service.type === "LoadBalancer"
        const ports = service.ports.map((port) => {
          const nodePort = port.nodePort !== undefined && port.nodePort !== 0
            ? port.nodePort
            : wantsNodePorts
            ? next++
            : 0
          return { name: port.name ?? "", protocol: port.protocol ?? "TCP" as const, port: port.port, nodePort }
        })
        return [ports, { ...s, nextNodePort: next }] as const
      })

    const serviceApi = ServiceApi.of({
      list: listOf((s) => s.services, "services"),
      watch: watchOf(serviceFeed, "services"),
      get: (namespace, name) =>
        Effect.zipRight(injected("get", "services", name), get((s) => s.services, serviceKey(namespace, name))),
      create: (input: ServiceCreate) =>
        locked(Effect.gen(function*() {
          yield* injected("create", "services", input.name)
          if (Option.isSome(yield* get((s) => s.services, serviceKey(input.namespace, input.name)))) {
            return yield* fail("create", "services", input.name, "AlreadyExists", 409, `services "${input.name}" already exists`)
          }
          const invalid = labelProblem(input.labels ?? {})
          if (invalid !== undefined) return yield* fail("create", "services", input.name, "Invalid", 422, `Service "${input.name}" is invalid: ${invalid}`)
          const service: ServiceView = {
            metadata: {
              ...newMeta({
                name: input.name,
                namespace: input.namespace,
                labels: input.labels ?? {},
                annotations: input.annotations ?? {},
                finalizers: input.finalizers ?? []
              }),
              uid: yield* uid
            },
            spec: {
              type: input.type,
              ports: yield* allocateNodePorts(input),
              loadBalancerSourceRanges: input.loadBalancerSourceRanges ?? [],
              ...(input.loadBalancerIP === undefined ? {} : { loadBalancerIP: input.loadBalancerIP }),
              ...(input.loadBalancerClass === undefined ? {} : { loadBalancerClass: input.loadBalancerClass }),
              ...(input.externalTrafficPolicy === undefined
                ? input.type === "ClusterIP" ? {} : { externalTrafficPolicy: "Cluster" as const }
                : { externalTrafficPolicy: input.externalTrafficPolicy }),
              sessionAffinity: input.sessionAffinity ?? "None"
            },
            // The server drops any status sent on create.
            status: { loadBalancer: { ingress: [] } }
          }
          return yield* storeService(service, "Added")
        })),
      delete: (namespace, name) =>
        locked(Effect.gen(function*() {
          yield* injected("delete", "services", name)
          const found = yield* get((s) => s.services, serviceKey(namespace, name))
          if (Option.isNone(found)) return yield* notFound("delete", "services", name)
          const service = found.value
          if (service.metadata.finalizers.length > 0) {
            if (service.metadata.deletionTimestamp === undefined) {
              yield* storeService(
                { ...service, metadata: { ...service.metadata, deletionTimestamp: yield* timestamp } },
                "Modified"
              )
            }
            return
          }
          yield* removeService(service)
        })),
      patchStatus: (namespace, name, ingress: ReadonlyArray<LoadBalancerIngress>) =>
        locked(Effect.gen(function*() {
          yield* injected("patch", "services", name)
          const found = yield* get((s) => s.services, serviceKey(namespace, name))
          if (Option.isNone(found)) return yield* notFound("patch", "services/status", name)
          const service = found.value
          const next: ServiceView = { ...service, status: { loadBalancer: { ingress } } }
          return sameJson(next, service) ? service : yield* storeService(next, "Modified")
        })),
      setFinalizer: (namespace, name, finalizer, present) =>
        locked(Effect.gen(function*() {
          yield* injected("patch", "services", name)
          const found = yield* get((s) => s.services, serviceKey(namespace, name))
          if (Option.isNone(found)) return Option.none<ServiceView>()
          const service = found.value
          const finalizers = nextFinalizers(service.metadata.finalizers, finalizer, present)
          if (finalizers === undefined) return Option.some(service)
          if (present && service.metadata.deletionTimestamp !== undefined) {
            return yield* fail(
              "patch",
              "services",
              name,
              "Invalid",
              422,
              `Service "${name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted`
            )
          }
          const next: ServiceView = { ...service, metadata: { ...service.metadata, finalizers } }
          if (finalizers.length === 0 && service.metadata.deletionTimestamp !== undefined) {
            yield* removeService(next)
            return Option.none<ServiceView>()
          }
          return Option.some(yield* storeService(next, "Modified"))
        })),
      update: (namespace, name, change: ServiceChange) =>
        locked(Effect.gen(function*() {
          yield* injected("patch", "services", name)
          const found = yield* get((s) => s.services, serviceKey(namespace, name))
          if (Option.isNone(found)) return yield* notFound("patch", "services", name)
          const service = found.value
          const type = change.type ?? service.spec.type
          const wantsNodePorts = type === "NodePort" || type === "LoadBalancer"
          const ports = !wantsNodePorts
            ? (change.ports ?? service.spec.ports).map((p) => ({ name: p.name ?? "", protocol: p.protocol ?? "TCP" as const, port: p.port, nodePort: 0 }))
            // As the server: ports without one get a node port (a change from ClusterIP), the others keep theirs.
            : yield* allocateNodePorts({ type: "LoadBalancer", ports: keepNodePorts(service.spec.ports, change.ports ?? service.spec.ports) })
          const { loadBalancerClass: oldClass, loadBalancerIP: _dropped, ...rest } = service.spec
          const loadBalancerIP = change.loadBalancerIP === undefined ? service.spec.loadBalancerIP : change.loadBalancerIP
          // The server's rules for spec.loadBalancerClass: set only with type LoadBalancer, immutable
          // while the Service stays one, dropped when the type leaves LoadBalancer.
          const wasLb = service.spec.type === "LoadBalancer"
          if (change.loadBalancerClass !== undefined && (type !== "LoadBalancer" || (wasLb && change.loadBalancerClass !== oldClass))) {
            const why = type !== "LoadBalancer" ? "may only be used when `type` is 'LoadBalancer'" : "field is immutable"
            return yield* fail("patch", "services", name, "Invalid", 422, `Service "${name}" is invalid: spec.loadBalancerClass: Invalid value: ${why}`)
          }
          const loadBalancerClass = type !== "LoadBalancer" ? undefined : wasLb ? oldClass : change.loadBalancerClass
          const next: ServiceView = {
            ...service,
            spec: {
              ...rest,
              type,
              ports,
              ...(loadBalancerClass === undefined ? {} : { loadBalancerClass }),
              ...(loadBalancerIP === undefined || loadBalancerIP === null ? {} : { loadBalancerIP }),
              loadBalancerSourceRanges: change.loadBalancerSourceRanges ?? service.spec.loadBalancerSourceRanges,
              ...(change.externalTrafficPolicy === undefined ? {} : { externalTrafficPolicy: change.externalTrafficPolicy }),
              ...(change.sessionAffinity === undefined ? {} : { sessionAffinity: change.sessionAffinity })
            }
          }
          return sameJson(next, service) ? service : yield* storeService(next, "Modified")
        })),
      patchAnnotations: (namespace, name, annotations) =>
        locked(Effect.gen(function*() {
          yield* injected("patch", "services", name)
          const found = yield* get((s) => s.services, serviceKey(namespace, name))
          if (Option.isNone(found)) return yield* notFound("patch", "services", name)
          const service = found.value
          const next: ServiceView = {
            ...service,
            metadata: { ...service.metadata, annotations: mergeMap(service.metadata.annotations, annotations) }
          }
          return sameJson(next, service) ? service : yield* storeService(next, "Modified")
        }))
    })

    // ---- EndpointSlices ----
    const endpointSliceApi = EndpointSliceApi.of({
      list: listOf((s) => s.slices, "endpointslices"),
      watch: watchOf(sliceFeed, "endpointslices")
    })

    const putEndpointSlice = (slice: EndpointSliceView) =>
      locked(Effect.gen(function*() {
        const key = objectKey(slice)
        const existing = yield* get((s) => s.slices, key)
        const version = yield* nextVersion
        const stored: EndpointSliceView = {
          ...slice,
          metadata: {
            ...withVersion(slice.metadata, version),
            uid: Option.match(existing, { onNone: () => slice.metadata.uid, onSome: (e) => e.metadata.uid })
          }
        }
        yield* Ref.update(state, (s) => ({ ...s, slices: HashMap.set(s.slices, key, stored) }))
        yield* sliceFeed.publish(
          version,
          Option.isNone(existing) ? WatchEvent.Added({ object: stored }) : WatchEvent.Modified({ object: stored })
        )
        return stored
      }))

    const deleteEndpointSlice = (namespace: string, name: string) =>
      locked(Effect.gen(function*() {
        const key = `${namespace}/${name}`
        const existing = yield* get((s) => s.slices, key)
        if (Option.isNone(existing)) return
        const version = yield* nextVersion
        yield* Ref.update(state, (s) => ({ ...s, slices: HashMap.remove(s.slices, key) }))
        yield* sliceFeed.publish(
          version,
          WatchEvent.Deleted({ object: { ...existing.value, metadata: withVersion(existing.value.metadata, version) } })
        )
      }))

    // ---- Events ----
    const eventApi = EventApi.of({
      create: (event: EventCreate) =>
        locked(Effect.gen(function*() {
          yield* injected("create", "events", event.name)
          const namespace = eventNamespace(event.involvedObject)
          const key = `${namespace}/${event.name}`
          if (Option.isSome(yield* get((s) => s.events, key))) {
            return yield* fail("create", "events", event.name, "AlreadyExists", 409, `events "${event.name}" already exists`)
          }
          const version = yield* nextVersion
          const stored: EventView = {
            metadata: { ...withVersion(newMeta({ name: event.name, namespace }), version), uid: yield* uid },
            involvedObject: event.involvedObject,
            reason: event.reason,
            message: event.message,
            type: event.type,
            count: 1,
            firstTimestamp: event.timestamp,
            lastTimestamp: event.timestamp,
            source: { component: event.component }
          }
          yield* Ref.update(state, (s) => ({ ...s, events: HashMap.set(s.events, key, stored) }))
          return stored
        })),
      bump: (namespace, name, count, lastTimestamp) =>
        locked(Effect.gen(function*() {
          yield* injected("patch", "events", name)
          const key = `${namespace}/${name}`
          const found = yield* get((s) => s.events, key)
          if (Option.isNone(found)) return yield* notFound("patch", "events", name)
          const version = yield* nextVersion
          const stored: EventView = {
            ...found.value,
            metadata: withVersion(found.value.metadata, version),
            count,
            lastTimestamp
          }
          yield* Ref.update(state, (s) => ({ ...s, events: HashMap.set(s.events, key, stored) }))
          return stored
        })),
      list: (namespace) =>
        Effect.zipRight(
          injected("list", "events", ""),
          Effect.map(Ref.get(state), (s) =>
            Array.from(HashMap.values(s.events)).filter((event) => event.metadata.namespace === namespace))
        )
    })

    // ---- Leases ----
    const leaseKey = (lease: { readonly namespace: string; readonly name: string }) => `${lease.namespace}/${lease.name}`
    const storeLease = (lease: Lease) =>
      Effect.gen(function*() {
        const version = yield* nextVersion
        const stored: Lease = { ...lease, resourceVersion: String(version) }
        yield* Ref.update(state, (s) => ({ ...s, leases: HashMap.set(s.leases, leaseKey(stored), stored) }))
        return stored
      })
    const leaseApi = LeaseApi.of({
      get: (namespace, name) =>
        Effect.zipRight(injected("get", "leases", name), get((s) => s.leases, `${namespace}/${name}`)),
      create: (lease) =>
        locked(Effect.gen(function*() {
          yield* injected("create", "leases", lease.name)
          if (Option.isSome(yield* get((s) => s.leases, leaseKey(lease)))) {
            return yield* fail("create", "leases", lease.name, "AlreadyExists", 409, `leases.coordination.k8s.io "${lease.name}" already exists`)
          }
          return yield* storeLease(lease)
        })),
      update: (lease) =>
        locked(Effect.gen(function*() {
          yield* injected("update", "leases", lease.name)
          const found = yield* get((s) => s.leases, leaseKey(lease))
          if (Option.isNone(found)) return yield* notFound("update", "leases", lease.name)
          if (found.value.resourceVersion !== lease.resourceVersion) {
            return yield* conflict("update", "leases.coordination.k8s.io", lease.name)
          }
          return yield* storeLease(lease)
        }))
    })

    const interruptAll = (reason: "Gone" | "Transport") =>
      locked(Effect.gen(function*() {
        const current = (yield* Ref.get(state)).version
        const error = (resource: string) =>
          new KubeApiError({
            verb: "watch",
            resource,
            reason,
            ...(reason === "Gone" ? { status: 410 } : {}),
            detail: reason === "Gone" ? "watch expired (injected)" : "connection reset (injected)"
          })
        const compact = reason === "Gone"
        yield* nodeFeed.interrupt(current, error("nodes"), compact)
        yield* serviceFeed.interrupt(current, error("services"), compact)
        yield* sliceFeed.interrupt(current, error("endpointslices"), compact)
      }))

    const setNodeReady = (name: string, status: ConditionStatus) =>
      locked(Effect.gen(function*() {
        const found = yield* get((s) => s.nodes, name)
        if (Option.isNone(found)) return yield* notFound("patch", "nodes/status", name)
        const node = found.value
        const now = yield* timestamp
        const previous = Option.getOrUndefined(reportedReady(node))
        const ready: ReportedCondition = {
          type: "Ready",
          status,
          reason: READY_REASON[status],
          // "Unknown" is written because heartbeats stopped: the last one stays.
          lastHeartbeatTime: status === "Unknown" ? previous?.lastHeartbeatTime ?? now : now,
          lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now
        }
        const conditions: ReadonlyArray<NodeCondition> = node.status.conditions.some((c) => c.type === "Ready")
          ? node.status.conditions.map((c) => c.type === "Ready" ? ready : c)
          : [...node.status.conditions, ready]
        const reported = yield* storeNode({ ...node, status: { ...node.status, conditions } }, "Modified")
        const taints = conditionTaints(reported.spec.taints, status)
        return sameJson(taints, reported.spec.taints)
          ? reported
          : yield* storeNode({ ...reported, spec: { ...reported.spec, taints } }, "Modified")
      }))

    const fake = FakeKubernetes.of({
      nodes: Effect.map(Ref.get(state), (s) => Array.from(HashMap.values(s.nodes))),
      services: Effect.map(Ref.get(state), (s) => Array.from(HashMap.values(s.services))),
      endpointSlices: Effect.map(Ref.get(state), (s) => Array.from(HashMap.values(s.slices))),
      events: Effect.map(Ref.get(state), (s) => Array.from(HashMap.values(s.events))),
      leases: Effect.map(Ref.get(state), (s) => Array.from(HashMap.values(s.leases))),
      putEndpointSlice,
      deleteEndpointSlice,
      expireWatches: interruptAll("Gone"),
      breakWatches: interruptAll("Transport"),
      failNext: (failure) => Ref.update(state, (s) => ({ ...s, failures: [...s.failures, failure] })),
      setNodeReady
    })

    return { fake, nodeApi, serviceApi, endpointSliceApi, eventApi, leaseApi }
  })

/** All Kubernetes Tags, in memory, plus the FakeKubernetes inspection Tag. */
export const layer = (
  options: FakeKubernetesOptions = {}
): Layer.Layer<FakeKubernetes | NodeApi | ServiceApi | EndpointSliceApi | EventApi | LeaseApi> =>
  Layer.effectContext(
    Effect.map(make(options), (built) =>
      Context.make(FakeKubernetes, built.fake).pipe(
        Context.add(NodeApi, built.nodeApi),
        Context.add(ServiceApi, built.serviceApi),
        Context.add(EndpointSliceApi, built.endpointSliceApi),
        Context.add(EventApi, built.eventApi),
        Context.add(LeaseApi, built.leaseApi)
      ))
  )
