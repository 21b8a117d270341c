/**
 * A keyed work queue with client-go's guarantees: a key waits at most once (adds coalesce), a key is
 * never handed to two workers at once (an add while it is processed re-queues it after `done`),
 * delayed adds on `Clock`, and per-key exponential backoff (5 s doubling to 300 s, reset by `forget`).
 * `runWorkers` drives N workers over a reconcile function; it owns no Kubernetes or CloudStack logic.
 */
import {
  Cause,
  Chunk,
  Clock,
  Data,
  Duration,
  Effect,
  Exit,
  FiberMap,
  HashMap,
  HashSet,
  Option,
  Predicate,
  Queue,
  Ref,
  type Scope
} from "effect"
import { Metrics } from "../metrics/Metrics.js"
import { type ErrorClass, PERSISTS_AFTER } from "./ErrorPolicy.js"

/** What a reconcile asks the queue to do with its key next. */
export type ReconcileResult = Data.TaggedEnum<{
  /** Converged: forget the key's backoff. */
  Done: {}
  /** Not converged, nothing failed: retry with the key's exponential backoff. */
  Requeue: {}
  /** Check again after a fixed delay (e.g. a cloud job still running); resets the backoff. */
  RequeueAfter: { readonly delay: Duration.Duration }
}>
export const ReconcileResult = Data.taggedEnum<ReconcileResult>()

export interface WorkQueueOptions {
  /** Queue name, the `name` label of the workqueue metrics (low cardinality: one per controller queue). */
  readonly name: string
  /** First backoff delay (default 5 s). */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** Backoff cap (default 300 s). */
  readonly maxDelay?: Duration.DurationInput | undefined
}

export interface WorkQueue<K> {
  readonly name: string
  /** Queues `key` unless it already waits; a key being processed is queued again after its `done`. No-op after shutdown. */
  readonly add: (key: K) => Effect.Effect<void>
  /** Adds `key` once `delay` has passed on `Clock`. Of several pending delayed adds of one key the earliest wins. */
  readonly addAfter: (key: K, delay: Duration.DurationInput) => Effect.Effect<void>
  /** Adds `key` after its next backoff delay (base * 2^failures, capped) and counts a retry. */
  readonly addRateLimited: (key: K) => Effect.Effect<void>
  /** Resets the backoff of `key` (call after a successful reconcile). */
  readonly forget: (key: K) => Effect.Effect<void>
  /** How many backoff requeues `key` has had since the last `forget`. */
  readonly numRequeues: (key: K) => Effect.Effect<number>
  /** Waits for the next key and marks it processing; interrupted once the queue is shut down. Pair with `done`. */
  readonly take: Effect.Effect<K>
  /** Ends the processing of `key`; re-queues it if it was added meanwhile. */
  readonly done: (key: K) => Effect.Effect<void>
  /** Keys waiting (not counting delayed or processing keys). */
  readonly len: Effect.Effect<number>
  /** Keys currently processing. */
  readonly processing: Effect.Effect<number>
  /** Stops accepting keys and wakes blocked `take`s with interruption. Idempotent. */
  readonly shutdown: Effect.Effect<void>
  /** Completes when no key is processing. */
  readonly awaitIdle: Effect.Effect<void>
}

interface State<K> {
  readonly dirty: HashSet.HashSet<K>
  readonly processing: HashSet.HashSet<K>
  readonly failures: HashMap.HashMap<K, number>
  /** Pending delayed adds: key -> ready time (epoch millis on Clock). */
  readonly waiting: HashMap.HashMap<K, number>
  readonly shuttingDown: boolean
}

/** Backoff after `failures` earlier requeues: base * 2^failures, capped at max. Pure. */
export const backoffDelay = (failures: number, base: Duration.Duration, max: Duration.Duration): Duration.Duration => {
  const millis = Duration.toMillis(base) * Math.pow(2, Math.min(failures, 62))
  return Duration.min(Duration.millis(millis), max)
}

