/**
 * core/v1 Events: create one, bump the count of an existing one, list them. EventRecorder builds
 * client-go's aggregation on top; the live layer sits here, FakeKubernetes provides the same Tag.
 */
import * as k8s from "@kubernetes/client-node"
import { Context, DateTime, Effect, Layer, Option } from "effect"
import { decodeEvent, eventNamespace, type EventType, type EventView, type ObjectReference } from "./EventView.js"
import { KubeClient } from "./KubeClient.js"
import type { KubeApiError } from "./KubeError.js"
import { decodeWith, limitedCall, LIST_PAGE_SIZE, listAll } from "./KubeRequest.js"

export interface EventCreate {
  /** Unique within the namespace (the recorder derives it from the object name and time). */
  readonly name: string
  readonly involvedObject: ObjectReference
  readonly type: EventType
  readonly reason: string
  readonly message: string
  readonly component: string
  /** RFC 3339. */
  readonly timestamp: string
}

export class EventApi extends Context.Tag("cloudstack-ccm/kubernetes/EventApi")<EventApi, {
  /** Stored in the involved object's namespace (`default` for Nodes). */
  readonly create: (event: EventCreate) => Effect.Effect<EventView, KubeApiError>
  /** Sets `count` and `lastTimestamp` of an existing Event; NotFound once the server expired it. */
  readonly bump: (
    namespace: string,
    name: string,
    count: number,
    lastTimestamp: string
  ) => Effect.Effect<EventView, KubeApiError>
  readonly list: (namespace: string) => Effect.Effect<ReadonlyArray<EventView>, KubeApiError>
}>() {}

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)

const referenceToWire = (ref: ObjectReference): k8s.V1ObjectReference => ({
  kind: ref.kind,
  name: ref.name,
  ...(ref.namespace === "" ? {} : { namespace: ref.namespace }),
  ...(ref.uid === "" ? {} : { uid: ref.uid }),
  ...(ref.apiVersion === undefined ? {} : { apiVersion: ref.apiVersion })
})

export const make = Effect.gen(function*() {
  const client = yield* KubeClient
  // Events yield the bucket to the controllers' own requests (KubeClient.eventLimit).
  const call = limitedCall(client.eventLimit)
  const decode = (verb: KubeApiError["verb"]) => decodeWith(verb, "events", decodeEvent)

  const create = Effect.fn("EventApi.create")(function*(event: EventCreate) {
    const namespace = eventNamespace(event.involvedObject)
    const at = Option.map(DateTime.make(event.timestamp), DateTime.toDateUtc)
    const body: k8s.CoreV1Event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: event.name, namespace },
      involvedObject: referenceToWire(event.involvedObject),
      type: event.type,
      reason: event.reason,
      message: event.message,
      count: 1,
      ...(Option.isNone(at) ? {} : { firstTimestamp: at.value, lastTimestamp: at.value }),
      source: { component: event.component }
    }
    const created = yield* call(
      "create",
      "events",
      event.name,
      () => client.core.createNamespacedEvent({ namespace, body })
    )
    return yield* decode("create")(created)
  })

  const bump = Effect.fn("EventApi.bump")(
    function*(namespace: string, name: string, count: number, lastTimestamp: string) {
      const patched = yield* call(
        "patch",
        "events",
        name,
        () => client.core.patchNamespacedEvent({ namespace, name, body: { count, lastTimestamp } }, mergePatch)
      )
      return yield* decode("patch")(patched)
    }
  )

  const list = Effect.fn("EventApi.list")(function*(namespace: string) {
    const result = yield* listAll(
      "events",
      (cont) =>
        client.core.listNamespacedEvent({
          namespace,
          limit: LIST_PAGE_SIZE,
          ...(cont === undefined ? {} : { _continue: cont })
        }),
      decodeEvent,
      client.limit
    )
    return result.items
  })

  return EventApi.of({ create, bump, list })
})

export const layer: Layer.Layer<EventApi, never, KubeClient> = Layer.effect(EventApi, make)
