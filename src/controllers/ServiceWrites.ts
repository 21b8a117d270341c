/**
 * The service controller's writes to a Service: its Events, the ownership record (annotations),
 * the status (learning once whether the API server keeps `ipMode`, 1.29+), and the release after a
 * cleanup (record and status dropped when it stopped being a LoadBalancer, then the finalizer).
 * A Service deleted meanwhile needs none of them.
 */
import { Effect, Ref } from "effect"
import * as EventRecorder from "../kubernetes/EventRecorder.js"
import type { EventType } from "../kubernetes/EventView.js"
import type { KubeApiError } from "../kubernetes/KubeError.js"
import type { ServiceApi } from "../kubernetes/ServiceApi.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import * as Ownership from "../provider/loadbalancer/Ownership.js"
import * as ServicePlan from "./ServicePlan.js"

/** The `source.component` of the Events this controller records (as upstream). */
export const EVENT_COMPONENT = "service-controller"

const ignoreNotFound = <A>(write: Effect.Effect<A, KubeApiError>) =>
  Effect.asVoid(write).pipe(Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void))

export const make = (services: ServiceApi["Type"]) =>
  Effect.gen(function*() {
    const recorder = yield* EventRecorder.make(EVENT_COMPONENT)
    const ipModeKept = yield* Ref.make(true)

    const event = (service: ServiceView, type: EventType, reason: string, message: string) =>
      recorder.record(
        {
          kind: "Service",
          namespace: service.metadata.namespace,
          name: service.metadata.name,
          uid: service.metadata.uid,
          apiVersion: "v1"
        },
        type,
        reason,
        message
      )

    const persistFor = (service: ServiceView) => (ownership: Ownership.Ownership) =>
      ignoreNotFound(
        services.patchAnnotations(service.metadata.namespace, service.metadata.name, Ownership.toAnnotations(ownership))
      )

    const publishStatus = (service: ServiceView, ingress: ReturnType<typeof ServicePlan.ingressOf>) =>
      Effect.gen(function*() {
        const withIpMode = yield* Ref.get(ipModeKept)
        if (ServicePlan.sameIngress(service.status.loadBalancer.ingress, ingress, withIpMode)) return
        const written = yield* services.patchStatus(service.metadata.namespace, service.metadata.name, ingress)
        if (
          ingress.some((i) => i.ipMode !== undefined) &&
          written.status.loadBalancer.ingress.every((i) => i.ipMode === undefined)
        ) {
          yield* Ref.set(ipModeKept, false)
        }
      })

    /** After a cleanup of a Service that is still there: no longer a LoadBalancer, the record and status go too. */
    const release = (service: ServiceView) =>
      Effect.gen(function*() {
        const { name, namespace } = service.metadata
        if (service.metadata.deletionTimestamp === undefined) {
          yield* persistFor(service)(Ownership.empty)
          yield* ignoreNotFound(services.patchStatus(namespace, name, []))
        }
        yield* services.setFinalizer(namespace, name, ServicePlan.FINALIZER, false)
      })

    return { event, persistFor, publishStatus, release }
  })
