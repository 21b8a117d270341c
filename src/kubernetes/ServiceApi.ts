/**
 * Services (core/v1): what the service controller reads and writes. Status and finalizers go
 * through the status subresource, as the upstream controller does (RBAC `services/status`);
 * annotations through the object. The live layer sits here; FakeKubernetes provides the same Tag.
 */
import * as k8s from "@kubernetes/client-node"
import { Context, Effect, FiberRef, Layer, Option, Schedule, Schema, type Stream } from "effect"
import { KubeClient } from "./KubeClient.js"
import type { KubeApiError } from "./KubeError.js"
import { decodeWith, limitedCall, LIST_PAGE_SIZE, listAll, readOptional } from "./KubeRequest.js"
import { watchPath } from "./KubeWatch.js"
import { decodeService, type LoadBalancerIngress, type ServicePort, ServiceView } from "./ServiceView.js"
import type { ListResult, WatchEvent } from "./WatchEvent.js"

/** A Service to create (tests, demo cluster). Ports default to TCP; node ports are allocated. */
export interface ServiceCreate {
  readonly namespace: string
  readonly name: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  readonly finalizers?: ReadonlyArray<string>
  readonly type: "ClusterIP" | "NodePort" | "LoadBalancer"
  readonly ports: ReadonlyArray<Partial<ServicePort> & { readonly port: number }>
  readonly loadBalancerIP?: string
  readonly loadBalancerSourceRanges?: ReadonlyArray<string>
  readonly loadBalancerClass?: string
  readonly externalTrafficPolicy?: "Cluster" | "Local"
  readonly sessionAffinity?: "None" | "ClientIP"
}

/** A change of a Service's spec (tests, demo cluster); omitted fields are kept. */
export interface ServiceChange {
  readonly type?: ServiceCreate["type"]
  /** Replaces the port list; a port without nodePort keeps the one of the same port and protocol, else gets one. */
  readonly ports?: ServiceCreate["ports"]
  /** `null` removes the field. */
  readonly loadBalancerIP?: string | null
  readonly loadBalancerSourceRanges?: ReadonlyArray<string>
  readonly externalTrafficPolicy?: "Cluster" | "Local"
  readonly sessionAffinity?: "None" | "ClientIP"
  /**
   * Only with a change to `type: LoadBalancer` from another type (the server refuses to change it on
   * a LoadBalancer Service, and drops it when the type leaves LoadBalancer).
   */
  readonly loadBalancerClass?: string
}

export class ServiceApi extends Context.Tag("cloudstack-ccm/kubernetes/ServiceApi")<ServiceApi, {
  /** All Services of all namespaces (paged) and the snapshot's resourceVersion. */
  readonly list: Effect.Effect<ListResult<ServiceView>, KubeApiError>
  /** Changes after `resourceVersion`; fails with reason Gone when that version is too old. */
  readonly watch: (resourceVersion: string) => Stream.Stream<WatchEvent<ServiceView>, KubeApiError>
  /** None when the Service does not exist. */
  readonly get: (namespace: string, name: string) => Effect.Effect<Option.Option<ServiceView>, KubeApiError>
  readonly create: (service: ServiceCreate) => Effect.Effect<ServiceView, KubeApiError>
  /** With finalizers left the Service only gets a deletionTimestamp; NotFound if gone. */
  readonly delete: (namespace: string, name: string) => Effect.Effect<void, KubeApiError>
  /** Replaces `status.loadBalancer.ingress` (status subresource; the spec is untouched). */
  readonly patchStatus: (
    namespace: string,
    name: string,
    ingress: ReadonlyArray<LoadBalancerIngress>
  ) => Effect.Effect<ServiceView, KubeApiError>
  /**
   * Adds (`present: true`) or removes a finalizer; idempotent, re-reads and retries on Conflict.
   * Removing the last finalizer of a deleting Service deletes it: then the result is None.
   */
  readonly setFinalizer: (
    namespace: string,
    name: string,
    finalizer: string,
    present: boolean
  ) => Effect.Effect<Option.Option<ServiceView>, KubeApiError>
  /** Changes the spec (merge patch of the object). */
  readonly update: (namespace: string, name: string, change: ServiceChange) => Effect.Effect<ServiceView, KubeApiError>
  /** Sets annotations; `null` removes one. Others are kept. */
  readonly patchAnnotations: (
    namespace: string,
    name: string,
    annotations: Readonly<Record<string, string | null>>
  ) => Effect.Effect<ServiceView, KubeApiError>
}>() {}

