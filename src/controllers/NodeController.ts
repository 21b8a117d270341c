/**
 * The cloud-node controller: initialises Nodes that carry the uninitialized taint from their
 * CloudStack VM (providerID, labels, addresses, then the taint goes) through a keyed WorkQueue with
 * backoff, writing from the informer's copy (the API server is read only after a Conflict), and
 * re-syncs the addresses of initialised Nodes every `--node-status-update-frequency` with ONE VM
 * listing per round. Decisions live in NodePlan; this module only executes them.
 */
import { Clock, DateTime, Duration, Effect, Either, Option, Ref, Schedule, type Scope, Stream } from "effect"
import type { CloudStackError } from "../cloudstack/CloudStackError.js"
import type { EventApi } from "../kubernetes/EventApi.js"
import * as EventRecorder from "../kubernetes/EventRecorder.js"
import * as Informer from "../kubernetes/Informer.js"
import type { KubeApiError } from "../kubernetes/KubeError.js"
import { listPageObserver, NodeApi } from "../kubernetes/NodeApi.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import { Metrics } from "../metrics/Metrics.js"
import * as InstanceLookup from "../provider/InstanceLookup.js"
import { Instances } from "../provider/Instances.js"
import * as NodeAddresses from "../provider/NodeAddresses.js"
import * as CachedViews from "./CachedViews.js"
import type { Controller } from "./Controller.js"
import * as ErrorPolicy from "./ErrorPolicy.js"
import * as NodePlan from "./NodePlan.js"
import * as WorkQueue from "./WorkQueue.js"

export const CONTROLLER_NAME = "cloud-node"
/** The `source.component` of the Events this controller records (as upstream). */
export const EVENT_COMPONENT = "cloud-node-controller"

/** Records one Event about a Node; failures to record are the recorder's to log, never the controller's. */
export type RecordNodeEvent = (
  node: NodeView,
  type: "Normal" | "Warning",
  reason: string,
  message: string
) => Effect.Effect<void>

/**
 * A Node event recorder with `component` as the Events' source (aggregated, spam-filtered and sent
 * in the background like client-go's): recording never waits for the API server.
 */
export const nodeEvents = (component: string) =>
  Effect.map(
    EventRecorder.make(component),
    (recorder): RecordNodeEvent => (node, type, reason, message) =>
      recorder.record(
        { kind: "Node", namespace: "", name: node.metadata.name, uid: node.metadata.uid, apiVersion: "v1" },
        type,
        reason,
        message
      )
  )

export interface NodeControllerOptions {
  /**
   * The Node informer to read from: RunCommand shares one between the node controllers (one cache
   * and one watch, as client-go's shared informers; bench/Memory.bench.ts measures what a cache costs).
   * Default: the controller starts its own.
   */
  readonly informer?: Effect.Effect<Informer.Informer<NodeView>> | undefined
  /** `--concurrent-node-syncs` (default 1). */
  readonly workers?: number | undefined
  /** `--node-status-update-frequency` (default 5m). */
  readonly statusUpdateFrequency?: Duration.DurationInput | undefined
  /**
   * How old a VM listing may be to initialise a Node from it (default 60 s): Nodes joining together
   * share one listing (at 5,000 Nodes and 20 QPS an initialisation lasts 12 minutes: 10 s meant a
   * listing of every VM 75 times). A Node missing from the cached listing always triggers a fresh
   * one, and addresses are re-synced every `statusUpdateFrequency` anyway.
   */
  readonly initListingMaxAge?: Duration.DurationInput | undefined
  /** On shutdown, how long in-flight syncs may finish before they are interrupted (default 2 s). */
  readonly drainTimeout?: Duration.DurationInput | undefined
}

export type SyncError =
  | KubeApiError
  | CloudStackError
  | InstanceLookup.NodeNotResolvedError
  | NodeAddresses.ProvidedNodeIpError

/** `initListingMaxAge`'s default. */
const DEFAULT_INIT_LISTING_MAX_AGE = "60 seconds"

/** At most this many attempts of an update that keeps hitting Conflict (each after a re-read). */
const CONFLICT_ATTEMPTS = 5

const isConflict = (error: { readonly _tag: string; readonly reason?: unknown }): boolean =>
  error._tag === "KubeApiError" && error.reason === "Conflict"

/**
 * Writes with the cached copy of a Node first: its resourceVersion makes the write fail with
 * Conflict if the Node changed since, and only then is the Node read from the API server and the
 * write decided again (at most CONFLICT_ATTEMPTS in all). None when the Node is gone by then.
 */
export const writeFromCache = <A, E extends { readonly _tag: string }>(
  cached: NodeView,
  read: Effect.Effect<Option.Option<NodeView>, KubeApiError>,
  write: (node: NodeView) => Effect.Effect<A, E>
): Effect.Effect<Option.Option<A>, E | KubeApiError> =>
  write(cached).pipe(
    Effect.map(Option.some),
    Effect.catchIf(isConflict, () =>
      read.pipe(
        Effect.flatMap(
          Option.match({ onNone: () => Effect.succeedNone, onSome: (node) => Effect.map(write(node), Option.some) })
        ),
        Effect.retry({ while: isConflict, times: CONFLICT_ATTEMPTS - 2 })
      ))
  )