/** A queue owned by the surrounding scope: closing it shuts the queue down and cancels delayed adds. */
export const make = <K>(options: WorkQueueOptions): Effect.Effect<WorkQueue<K>, never, Metrics | Scope.Scope> =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const labels = { name: options.name }
    const base = Duration.decode(options.baseDelay ?? "5 seconds")
    const max = Duration.decode(options.maxDelay ?? "300 seconds")
    const ready = yield* Queue.unbounded<K>()
    const state = yield* Ref.make<State<K>>({
      dirty: HashSet.empty(),
      processing: HashSet.empty(),
      failures: HashMap.empty(),
      waiting: HashMap.empty(),
      shuttingDown: false
    })
    const delayed = yield* FiberMap.make<K>()
    // Serialises addAfter so the FiberMap fiber of a key always matches its recorded ready time.
    const delayLock = yield* Effect.makeSemaphore(1)
    // Open exactly when no key is processing; changed together with `processing` under `idleLock`.
    const idle = yield* Effect.makeLatch(true)
    const idleLock = yield* Effect.makeSemaphore(1)

    const size = Effect.flatMap(Queue.isShutdown(ready), (down) => (down ? Effect.succeed(0) : Queue.size(ready))).pipe(
      Effect.map((n) => Math.max(n, 0))
    )
    const syncDepth = Effect.flatMap(size, (n) => Effect.sync(() => metrics.workqueueDepth.set(labels, n)))
    // A shut-down Queue answers offer with an interruption; a key arriving during shutdown is simply dropped.
    const offerReady = (key: K) => Queue.offer(ready, key).pipe(Effect.exit, Effect.zipRight(syncDepth))

    const add = (key: K): Effect.Effect<void> =>
      Ref.modify(state, (s): [boolean, State<K>] => {
        if (s.shuttingDown || HashSet.has(s.dirty, key)) return [false, s]
        const dirty = HashSet.add(s.dirty, key)
        // A key being processed waits in `dirty` only; `done` queues it, so no two workers get it.
        return [!HashSet.has(s.processing, key), { ...s, dirty }]
      }).pipe(
        Effect.flatMap((enqueue) =>
          enqueue
            ? offerReady(key).pipe(Effect.zipRight(Effect.sync(() => metrics.workqueueAdds.inc(labels))))
            : Effect.void
        ),
        Effect.uninterruptible
      )

    const addAfter = (key: K, delay: Duration.DurationInput): Effect.Effect<void> => {
      const millis = Duration.toMillis(Duration.decode(delay))
      if (millis <= 0) return add(key)
      return delayLock.withPermits(1)(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const readyAt = now + millis
        const schedule = yield* Ref.modify(state, (s): [boolean, State<K>] => {
          if (s.shuttingDown) return [false, s]
          const pending = HashMap.get(s.waiting, key)
          if (Option.isSome(pending) && pending.value <= readyAt) return [false, s]
          return [true, { ...s, waiting: HashMap.set(s.waiting, key, readyAt) }]
        })
        if (!schedule) return
        yield* FiberMap.run(
          delayed,
          key,
          Effect.sleep(Duration.millis(millis)).pipe(
            Effect.zipRight(
              Ref.update(state, (s) => ({ ...s, waiting: HashMap.remove(s.waiting, key) })).pipe(
                Effect.zipRight(add(key)),
                Effect.uninterruptible
              )
            )
          )
        )
      }))
    }

    const addRateLimited = (key: K): Effect.Effect<void> =>
      Ref.modify(state, (s): [number, State<K>] => {
        const failures = Option.getOrElse(HashMap.get(s.failures, key), () => 0)
        return [failures, { ...s, failures: HashMap.set(s.failures, key, failures + 1) }]
      }).pipe(
        Effect.tap(() => Effect.sync(() => metrics.workqueueRetries.inc(labels))),
        Effect.flatMap((failures) => addAfter(key, backoffDelay(failures, base, max)))
      )

    const forget = (key: K) => Ref.update(state, (s) => ({ ...s, failures: HashMap.remove(s.failures, key) }))

    const numRequeues = (key: K) =>
      Effect.map(Ref.get(state), (s) => Option.getOrElse(HashMap.get(s.failures, key), () => 0))

    const take: Effect.Effect<K> = Effect.uninterruptibleMask((restore) =>
      restore(Queue.take(ready)).pipe(
        Effect.tap((key) =>
          idleLock.withPermits(1)(Effect.zipRight(
            Ref.update(state, (s) => ({
              ...s,
              dirty: HashSet.remove(s.dirty, key),
              processing: HashSet.add(s.processing, key)
            })),
            idle.close
          ))
        ),
        Effect.tap(() => syncDepth)
      )
    )

    const done = (key: K): Effect.Effect<void> =>
      idleLock.withPermits(1)(
        Ref.modify(state, (s): [readonly [boolean, boolean], State<K>] => {
          const processing = HashSet.remove(s.processing, key)
          return [[HashSet.has(s.dirty, key) && !s.shuttingDown, HashSet.size(processing) === 0], { ...s, processing }]
        }).pipe(Effect.tap(([, nowIdle]) => (nowIdle ? idle.open : Effect.void)))
      ).pipe(
        Effect.flatMap(([requeue]) => (requeue ? offerReady(key) : Effect.void)),
        Effect.uninterruptible
      )

    const shutdown = Ref.update(state, (s) => ({ ...s, shuttingDown: true })).pipe(
      Effect.zipRight(FiberMap.clear(delayed)),
      Effect.zipRight(Queue.shutdown(ready)),
      Effect.zipRight(Effect.sync(() => metrics.workqueueDepth.set(labels, 0)))
    )

    const awaitIdle = idle.await

    yield* Effect.addFinalizer(() => shutdown)

    return {
      name: options.name,
      add,
      addAfter,
      addRateLimited,
      forget,
      numRequeues,
      take,
      done,
      len: size,
      processing: Effect.map(Ref.get(state), (s) => HashSet.size(s.processing)),
      shutdown,
      awaitIdle
    } satisfies WorkQueue<K>
  })

