/**
 * Records Kubernetes Events the way client-go's recorder does: a repeat of the same (object,
 * type, reason, message) bumps `count`/`lastTimestamp` of the Event already written instead of
 * creating another, so a retry loop never floods the API. Best effort: failures are logged, not raised
 * (a denied write once per cause at Error, see AccessReporter).
 */
import { Clock, Context, DateTime, Effect, HashMap, Layer, Option, Random, Ref } from "effect"
import * as AccessReporter from "./AccessReporter.js"
import { EventApi } from "./EventApi.js"
import { eventNamespace, type EventType, type ObjectReference } from "./EventView.js"
import type { KubeApiError } from "./KubeError.js"

export class EventRecorder extends Context.Tag("cloudstack-ccm/kubernetes/EventRecorder")<EventRecorder, {
  /** Never fails: an Event that cannot be written is logged at Warning and dropped. */
  readonly record: (
    object: ObjectReference,
    type: EventType,
    reason: string,
    message: string
  ) => Effect.Effect<void>
}>() {}

/** client-go keeps the last 4096 distinct events for aggregation. */
export const MAX_AGGREGATED = 4096

interface Written {
  readonly namespace: string
  readonly name: string
  readonly count: number
}

/** The aggregation key: same object, type, reason and message means the same Event. Pure. */
export const aggregationKey = (object: ObjectReference, type: EventType, reason: string, message: string): string =>
  [object.kind, object.namespace, object.name, object.uid, type, reason, message].join("\u0000")

/** A recorder writing with `component` as `source.component` (e.g. "service-controller"). */
export const make = (component: string) =>
  Effect.gen(function*() {
    const api = yield* EventApi
    const written = yield* Ref.make(HashMap.empty<string, Written>())
    const access = yield* AccessReporter.make(`EventRecorder ${component}`)

    const createNew = (key: string, object: ObjectReference, type: EventType, reason: string, message: string, now: string) =>
      Effect.gen(function*() {
        // millis, floored: TestClock's currentTimeNanos throws on the fractional times jittered sleeps produce
        const nanos = BigInt(Math.floor(yield* Clock.currentTimeMillis)) * 1_000_000n
        const salt = yield* Random.nextIntBetween(0, 0xffff)
        const name = `${object.name}.${nanos.toString(16)}${salt.toString(16).padStart(4, "0")}`
        yield* api.create({ name, involvedObject: object, type, reason, message, component, timestamp: now })
        yield* Ref.update(written, (map) => {
          const bounded = HashMap.size(map) >= MAX_AGGREGATED
            ? Option.match(Option.fromIterable(HashMap.keys(map)), { onNone: () => map, onSome: (k) => HashMap.remove(map, k) })
            : map
          return HashMap.set(bounded, key, { namespace: eventNamespace(object), name, count: 1 })
        })
      })

    const record = Effect.fn("EventRecorder.record")(
      function*(object: ObjectReference, type: EventType, reason: string, message: string) {
        const key = aggregationKey(object, type, reason, message)
        const now = DateTime.formatIso(yield* DateTime.now)
        const previous = HashMap.get(yield* Ref.get(written), key)
        const write: Effect.Effect<void, KubeApiError> = Option.isNone(previous)
          ? createNew(key, object, type, reason, message, now)
          : api.bump(previous.value.namespace, previous.value.name, previous.value.count + 1, now).pipe(
            Effect.zipRight(Ref.update(written, HashMap.set(key, { ...previous.value, count: previous.value.count + 1 }))),
            // The server expires Events (1 h by default): start a new one.
            Effect.catchIf((error) => error.reason === "NotFound", () => createNew(key, object, type, reason, message, now))
          )
        yield* write.pipe(
          Effect.zipRight(access.succeeded),
          Effect.catchAll((error) =>
            // 401/403: at Error once per cause (what to check) instead of a warning per Event.
            Effect.flatMap(access.failed(error), (denied) =>
              (denied ? Effect.logDebug("could not record event") : Effect.logWarning("could not record event")).pipe(
                Effect.annotateLogs({ reason, object: `${object.kind}/${object.namespace}/${object.name}`, error: error.message })
              ))
          )
        )
      }
    )
    return EventRecorder.of({ record })
  })

export const layer = (component: string): Layer.Layer<EventRecorder, never, EventApi> =>
  Layer.effect(EventRecorder, make(component))
