/**
 * Services of FakeKubernetes: ServiceApi over the shared store (node ports allocated from 30000,
 * status dropped on create, finalizers with deletionTimestamp, the server's loadBalancerClass rules).
 */
import { Effect, HashMap, Option, Ref } from "effect"
import { newMeta, objectKey } from "../../kubernetes/ObjectMeta.js"
import {
  keepNodePorts,
  nextFinalizers,
  ServiceApi,
  type ServiceChange,
  type ServiceCreate
} from "../../kubernetes/ServiceApi.js"
import type { LoadBalancerIngress, ServiceView } from "../../kubernetes/ServiceView.js"
import { WatchEvent } from "../../kubernetes/WatchEvent.js"
import { fail, type FakeStore, labelProblem, mergeMap, notFound, sameJson, withVersion } from "./FakeStore.js"

export const make = (store: FakeStore) => {
  const { state, locked, nextVersion, uid, timestamp, injected, get, watchOf, listOf, serviceFeed } = store

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
          return yield* fail(
            "create",
            "services",
            input.name,
            "AlreadyExists",
            409,
            `services "${input.name}" already exists`
          )
        }
        const invalid = labelProblem(input.labels ?? {})
        if (invalid !== undefined) {
          return yield* fail(
            "create",
            "services",
            input.name,
            "Invalid",
            422,
            `Service "${input.name}" is invalid: ${invalid}`
          )
        }
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
          ? (change.ports ?? service.spec.ports).map((p) => ({
            name: p.name ?? "",
            protocol: p.protocol ?? "TCP" as const,
            port: p.port,
            nodePort: 0
          }))
          // As the server: ports without one get a node port (a change from ClusterIP), the others keep theirs.
          : yield* allocateNodePorts({
            type: "LoadBalancer",
            ports: keepNodePorts(service.spec.ports, change.ports ?? service.spec.ports)
          })
        const { loadBalancerClass: oldClass, loadBalancerIP: _dropped, ...rest } = service.spec
        const loadBalancerIP = change.loadBalancerIP === undefined ? service.spec.loadBalancerIP : change.loadBalancerIP
        // The server's rules for spec.loadBalancerClass: set only with type LoadBalancer, immutable
        // while the Service stays one, dropped when the type leaves LoadBalancer.
        const wasLb = service.spec.type === "LoadBalancer"
        if (
          change.loadBalancerClass !== undefined &&
          (type !== "LoadBalancer" || (wasLb && change.loadBalancerClass !== oldClass))
        ) {
          const why = type !== "LoadBalancer" ? "may only be used when `type` is 'LoadBalancer'" : "field is immutable"
          return yield* fail(
            "patch",
            "services",
            name,
            "Invalid",
            422,
            `Service "${name}" is invalid: spec.loadBalancerClass: Invalid value: ${why}`
          )
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
            ...(change.externalTrafficPolicy === undefined
              ? {}
              : { externalTrafficPolicy: change.externalTrafficPolicy }),
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

  return serviceApi
}