/** A failure's message (its `message` when it has one) and tag, for logs. Pure. */
const describeFailure = (error: unknown): { readonly error: string; readonly errorTag: string } => ({
  error: Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== ""
    ? error.message
    : String(error),
  errorTag: Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : "unknown"
})

/**
 * Logs a failed reconcile at Error: expected (typed) failures as their message and tag, without a
 * JS stack (a VM not found is routine, not a bug); a defect with its full cause and stack.
 */
export const logReconcileFailure = (message: string, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Chunk.isNonEmpty(Cause.defects(cause))) return Effect.logError(message, cause)
  const failures = Chunk.toReadonlyArray(Cause.failures(cause)).map(describeFailure)
  return Effect.logError(message).pipe(
    Effect.annotateLogs({
      error: failures.map((f) => f.error).join("; "),
      errorTag: failures.map((f) => f.errorTag).join(",")
    })
  )
}

export interface RunWorkersOptions<E> {
  /** Controller name: the `controller` label of `reconcile_total` and a log annotation. */
  readonly controller: string
  /** The error policy's class of a failure (`ErrorPolicy.classify`); default transient. */
  readonly classify?: ((error: E) => ErrorClass) | undefined
  /** On scope close, how long in-flight keys may finish before they are interrupted (default 2 s). */
  readonly drainTimeout?: Duration.DurationInput | undefined
}

/**
 * Forks `workers` fibers into the scope, each taking keys and running `reconcile`:
 * Done -> forget; Requeue -> backoff; RequeueAfter -> forget + delayed add; a failure -> backoff,
 * logged by the error policy (`ErrorPolicy`): a user-fixable failure once per distinct cause at
 * Error, a transient one at Debug until it has failed `PERSISTS_AFTER` times in a row, a defect with
 * its stack. A defect in one reconcile is a failure of that key, never the end of the worker.
 * Closing the scope stops taking keys, lets in-flight ones finish for `drainTimeout`, then
 * interrupts them.
 */