/** Finalizer list after the change, or undefined when nothing changes. Pure; shared with the fake. */
export const nextFinalizers = (
  current: ReadonlyArray<string>,
  finalizer: string,
  present: boolean
): ReadonlyArray<string> | undefined => {
  const has = current.includes(finalizer)
  if (has === present) return undefined
  return present ? [...current, finalizer] : current.filter((f) => f !== finalizer)
}

/** Retries a read-modify-write a few times when another writer got in between. */
export const retryOnConflict = Schedule.recurs(4).pipe(Schedule.intersect(Schedule.exponential("10 millis")))

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)

const ingressToWire = (ingress: LoadBalancerIngress): k8s.V1LoadBalancerIngress => ({
  ...(ingress.ip === undefined ? {} : { ip: ingress.ip }),
  ...(ingress.hostname === undefined ? {} : { hostname: ingress.hostname }),
  ...(ingress.ipMode === undefined ? {} : { ipMode: ingress.ipMode })
})

const portToWire = (port: ServiceCreate["ports"][number]): k8s.V1ServicePort => ({
  port: port.port,
  protocol: port.protocol ?? "TCP",
  ...(port.name === undefined || port.name === "" ? {} : { name: port.name }),
  ...(port.nodePort === undefined || port.nodePort === 0 ? {} : { nodePort: port.nodePort })
})

/** The nodePorts a port list keeps from the current one (same port and protocol), as the server needs them. */
export const keepNodePorts = (
  current: ReadonlyArray<ServicePort>,
  ports: ServiceCreate["ports"]
): ServiceCreate["ports"] =>
  ports.map((p) => {
    if (p.nodePort !== undefined && p.nodePort !== 0) return p
    const same = current.find((c) => c.port === p.port && c.protocol === (p.protocol ?? "TCP"))
    return same === undefined || same.nodePort === 0 ? p : { ...p, nodePort: same.nodePort }
  })

/** The spec merge patch of a change; a ClusterIP Service may not keep node ports (the server answers 422). */
const changeToWire = (change: ServiceChange, current: ReadonlyArray<ServicePort>) => ({
  ...(change.type === undefined ? {} : { type: change.type }),
  ...(change.type === "ClusterIP"
    ? { ports: (change.ports ?? current).map((p) => portToWire({ ...p, nodePort: 0 })) }
    : change.ports === undefined
    ? {}
    : { ports: keepNodePorts(current, change.ports).map(portToWire) }),
  ...(change.loadBalancerIP === undefined ? {} : { loadBalancerIP: change.loadBalancerIP }),
  ...(change.loadBalancerClass === undefined ? {} : { loadBalancerClass: change.loadBalancerClass }),
  ...(change.loadBalancerSourceRanges === undefined
    ? {}
    : { loadBalancerSourceRanges: [...change.loadBalancerSourceRanges] }),
  ...(change.externalTrafficPolicy === undefined ? {} : { externalTrafficPolicy: change.externalTrafficPolicy }),
  ...(change.sessionAffinity === undefined ? {} : { sessionAffinity: change.sessionAffinity })
})

const serviceToWire = (service: ServiceCreate): k8s.V1Service => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: service.name,
    namespace: service.namespace,
    labels: { ...service.labels },
    annotations: { ...service.annotations },
    finalizers: [...(service.finalizers ?? [])]
  },
  spec: {
    type: service.type,
    ports: service.ports.map(portToWire),
    ...(service.loadBalancerIP === undefined ? {} : { loadBalancerIP: service.loadBalancerIP }),
    ...(service.loadBalancerSourceRanges === undefined
      ? {}
      : { loadBalancerSourceRanges: [...service.loadBalancerSourceRanges] }),
    ...(service.loadBalancerClass === undefined ? {} : { loadBalancerClass: service.loadBalancerClass }),
    ...(service.externalTrafficPolicy === undefined ? {} : { externalTrafficPolicy: service.externalTrafficPolicy }),
    ...(service.sessionAffinity === undefined ? {} : { sessionAffinity: service.sessionAffinity })
  }
})

/**
 * What a `list` of this fiber keeps of each Service, applied as each page is decoded (default: all
 * of it): an informer whose cache keeps part of each Service sets it around its list.
 */
export const listKeep = FiberRef.unsafeMake<(service: ServiceView) => ServiceView>((service) => service)

