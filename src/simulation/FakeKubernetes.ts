/**
 * An in-memory Kubernetes API behind the same Tags as the live layers (NodeApi, ServiceApi,
 * EndpointSliceApi, EventApi, LeaseApi), enforcing what the real server enforces and controllers
 * rely on: one global resourceVersion counter, watches resumable from the past (410 when too old),
 * 409 on stale writes, 422 on changing a set providerID, finalizers with deletionTimestamp, and
 * status/spec separation. The `FakeKubernetes` Tag adds inspection, fault injection, and the parts
 * of kubelet and kube-controller-manager the CCM depends on (Ready condition, not-ready taints).
 */
import { Context, Effect, HashMap, Layer, Ref } from "effect"
import { EndpointSliceApi } from "../kubernetes/EndpointSliceApi.js"
import type { EndpointSliceView } from "../kubernetes/EndpointSliceView.js"
import { EventApi } from "../kubernetes/EventApi.js"
import type { EventView } from "../kubernetes/EventView.js"
import { KubeApiError } from "../kubernetes/KubeError.js"
import { type Lease, LeaseApi } from "../kubernetes/LeaseApi.js"
import { NodeApi } from "../kubernetes/NodeApi.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import { ServiceApi } from "../kubernetes/ServiceApi.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import * as FakeEndpointSlices from "./kubernetes/FakeEndpointSlices.js"
import * as FakeEvents from "./kubernetes/FakeEvents.js"
import * as FakeLeases from "./kubernetes/FakeLeases.js"
import * as FakeNodes from "./kubernetes/FakeNodes.js"
import type { ConditionStatus } from "./kubernetes/FakeNodes.js"
import * as FakeServices from "./kubernetes/FakeServices.js"
import * as FakeStore from "./kubernetes/FakeStore.js"
import type { InjectedFailure } from "./kubernetes/FakeStore.js"

export { type ConditionStatus, ReportedCondition, reportedReady } from "./kubernetes/FakeNodes.js"
export { type InjectedFailure, labelProblem } from "./kubernetes/FakeStore.js"

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

export const make = (options: FakeKubernetesOptions = {}) =>
  Effect.gen(function*() {
    const store = yield* FakeStore.make(options.historyLimit ?? 1000)
    const { state, locked, nodeFeed, serviceFeed, sliceFeed } = store

    const { nodeApi, setNodeReady } = FakeNodes.make(store)
    const serviceApi = FakeServices.make(store)
    const { endpointSliceApi, putEndpointSlice, deleteEndpointSlice } = FakeEndpointSlices.make(store)
    const eventApi = FakeEvents.make(store)
    const leaseApi = FakeLeases.make(store)

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