export const runWorkers = <K, E, R>(
  queue: WorkQueue<K>,
  workers: number,
  reconcile: (key: K) => Effect.Effect<ReconcileResult, E, R>,
  options: RunWorkersOptions<E>
): Effect.Effect<void, never, R | Metrics | Scope.Scope> =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const controller = options.controller
    const classify = options.classify ?? (() => "transient")
    const count = (result: "success" | "requeue" | "requeue_after" | "error" | "user_error") =>
      Effect.sync(() => metrics.reconciles.inc({ controller, result }))
    const reconcileIds = yield* Ref.make(0)
    // The user-fixable cause last logged per key: logged again only when it changes or came back.
    const userCauses = yield* Ref.make(HashMap.empty<K, string>())
    const forgetCause = (key: K) => Ref.update(userCauses, HashMap.remove(key))

    const failed = (key: K, cause: Cause.Cause<E>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const retries = yield* queue.numRequeues(key)
        yield* queue.addRateLimited(key)
        const failure = Cause.failureOption(cause)
        if (Chunk.isNonEmpty(Cause.defects(cause)) || Option.isNone(failure)) {
          yield* count("error")
          return yield* logReconcileFailure("reconcile failed, requeuing with backoff", cause).pipe(
            Effect.annotateLogs({ retries })
          )
        }
        if (classify(failure.value) === "user") {
          yield* count("user_error")
          const text = describeFailure(failure.value).error
          const last = HashMap.get(yield* Ref.get(userCauses), key)
          if (Option.isSome(last) && last.value === text) return
          yield* Ref.update(userCauses, HashMap.set(key, text))
          return yield* logReconcileFailure(
            "reconcile failed: needs a change by the user, retrying with a capped backoff",
            cause
          )
        }
        yield* count("error")
        yield* forgetCause(key)
        const message = "reconcile failed, requeuing with backoff"
        return yield* (retries + 1 < PERSISTS_AFTER
          ? Effect.logDebug(message).pipe(Effect.annotateLogs(describeFailure(failure.value)))
          : logReconcileFailure(message, cause)).pipe(Effect.annotateLogs({ retries }))
      })

    const handle = (key: K, exit: Exit.Exit<ReconcileResult, E>): Effect.Effect<void> =>
      Exit.isSuccess(exit)
        ? Effect.zipRight(
          forgetCause(key),
          ReconcileResult.$match(exit.value, {
            Done: () => Effect.zipRight(queue.forget(key), count("success")),
            Requeue: () => Effect.zipRight(queue.addRateLimited(key), count("requeue")),
            RequeueAfter: ({ delay }) =>
              queue.forget(key).pipe(
                Effect.zipRight(queue.addAfter(key, delay)),
                Effect.zipRight(count("requeue_after"))
              )
          })
        )
        : failed(key, exit.cause)

    const processKey = (key: K) =>
      Effect.gen(function*() {
        const reconcileId = yield* Ref.updateAndGet(reconcileIds, (n) => n + 1)
        const started = yield* Clock.currentTimeMillis
        const exit = yield* Effect.exit(reconcile(key).pipe(Effect.annotateLogs({ reconcileId })))
        const ended = yield* Clock.currentTimeMillis
        yield* Effect.sync(() =>
          metrics.workqueueProcessingDuration.observe({ name: queue.name }, (ended - started) / 1000)
        )
        // Interruption is shutdown or lost leadership: the key is simply left for the next leader.
        if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return yield* Effect.interrupt
        yield* handle(key, exit).pipe(Effect.annotateLogs({ reconcileId }))
      }).pipe(
        Effect.annotateLogs({ controller, key: String(key) }),
        Effect.withLogSpan("reconcile"),
        Effect.withSpan(`${controller}.reconcile`)
      )

    const worker = Effect.uninterruptibleMask((restore) =>
      restore(queue.take).pipe(
        Effect.flatMap((key) => restore(processKey(key)).pipe(Effect.ensuring(queue.done(key))))
      )
    ).pipe(Effect.forever)

    for (let i = 0; i < Math.max(1, workers); i++) {
      yield* Effect.forkScoped(worker)
    }
    const drain = Duration.decode(options.drainTimeout ?? "2 seconds")
    // Added after the forks, so it runs before they are interrupted: stop intake, let in-flight keys finish.
    // The wait is made interruptible: in the (uninterruptible) finalizer the timeout could not end it
    // otherwise, and the drain would last as long as the slowest reconcile.
    yield* Effect.addFinalizer(() =>
      queue.shutdown.pipe(
        Effect.zipRight(Effect.timeoutOption(Effect.interruptible(queue.awaitIdle), drain)),
        Effect.flatMap((drained) =>
          Option.isNone(drained)
            ? Effect.logWarning("work queue not drained in time, interrupting in-flight reconciles").pipe(
              Effect.annotateLogs({ controller, queue: queue.name })
            )
            : Effect.void
        )
      )
    )
  })
