/**
 * Records Kubernetes Events the way client-go's broadcaster does: `record` only puts the Event in a
 * bounded queue (a full queue drops it, counted) and one background fiber writes them. A repeat of
 * the same (object, type, reason, message) bumps `count`/`lastTimestamp` of the Event already written
 * instead of creating another, and the correlator's spam filter (EventSpamFilter) caps each object's
 * Events. Best effort: failures are logged, never raised (a denied write once per cause at Error, see
 * AccessReporter); queued Events are flushed on shutdown.
 */
import { Clock, DateTime, type Duration, Effect, HashMap, Option, Queue, Random, Ref, SynchronizedRef } from "effect"
import { createHash } from "node:crypto"
import { Metrics } from "../metrics/Metrics.js"
import * as AccessReporter from "./AccessReporter.js"
import { EventApi } from "./EventApi.js"
import * as EventSpamFilter from "./EventSpamFilter.js"
import { eventNamespace, type EventType, type ObjectReference } from "./EventView.js"
import type { KubeApiError } from "./KubeError.js"

/** A recorder is made per component (`make`) inside the controller that owns it: no Tag, no layer. */
export interface EventRecorder {
  /** Queues the Event and returns at once; never fails, never waits for the API server. */
  readonly record: (
    object: ObjectReference,
    type: EventType,
    reason: string,
    message: string
  ) => Effect.Effect<void>
  /** Completes once every Event recorded so far was written (or dropped). */
  readonly flush: Effect.Effect<void>
}

/** client-go keeps the last 4096 distinct events for aggregation. */
export const MAX_AGGREGATED = 4096

/** client-go's broadcaster queues at most 1000 Events (maxQueuedEvents). */
export const QUEUE_CAPACITY = 1000

export interface EventRecorderOptions {
  /** Events waiting to be written; beyond, new ones are dropped (default 1000; Normal ones at 90%). */
  readonly queueCapacity?: number | undefined
  /** On shutdown, how long the queued Events may take to be written (default 2 s). */
  readonly flushTimeout?: Duration.DurationInput | undefined
}

interface Written {
  readonly namespace: string
  readonly name: string
  readonly count: number
}

interface Pending {
  readonly object: ObjectReference
  readonly type: EventType
  readonly reason: string
  readonly message: string
  /** When it was recorded: epoch millis (spam filter) and RFC 3339 (the Event's timestamps). */
  readonly at: number
  readonly timestamp: string
}

/**
 * The aggregation key: same object, type, reason and message means the same Event. A digest of
 * them: the recorder keeps up to 4096 keys, and the text is a hundred characters and more. Pure.
 */
export const aggregationKey = (object: ObjectReference, type: EventType, reason: string, message: string): string =>
  createHash("sha256").update(
    [object.kind, object.namespace, object.name, object.uid, type, reason, message].join("\u0000")
  ).digest("base64")

/**
 * A recorder writing with `component` as `source.component` (e.g. "cloud-node-controller"). Its
 * sender fiber lives in the current scope; closing the scope flushes the queue (best effort).
 */