export const make = Effect.gen(function*() {
  const client = yield* KubeClient
  const call = limitedCall(client.limit)
  const decode = (verb: KubeApiError["verb"], name: string) => (input: unknown) =>
    decodeWith(verb, `services/${name}`, decodeService)(input)

  const list = Effect.flatMap(FiberRef.get(listKeep), (keep) =>
    listAll(
      "services",
      (cont) =>
        client.core.listServiceForAllNamespaces({
          limit: LIST_PAGE_SIZE,
          ...(cont === undefined ? {} : { _continue: cont })
        }),
      decodeService,
      client.informerLimit,
      undefined,
      keep
    )).pipe(Effect.withSpan("ServiceApi.list"))

  const watch = (resourceVersion: string) =>
    watchPath(
      client.config,
      "services",
      "/api/v1/services",
      resourceVersion,
      Schema.decodeUnknownEither(ServiceView),
      client.informerLimit
    )

  const get = Effect.fn("ServiceApi.get")((namespace: string, name: string) =>
    readOptional(
      call("get", "services", name, () => client.core.readNamespacedService({ namespace, name })),
      decode("get", name)
    )
  )

  const create = Effect.fn("ServiceApi.create")(function*(service: ServiceCreate) {
    const created = yield* call(
      "create",
      "services",
      service.name,
      () => client.core.createNamespacedService({ namespace: service.namespace, body: serviceToWire(service) })
    )
    return yield* decode("create", service.name)(created)
  })

  const remove = Effect.fn("ServiceApi.delete")(function*(namespace: string, name: string) {
    yield* call("delete", "services", name, () => client.core.deleteNamespacedService({ namespace, name }))
  })

  const patchStatusSubresource = (namespace: string, name: string, body: object) =>
    call(
      "patch",
      "services/status",
      name,
      () => client.core.patchNamespacedServiceStatus({ namespace, name, body }, mergePatch)
    ).pipe(Effect.flatMap(decode("patch", name)))

  const patchStatus = Effect.fn("ServiceApi.patchStatus")(
    (namespace: string, name: string, ingress: ReadonlyArray<LoadBalancerIngress>) =>
      patchStatusSubresource(namespace, name, { status: { loadBalancer: { ingress: ingress.map(ingressToWire) } } })
  )

  const setFinalizer = Effect.fn("ServiceApi.setFinalizer")(
    (namespace: string, name: string, finalizer: string, present: boolean) =>
      Effect.gen(function*() {
        const current = yield* get(namespace, name)
        if (Option.isNone(current)) return Option.none<ServiceView>()
        const finalizers = nextFinalizers(current.value.metadata.finalizers, finalizer, present)
        if (finalizers === undefined) return current
        const body = { metadata: { resourceVersion: current.value.metadata.resourceVersion, finalizers } }
        return yield* patchStatusSubresource(namespace, name, body).pipe(
          Effect.map((service) =>
            // The server answers with the last state even when this patch completed a deletion.
            finalizers.length === 0 && service.metadata.deletionTimestamp !== undefined
              ? Option.none<ServiceView>()
              : Option.some(service)
          ),
          Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none<ServiceView>()))
        )
      }).pipe(Effect.retry({ schedule: retryOnConflict, while: (error) => error.reason === "Conflict" }))
  )

  const update = Effect.fn("ServiceApi.update")(function*(namespace: string, name: string, change: ServiceChange) {
    const current = yield* get(namespace, name)
    const ports = Option.match(current, { onNone: () => [], onSome: (s) => s.spec.ports })
    const patched = yield* call(
      "patch",
      "services",
      name,
      () =>
        client.core.patchNamespacedService({ namespace, name, body: { spec: changeToWire(change, ports) } }, mergePatch)
    )
    return yield* decode("patch", name)(patched)
  })

  const patchAnnotations = Effect.fn("ServiceApi.patchAnnotations")(
    function*(namespace: string, name: string, annotations: Readonly<Record<string, string | null>>) {
      const patched = yield* call(
        "patch",
        "services",
        name,
        () => client.core.patchNamespacedService({ namespace, name, body: { metadata: { annotations } } }, mergePatch)
      )
      return yield* decode("patch", name)(patched)
    }
  )

  return ServiceApi.of({
    list,
    watch,
    get,
    create,
    delete: remove,
    patchStatus,
    setFinalizer,
    update,
    patchAnnotations
  })
})

export const layer: Layer.Layer<ServiceApi, never, KubeClient> = Layer.effect(ServiceApi, make)