/**
 * The Node informer's source for the node controller: while its list is still coming in, the first
 * page that shows an uninitialised Node starts the VM listing their initialisation reuses (within
 * `initListingMaxAge`), in `scope`, instead of after the whole list. A list of initialised Nodes
 * costs no cloud call. A failed prefetch is the first sync's to meet again and report.
 */
export const initialisingSource = (
  nodes: NodeApi["Type"],
  initListingMaxAge: Duration.DurationInput = DEFAULT_INIT_LISTING_MAX_AGE
): Effect.Effect<Informer.ListWatch<NodeView>, never, Instances | Scope.Scope> =>
  Effect.gen(function*() {
    const instances = yield* Instances
    const scope = yield* Effect.scope
    const prefetch = instances.prefetch(initListingMaxAge).pipe(
      Effect.catchAll((error) => Effect.logDebug("VM listing prefetch failed", error)),
      Effect.forkIn(scope),
      Effect.asVoid
    )
    const list = Effect.flatMap(Ref.make(false), (started) =>
      Effect.locally(nodes.list, listPageObserver, (page) =>
        page.some(NodePlan.isUninitialized)
          ? Effect.flatMap(Ref.getAndSet(started, true), (already) =>
            already ? Effect.void : prefetch)
          : Effect.void))
    return { list, watch: nodes.watch }
  })