export const make = (component: string, options: EventRecorderOptions = {}) =>
  Effect.gen(function*() {
    const api = yield* EventApi
    const metrics = yield* Metrics
    const capacity = options.queueCapacity ?? QUEUE_CAPACITY
    const queue = yield* Queue.dropping<Pending>(capacity)
    // The last tenth of the queue is for Warnings: a flood of Normal Events (a large cluster's Nodes
    // initialised at once, their Events yielding the rate limit) never crowds out a Warning.
    const normalCapacity = capacity - Math.floor(capacity / 10)
    // Only the sender fiber reads and writes these two.
    const written = yield* Ref.make(HashMap.empty<string, Written>())
    const spam = yield* Ref.make(EventSpamFilter.empty)
    // Events recorded and not yet written; `idle` is open exactly when there are none.
    const idle = yield* Effect.makeLatch(true)
    const outstanding = yield* SynchronizedRef.make(0)
    const adjust = (delta: number) =>
      SynchronizedRef.updateEffect(outstanding, (n) => Effect.as(n + delta === 0 ? idle.open : idle.close, n + delta))
    const dropped = (reason: "queue_full" | "spam_filter") => Effect.sync(() => metrics.eventsDropped.inc({ reason }))
    const access = yield* AccessReporter.make(`EventRecorder ${component}`)

    const createNew = (key: string, event: Pending) =>
      Effect.gen(function*() {
        // millis, floored: TestClock's currentTimeNanos throws on the fractional times jittered sleeps produce
        const nanos = BigInt(Math.floor(yield* Clock.currentTimeMillis)) * 1_000_000n
        const salt = yield* Random.nextIntBetween(0, 0xffff)
        const name = `${event.object.name}.${nanos.toString(16)}${salt.toString(16).padStart(4, "0")}`
        const { object, type, reason, message, timestamp } = event
        yield* api.create({ name, involvedObject: object, type, reason, message, component, timestamp })
        yield* Ref.update(
          written,
          (map) =>
            EventSpamFilter.setBounded(map, key, { namespace: eventNamespace(object), name, count: 1 }, MAX_AGGREGATED)
        )
      })

    const write = (event: Pending) =>
      Effect.gen(function*() {
        const { object, type, reason, message } = event
        const admitted = yield* Ref.modify(
          spam,
          (state) => EventSpamFilter.accept(state, EventSpamFilter.spamKey(component, object), event.at)
        )
        if (!admitted) return yield* dropped("spam_filter")
        const key = aggregationKey(object, type, reason, message)
        const previous = HashMap.get(yield* Ref.get(written), key)
        const sent: Effect.Effect<void, KubeApiError> = Option.isNone(previous)
          ? createNew(key, event)
          : api.bump(previous.value.namespace, previous.value.name, previous.value.count + 1, event.timestamp).pipe(
            Effect.zipRight(
              Ref.update(written, HashMap.set(key, { ...previous.value, count: previous.value.count + 1 }))
            ),
            // The server expires Events (1 h by default): start a new one.
            Effect.catchIf((error) => error.reason === "NotFound", () => createNew(key, event))
          )
        yield* sent.pipe(
          Effect.zipRight(access.succeeded),
          Effect.catchAll((error) =>
            // 401/403: at Error once per cause (what to check) instead of a warning per Event.
            Effect.flatMap(access.failed(error), (denied) =>
              (denied ? Effect.logDebug("could not record event") : Effect.logWarning("could not record event")).pipe(
                Effect.annotateLogs({
                  reason,
                  object: `${object.kind}/${object.namespace}/${object.name}`,
                  error: error.message
                })
              ))
          )
        )
      }).pipe(Effect.withSpan("EventRecorder.write"))

    // Stopped only when the scope closes, after the flush below had its time: a write that hangs
    // (an unreachable API server) must not hold the shutdown up.
    yield* Queue.take(queue).pipe(
      Effect.flatMap((event) => Effect.ensuring(write(event), adjust(-1))),
      Effect.forever,
      Effect.annotateLogs({ module: "EventRecorder", component }),
      Effect.forkScoped
    )
    // Added after the fork, so it runs before the sender is interrupted.
    const flushTimeout = options.flushTimeout ?? "2 seconds"
    yield* Effect.addFinalizer(() =>
      // Interruptible: a finalizer is not, and a timeout waits for an uninterruptible effect to end.
      Effect.interruptible(idle.await).pipe(
        Effect.timeoutOption(flushTimeout),
        Effect.flatMap(Option.match({
          onSome: () => Effect.void,
          onNone: () =>
            Effect.flatMap(
              SynchronizedRef.get(outstanding),
              (left) =>
                Effect.logWarning("events not written before shutdown").pipe(Effect.annotateLogs({ component, left }))
            )
        }))
      )
    )

    const record = (object: ObjectReference, type: EventType, reason: string, message: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const event: Pending = {
          object,
          type,
          reason,
          message,
          at: DateTime.toEpochMillis(now),
          timestamp: DateTime.formatIso(now)
        }
        if (type === "Normal" && (yield* Queue.size(queue)) >= normalCapacity) return yield* dropped("queue_full")
        yield* adjust(1)
        if (!(yield* Queue.offer(queue, event))) yield* Effect.zipRight(adjust(-1), dropped("queue_full"))
      })

    const recorder: EventRecorder = { record, flush: idle.await }
    return recorder
  })
