/**
 * The cloud-node-lifecycle controller: every `--node-monitor-period` Ready Nodes lose the shutdown
 * taint, NotReady Nodes whose VM is stopped get it, and NotReady Nodes whose VM definitively does not
 * exist are deleted. All NotReady Nodes of a round share ONE VM listing; a CloudStack error skips
 * the round, so an outage deletes nothing. Decisions live in NodePlan.
 */
import { Duration, Effect, Either, HashSet, Option, Ref, Schedule, Stream } from "effect"
import * as Informer from "../kubernetes/Informer.js"
import type { KubeApiError } from "../kubernetes/KubeError.js"
import { NodeApi } from "../kubernetes/NodeApi.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import { Instances } from "../provider/Instances.js"
import * as CachedViews from "./CachedViews.js"
import type { Controller } from "./Controller.js"
import { nodeEvents, writeFromCache } from "./NodeController.js"
import * as NodePlan from "./NodePlan.js"

export const CONTROLLER_NAME = "cloud-node-lifecycle"
/** The `source.component` of the Events this controller records (as upstream). */
export const EVENT_COMPONENT = "cloud-node-lifecycle-controller"

export interface NodeLifecycleOptions {
  /**
   * The Node informer to read from: RunCommand shares one between the node controllers (one cache
   * and one watch, as client-go's shared informers; bench/Memory.bench.ts measures what a cache costs).
   * Default: the controller starts its own.
   */
  readonly informer?: Effect.Effect<Informer.Informer<NodeView>> | undefined
  /** `--node-monitor-period` (default 5 s). */
  readonly monitorPeriod?: Duration.DurationInput | undefined
}

/** What a round did, for logs, the demo's progress lines and tests. */
export interface RoundReport {
  readonly deleted: ReadonlyArray<string>
  readonly tainted: ReadonlyArray<string>
  readonly untainted: ReadonlyArray<string>
  readonly unresolved: ReadonlyArray<string>
}