export const make = (options: NodeControllerOptions) =>
  Effect.gen(function*() {
    const recordEvent = yield* nodeEvents(EVENT_COMPONENT)
    const nodes = yield* NodeApi
    const instances = yield* Instances
    const initMaxAge = options.initListingMaxAge ?? DEFAULT_INIT_LISTING_MAX_AGE
    const frequency = Duration.decode(options.statusUpdateFrequency ?? "5 minutes")
    // Only Metrics: capturing the whole context would also capture the caller's Scope, and `run` would
    // then fork into that Scope instead of the one the controller manager gives it.
    const metrics = yield* Metrics
    const sync = yield* Informer.makeSyncProbe

    /** Seconds since the Node's creation (None when the object has no creationTimestamp). */
    const secondsSinceCreation = (node: NodeView) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        Option.fromNullable(node.metadata.creationTimestamp).pipe(
          Option.flatMap(DateTime.make),
          Option.map((created) => (now - DateTime.toEpochMillis(created)) / 1000)
        ))

    /** Upstream's cloud-node delay metrics, measured from the Node's creation. */
    const observeDelay = (histogram: "nodeTaintRemovalDelay" | "nodeInitialSyncDelay", node: NodeView) =>
      Effect.flatMap(secondsSinceCreation(node), (seconds) =>
        Option.match(seconds, {
          onNone: () => Effect.void,
          onSome: (s) => Effect.sync(() => metrics[histogram].observe(s))
        }))

    /** The periodic round's address update (an initialisation logs one line, "node initialised"). */
    const patchAddresses = (node: NodeView, addresses: ReadonlyArray<NodeView["status"]["addresses"][number]>) =>
      nodes.patchStatusAddresses(node.metadata.name, addresses).pipe(
        Effect.zipRight(
          Effect.logInfo("node addresses updated").pipe(Effect.annotateLogs({ node: node.metadata.name }))
        )
      )

    /** One attempt on a copy of the Node: decide, then write with its resourceVersion. Some = initialised now. */
    const initialiseFrom = (node: NodeView): Effect.Effect<Option.Option<NodeView>, SyncError> =>
      Effect.gen(function*() {
        const name = node.metadata.name
        if (!NodePlan.isUninitialized(node)) {
          // Initialised already: only keep the GA labels in step with their beta twins (no cloud call).
          const labels = NodePlan.mirroredLabels(node)
          if (labels !== undefined) {
            yield* nodes.update({ name, resourceVersion: node.metadata.resourceVersion, labels })
          }
          return Option.none()
        }
        const lookups = yield* instances.resolve([NodePlan.nodeRef(node)], { maxAge: initMaxAge })
        const lookup = lookups.get(name) ?? InstanceLookup.Match.Missing()
        const metadata = yield* Either.match(InstanceLookup.metadata(name, lookup, instances.options), {
          onLeft: Effect.fail,
          onRight: Effect.succeed
        })
        const plan = yield* Either.match(NodePlan.initialise(node, metadata), {
          onLeft: Effect.fail,
          onRight: Effect.succeed
        })
        const updated = yield* nodes.update(plan.update)
        yield* observeDelay("nodeTaintRemovalDelay", updated)
        if (plan.addresses !== undefined) yield* nodes.patchStatusAddresses(name, plan.addresses)
        yield* observeDelay("nodeInitialSyncDelay", updated)
        return Option.some(updated)
      })

    /**
     * Syncs one Node from the informer's copy: at most 3 requests to initialise it (the update, the
     * addresses, the Synced Event, which is sent in the background); the Node is read from the API
     * server only after a Conflict. A Node missing from the cache is gone: nothing to do.
     */
    const syncNodeFrom =
      (cache: Informer.Informer<NodeView>) => (name: string): Effect.Effect<WorkQueue.ReconcileResult, SyncError> =>
        Effect.flatMap(cache.get(name), (cached) =>
          Option.isNone(cached)
            ? Effect.succeed(WorkQueue.ReconcileResult.Done())
            : writeFromCache(cached.value, nodes.get(name), initialiseFrom).pipe(
              Effect.map(Option.flatten),
              Effect.tap(Option.match({
                onNone: () => Effect.void,
                onSome: (node) =>
                  recordEvent(node, "Normal", "Synced", "Node synced successfully").pipe(
                    Effect.zipRight(Effect.logInfo("node initialised").pipe(Effect.annotateLogs({ node: name })))
                  )
              })),
              Effect.tapError((error) =>
                Effect.flatMap(
                  cache.get(name),
                  Option.match({
                    onNone: () => Effect.void,
                    onSome: (node) => recordEvent(node, "Warning", "SyncNodeFailed", error.message)
                  })
                )
              ),
              Effect.as(WorkQueue.ReconcileResult.Done())
            )).pipe(Effect.withSpan("NodeController.syncNode", { attributes: { node: name } }))

    /** Keeps the queue fed from the informer: every tainted Node, on start and on each change. */
    const feed = (informer: Informer.Informer<NodeView>, queue: WorkQueue.WorkQueue<string>) => {
      const offer = (node: NodeView) =>
        NodePlan.isUninitialized(node) || NodePlan.mirroredLabels(node) !== undefined
          ? queue.add(node.metadata.name)
          : Effect.void
      return informer.changes.pipe(
        Stream.runForEach(Informer.Change.$match({
          Added: ({ object }) => offer(object),
          Updated: ({ object }) => offer(object),
          Deleted: () => Effect.void
        }))
      )
    }

    /**
     * One periodic address round over all initialised Nodes of `source` (the informer cache when
     * running): one VM listing, patches only where the addresses changed.
     */
    const syncAddressesOf = <E>(source: Effect.Effect<ReadonlyArray<NodeView>, E>) =>
      Effect.gen(function*() {
        const ready = (yield* source).filter((n) => !NodePlan.isUninitialized(n))
        // Only the changes are kept of the lookups (a whole VM listing) while they are written.
        const round = yield* Effect.map(
          instances.resolve(ready.map(NodePlan.nodeRef)),
          (lookups) => NodePlan.addressChanges(ready, lookups)
        )
        for (const { error, node } of round.invalid) {
          yield* Effect.logWarning("provided node IP is not a VM address").pipe(
            Effect.annotateLogs({ node: node.metadata.name, error: error.message })
          )
        }
        let patched = 0
        for (const { addresses, node } of round.changes) {
          const result = yield* Effect.either(patchAddresses(node, addresses))
          if (Either.isLeft(result)) yield* Effect.logWarning("address update failed", result.left)
          else patched++
        }
        yield* Effect.logDebug("node address sync round done").pipe(
          Effect.annotateLogs({ nodes: ready.length, patched })
        )
      }).pipe(Effect.withSpan("NodeController.syncAddresses"))

    /** An address round over the Nodes as the API server lists them now (tests, benchmarks). */
    const syncAddresses = syncAddressesOf(Effect.map(nodes.list, (listed) => listed.items))

    const run = Effect.gen(function*() {
      // The informer list-watches Nodes (relisting with backoff on 410 or a broken watch).
      const informer = options.informer === undefined
        ? yield* CachedViews.nodeInformer(
          yield* Effect.provideService(initialisingSource(nodes, initMaxAge), Instances, instances)
        )
        : yield* options.informer
      const queue = yield* WorkQueue.make<string>({ name: CONTROLLER_NAME })
      yield* WorkQueue.runWorkers(queue, options.workers ?? 1, syncNodeFrom(informer), {
        controller: CONTROLLER_NAME,
        classify: ErrorPolicy.classify,
        drainTimeout: options.drainTimeout
      })
      yield* sync.track(informer)
      yield* Effect.forkScoped(feed(informer, queue))
      // Errors skip a round (no retry until the next period), as upstream.
      yield* Effect.forkScoped(
        syncAddressesOf(informer.list).pipe(
          Effect.catchAll((error) => Effect.logWarning("node address sync round failed", error)),
          Effect.catchAllDefect((defect) => Effect.logError("node address sync round crashed", defect)),
          Effect.repeat(Schedule.spaced(frequency)),
          Effect.delay(frequency)
        )
      )
    }).pipe(Effect.annotateLogs({ module: "NodeController" }), Effect.provideService(Metrics, metrics))

    const controller: Controller = { name: CONTROLLER_NAME, run, informerSync: sync.status }
    return { ...controller, syncAddresses } as const
  })

export type NodeController = Effect.Effect.Success<ReturnType<typeof make>>
export type NodeControllerRequirements = NodeApi | EventApi | Instances | Metrics | Scope.Scope