export const make = (options: NodeLifecycleOptions) =>
  Effect.gen(function*() {
    const recordEvent = yield* nodeEvents(EVENT_COMPONENT)
    const nodes = yield* NodeApi
    const instances = yield* Instances
    const period = Duration.decode(options.monitorPeriod ?? "5 seconds")
    const sync = yield* Informer.makeSyncProbe

    /**
     * Rewrites the Node's taints from the cached copy (re-read from the API server only after a
     * Conflict). True when the taint changed.
     */
    const setShutdownTaint = (cached: NodeView, present: boolean): Effect.Effect<boolean, KubeApiError> =>
      writeFromCache(cached, nodes.get(cached.metadata.name), (node) => {
        if (NodePlan.hasTaint(node, NodePlan.TAINT_SHUTDOWN) === present) return Effect.succeed(false)
        const others = node.spec.taints.filter((t) => t.key !== NodePlan.TAINT_SHUTDOWN)
        return nodes.update({
          name: node.metadata.name,
          resourceVersion: node.metadata.resourceVersion,
          taints: present ? [...others, NodePlan.shutdownTaint] : others
        }).pipe(Effect.as(true))
      }).pipe(Effect.map(Option.getOrElse(() => false)))

    const deleteNode = (node: NodeView, uid: string) =>
      Effect.gen(function*() {
        const name = node.metadata.name
        yield* recordEvent(
          node,
          "Normal",
          "DeletingNode",
          `Deleting node ${name} because it does not exist in the cloud provider`
        )
        const result = yield* Effect.either(nodes.delete(name, uid))
        if (Either.isLeft(result)) {
          yield* recordEvent(
            node,
            "Warning",
            "DeletingNodeFailed",
            `Error deleting node ${name}: ${result.left.message}`
          )
          yield* Effect.logWarning("node deletion failed", result.left).pipe(Effect.annotateLogs({ node: name }))
          return false
        }
        yield* Effect.logInfo("node deleted: its VM no longer exists").pipe(Effect.annotateLogs({ node: name }))
        return true
      })

    /**
     * One monitor pass over the Nodes of `source` (the informer cache when running; writes carry the
     * copy's resourceVersion or a uid precondition, so a stale cache is safe). Fails only when the Nodes or CloudStack
     * could not be read: then nothing was deleted.
     */
    const monitorOf = <E>(source: Effect.Effect<ReadonlyArray<NodeView>, E>) =>
      Effect.gen(function*() {
        const all = yield* source
        const notReady = all.filter((n) => !NodePlan.isReady(n))
        const lookups = notReady.length === 0
          ? new Map()
          : yield* instances.resolve(notReady.map(NodePlan.nodeRef))
        const report: { readonly [K in keyof RoundReport]: Array<string> } = {
          deleted: [],
          tainted: [],
          untainted: [],
          unresolved: []
        }
        for (const node of all) {
          const name = node.metadata.name
          const action = NodePlan.lifecycle(node, lookups.get(name))
          // The usual round: every Node Ready and untainted, nothing to run.
          if (action._tag === "Nothing") continue
          const step = NodePlan.LifecycleAction.$match(action, {
            Nothing: () => Effect.void,
            RemoveShutdownTaint: () =>
              setShutdownTaint(node, false).pipe(Effect.map((changed) => changed && report.untainted.push(name))),
            AddShutdownTaint: () =>
              setShutdownTaint(node, true).pipe(Effect.map((changed) => changed && report.tainted.push(name))),
            Delete: ({ uid }) => deleteNode(node, uid).pipe(Effect.map((ok) => ok && report.deleted.push(name))),
            Unresolved: ({ error }) =>
              Effect.sync(() => report.unresolved.push(name)).pipe(
                Effect.zipRight(
                  Effect.logWarning("cannot tell whether the node's VM exists", error.message).pipe(
                    Effect.annotateLogs({ node: name })
                  )
                )
              )
          })
          // One Node's Kubernetes failure never stops the round for the others.
          yield* step.pipe(Effect.catchAll((error) =>
            Effect.logWarning("node lifecycle step failed", error).pipe(
              Effect.annotateLogs({ node: name })
            )
          ))
        }
        const result: RoundReport = report
        return result
      }).pipe(Effect.withSpan("NodeLifecycleController.monitor"))

    /** A pass over the Nodes as the API server lists them now (tests). */
    const monitor = monitorOf(Effect.map(nodes.list, (listed) => listed.items))

    const loop = <E extends { readonly message: string }>(source: Effect.Effect<ReadonlyArray<NodeView>, E>) =>
      monitorOf(source).pipe(
        // The JSON log renders an error's fields, not its message: the message says why in words.
        Effect.catchAll((error) =>
          Effect.logWarning("node lifecycle round skipped, nothing deleted", error).pipe(
            Effect.annotateLogs({ reason: error.message })
          )
        ),
        // A defect ends one round, never the controller.
        Effect.catchAllDefect((defect) => Effect.logError("node lifecycle round crashed", defect)),
        Effect.repeat(Schedule.spaced(period)),
        Effect.asVoid
      )

    /**
     * The Nodes a round may act on (NodePlan.needsMonitoring), kept up to date from the informer's
     * changes: a round over 5,000 Ready Nodes then reads no Node at all, instead of listing and
     * judging every one of them every period. A round sees every other Node as Nothing anyway.
     */
    const candidates = (informer: Informer.Informer<NodeView>) =>
      Effect.gen(function*() {
        const names = yield* Ref.make(HashSet.empty<string>())
        const track = (node: NodeView) =>
          Ref.update(
            names,
            NodePlan.needsMonitoring(node) ? HashSet.add(node.metadata.name) : HashSet.remove(node.metadata.name)
          )
        const changes = yield* informer.subscribe
        yield* Effect.forkScoped(changes.pipe(Stream.runForEach(Informer.Change.$match({
          Added: ({ object }) => track(object),
          Updated: ({ object }) => track(object),
          Deleted: ({ object }) => Ref.update(names, HashSet.remove(object.metadata.name))
        }))))
        return Effect.flatMap(
          Ref.get(names),
          (current) =>
            Effect.map(Effect.forEach(current, (name) => informer.get(name)), (found) => found.flatMap(Option.toArray))
        )
      })

    const run = Effect.gen(function*() {
      const informer = options.informer === undefined ? yield* CachedViews.nodeInformer(nodes) : yield* options.informer
      yield* sync.track(informer)
      const source = yield* candidates(informer)
      yield* informer.awaitSynced
      yield* loop(source)
    }).pipe(Effect.scoped, Effect.annotateLogs({ module: "NodeLifecycleController" }))

    const controller: Controller = { name: CONTROLLER_NAME, run, informerSync: sync.status }
    return { ...controller, monitor } as const
  })

export type NodeLifecycleController = Effect.Effect.Success<ReturnType<typeof make>>
