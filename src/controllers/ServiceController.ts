/**
 * The service controller: keeps a CloudStack load balancer for every `type: LoadBalancer` Service
 * (upstream's service controller semantics, ServicePlan) through a keyed WorkQueue with backoff:
 * finalizer before the first cloud call, ensure or delete through the LoadBalancers provider,
 * status through the status subresource, Events with the upstream reasons plus one Warning per user
 * error. Node and EndpointSlice changes only update members, debounced; a heartbeat triggers nothing.
 */
import { Data, Deferred, Duration, Effect, Option, Ref, Scope, Stream } from "effect"
import type { CloudStackError } from "../cloudstack/CloudStackError.js"
import { EndpointSliceApi } from "../kubernetes/EndpointSliceApi.js"
import type { EndpointSliceView } from "../kubernetes/EndpointSliceView.js"
import type { EventApi } from "../kubernetes/EventApi.js"
import * as Informer from "../kubernetes/Informer.js"
import type { KubeApiError } from "../kubernetes/KubeError.js"
import { NodeApi } from "../kubernetes/NodeApi.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import { ServiceApi } from "../kubernetes/ServiceApi.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import { Metrics } from "../metrics/Metrics.js"
import type { NodeRef } from "../provider/InstanceLookup.js"
import { type LbUserError, LoadBalancers } from "../provider/loadbalancer/LoadBalancers.js"
import * as CachedViews from "./CachedViews.js"
import type { Controller } from "./Controller.js"
import * as ErrorPolicy from "./ErrorPolicy.js"
import * as MemberFeeds from "./MemberFeeds.js"
import * as ServiceDrift from "./ServiceDrift.js"
import * as ServiceMemory from "./ServiceMemory.js"
import * as ServicePlan from "./ServicePlan.js"
import * as ServiceWrites from "./ServiceWrites.js"
import * as WorkQueue from "./WorkQueue.js"

export const CONTROLLER_NAME = "service-lb-controller"
export { EVENT_COMPONENT } from "./ServiceWrites.js"

export interface ServiceControllerOptions {
  /** The shared Node informer (RunCommand's); default: the controller starts its own. */
  readonly nodeInformer?: Effect.Effect<Informer.Informer<NodeView>> | undefined
  /** Workers (default 1; the CLI's `--concurrent-service-syncs` defaults to 20). */
  readonly workers?: number | undefined
  /** Node changes are gathered this long before members are re-synced (default 1 s). */
  readonly nodeSyncDelay?: Duration.DurationInput | undefined
  /** On shutdown, how long in-flight syncs may finish (default 2 s). */
  readonly drainTimeout?: Duration.DurationInput | undefined
  /** `--lb-resync-period`: drift repair and member audits (default 10 min, 0 off). */
  readonly resyncPeriod?: Duration.DurationInput | undefined
}

/** A sync failed for a reason the user can fix; the Warning Event is already recorded. */
export class ServiceUserError extends Data.TaggedError("ServiceUserError")<{
  readonly service: string
  readonly reason: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.service}: ${this.detail}`
  }
}

export type SyncError = KubeApiError | CloudStackError | ServiceUserError

export type ServiceControllerRequirements = ServiceApi | NodeApi | EndpointSliceApi | EventApi | LoadBalancers | Metrics

export const make = (options: ServiceControllerOptions = {}) =>
  Effect.gen(function*() {
    const services = yield* ServiceApi
    const nodeApi = yield* NodeApi
    const sliceApi = yield* EndpointSliceApi
    const lbs = yield* LoadBalancers
    const metrics = yield* Metrics
    const writes = yield* ServiceWrites.make(services)
    const { event } = writes
    const memory = yield* ServiceMemory.make
    const { claimRepair, forget, remember } = memory
    /** Services that vanished while holding a record (finalizer removed by hand): cleaned up once. */
    const vanished = yield* Ref.make(new Map<string, ServiceView>())
    /** UIDs whose cleanup this controller finished: their deletion needs nothing more. */
    const cleaned = yield* Ref.make(new Set<string>())
    const delay = Duration.decode(options.nodeSyncDelay ?? "1 second")
    const sync = yield* Informer.makeSyncProbe

    const run = Effect.gen(function*() {
      const serviceInformer = yield* CachedViews.serviceInformer(services)
      yield* sync.track(serviceInformer)
      const nodeInformer = options.nodeInformer === undefined
        ? yield* CachedViews.nodeInformer(nodeApi)
        : yield* options.nodeInformer
      // EndpointSlices are watched only once a Service asks for externalTrafficPolicy: Local.
      const scope = yield* Effect.scope
      const sliceInformer = yield* Effect.cached(Scope.extend(Informer.make("endpointslices", sliceApi), scope))
      const slicesWanted = yield* Deferred.make<void>()
      const slicesNow = (service: ServiceView): Effect.Effect<ReadonlyArray<EndpointSliceView>> =>
        service.spec.externalTrafficPolicy !== "Local"
          ? Effect.succeed([])
          : Effect.gen(function*() {
            yield* Deferred.succeed(slicesWanted, undefined)
            const informer = yield* sliceInformer
            yield* informer.awaitSynced
            return yield* informer.list
          })

      const backendsOf = (service: ServiceView) =>
        Effect.gen(function*() {
          // An empty cache before the first Node list would take every member off existing rules.
          yield* nodeInformer.awaitSynced
          const all = yield* nodeInformer.list
          return ServicePlan.backends(service, all, yield* slicesNow(service))
        })

      const claimIndex = ServicePlan.lastClaimIndex()
      // The other Services' claims as the informer shows them now; the index is built on first use.
      const claimsNow = (self: string) =>
        Effect.map(serviceInformer.list, (all) => {
          const claims = (kind: keyof ServicePlan.Claims, v: string) => claimIndex(all).claimedElsewhere(kind, v, self)
          return {
            claimedElsewhere: (v: string) => claims("recorded", v),
            requestedElsewhere: (v: string) => claims("requested", v),
            associatingElsewhere: (v: string) => claims("associating", v)
          }
        })
      const requestFor = (service: ServiceView, nodes: ReadonlyArray<NodeRef>) => {
        const now = claimsNow(ServicePlan.serviceKey(service))
        return Effect.map(now, (claims) => ({
          service: ServicePlan.toLbService(service),
          nodes,
          fresh: ServicePlan.isFresh(service),
          ...claims,
          // Read again once the IP locks are held: another Service's ensure may have ended meanwhile.
          claimsNow: now,
          persist: writes.persistFor(service)
        }))
      }

      // The service controller's words when a Service's LB has no member left.
      const noNodes = (service: ServiceView) =>
        event(service, "Warning", "UnAvailableLoadBalancer", "There are no available nodes for LoadBalancer")

      const userError = (service: ServiceView, e: LbUserError) =>
        event(service, "Warning", e.reason, e.detail).pipe(
          Effect.zipRight(
            Effect.fail(
              new ServiceUserError({ service: ServicePlan.serviceKey(service), reason: e.reason, detail: e.detail })
            )
          )
        )

      const cleanup = (service: ServiceView, stillThere: boolean) =>
        Effect.gen(function*() {
          const key = ServicePlan.serviceKey(service)
          yield* event(service, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
          const request = yield* requestFor(service, [])
          yield* lbs.delete({ ...request, persist: stillThere ? request.persist : () => Effect.void }).pipe(
            Effect.tapError((e) =>
              event(service, "Warning", "DeleteLoadBalancerFailed", `Error deleting load balancer: ${e.message}`)
            )
          )
          yield* forget(key)
          if (stillThere) yield* writes.release(service)
          yield* Ref.update(cleaned, (set) => new Set(set).add(service.metadata.uid))
          yield* event(service, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
          yield* Effect.logInfo("load balancer deleted").pipe(Effect.annotateLogs({ service: key }))
        })

      const ensure = (service: ServiceView) =>
        Effect.gen(function*() {
          const key = ServicePlan.serviceKey(service)
          const signature = ServicePlan.specDigest(service)
          const nodes = yield* backendsOf(service)
          const backends = ServicePlan.backendsKey(nodes)
          const last = yield* memory.get(key)
          const audit = yield* memory.takeAudit(key)
          // The audit of an unchanged LB whose rules carry policies is a full ensure: only that reads
          // them (see LbSnapshot). What it changes is a `policy` repair.
          const unchanged = last !== undefined && last.signature === signature && ServicePlan.hasFinalizer(service)
          const policyAudit = unchanged && audit && last.backends === backends &&
            Option.exists(last.snapshot, (s) => s.policies)
          if (unchanged) {
            if (last.backends === backends && !audit) return WorkQueue.ReconcileResult.Done()
            if (Option.isSome(last.snapshot) && !policyAudit) {
              const updated = yield* Effect.either(lbs.updateMembers(last.snapshot.value, nodes))
              if (updated._tag === "Right") {
                const changed = updated.right.added + updated.right.removed > 0
                yield* remember(key, { ...last, backends })
                // An audit that found members changed by hand is drift repaired.
                if (audit && last.backends === backends && changed) {
                  yield* Effect.sync(() => metrics.lbDriftRepaired.inc({ kind: "member" }))
                }
                if (last.backends === backends && !changed) return WorkQueue.ReconcileResult.Done()
                for (const w of updated.right.warnings) yield* event(service, "Warning", w.reason, w.message)
                yield* event(service, "Normal", "UpdatedLoadBalancer", "Updated load balancer with new hosts")
                if (nodes.length === 0) yield* noNodes(service)
                return WorkQueue.ReconcileResult.Done()
              }
              if (updated.left._tag !== "LbSnapshotStaleError") {
                yield* event(
                  service,
                  "Warning",
                  "UpdateLoadBalancerFailed",
                  `Error updating load balancer with new hosts: ${updated.left.message}`
                )
              } else if (yield* claimRepair(key)) {
                // A rule of the last ensure is gone (deleted by hand): the full ensure below repairs it.
                yield* Effect.sync(() => metrics.lbDriftRepaired.inc({ kind: "rule" }))
              }
              // A stale snapshot or a failed update: a full ensure finds out what is there.
            }
          }
          // An audit that finds nothing to do is not the user's news.
          if (!policyAudit) yield* event(service, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
          const outcome = yield* Effect.gen(function*() {
            // The finalizer goes on before any cloud call, so nothing can be left behind unseen.
            const held = ServicePlan.hasFinalizer(service)
              ? Option.some(service)
              : yield* services.setFinalizer(
                service.metadata.namespace,
                service.metadata.name,
                ServicePlan.FINALIZER,
                true
              )
            if (Option.isNone(held)) return Option.none()
            if (nodes.length === 0) yield* noNodes(service)
            const result = yield* lbs.ensure(yield* requestFor(service, nodes)).pipe(
              Effect.catchTag("LbUserError", (e) => userError(service, e))
            )
            for (const w of result.warnings) yield* event(service, "Warning", w.reason, w.message)
            yield* writes.publishStatus(
              held.value,
              ServicePlan.ingressOf(result.address, result.spec.hostname, result.spec.proxyProtocol)
            )
            return Option.some(result)
          }).pipe(
            Effect.tapError((e) =>
              forget(key).pipe(Effect.zipRight(
                e._tag === "ServiceUserError"
                  ? Effect.void
                  : event(service, "Warning", "SyncLoadBalancerFailed", `Error syncing load balancer: ${e.message}`)
              ))
            )
          )
          if (Option.isNone(outcome)) return WorkQueue.ReconcileResult.Done()
          const result = outcome.value
          if (policyAudit && result.mutations > 0) {
            yield* Effect.sync(() => metrics.lbDriftRepaired.inc({ kind: "policy" }))
          }
          if (!policyAudit || result.mutations > 0) {
            yield* event(service, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
          }
          if (result.mutations > 0) {
            yield* Effect.logInfo("load balancer ensured").pipe(
              Effect.annotateLogs({
                service: key,
                address: Option.getOrElse(result.address, () => ""),
                mutations: result.mutations
              })
            )
          }
          // Warnings the user must act on keep the Service on a capped backoff; the rest is converged.
          if (result.warnings.some((w) => RETRY_REASONS.has(w.reason))) {
            yield* forget(key)
            return WorkQueue.ReconcileResult.Requeue()
          }
          yield* remember(key, { signature, backends, snapshot: result.snapshot })
          return WorkQueue.ReconcileResult.Done()
        })

      const syncService = (key: string): Effect.Effect<WorkQueue.ReconcileResult, SyncError> =>
        Effect.gen(function*() {
          const found = yield* serviceInformer.get(key)
          if (Option.isNone(found)) {
            const gone = (yield* Ref.get(vanished)).get(key)
            if (gone !== undefined) {
              yield* cleanup(gone, false)
              yield* Ref.update(vanished, (m) => {
                const next = new Map(m)
                next.delete(key)
                return next
              })
            }
            yield* forget(key)
            return WorkQueue.ReconcileResult.Done()
          }
          const service = found.value
          if (ServicePlan.needsCleanup(service)) {
            yield* cleanup(service, true)
            return WorkQueue.ReconcileResult.Done()
          }
          if (!ServicePlan.wantsLoadBalancer(service) || service.metadata.deletionTimestamp !== undefined) {
            return WorkQueue.ReconcileResult.Done()
          }
          return yield* ensure(service)
        }).pipe(Effect.withSpan("ServiceController.sync", { attributes: { service: key } }))

      const queue = yield* WorkQueue.make<string>({ name: "service" })
      yield* WorkQueue.runWorkers(queue, options.workers ?? 1, syncService, {
        controller: CONTROLLER_NAME,
        classify: ErrorPolicy.classify,
        drainTimeout: options.drainTimeout
      })

      // ---- feeds ----
      const serviceFeed = serviceInformer.changes.pipe(
        Stream.runForEach(Informer.Change.$match({
          Added: ({ object }) =>
            ServicePlan.wantsLoadBalancer(object) || ServicePlan.needsCleanup(object)
              ? queue.add(ServicePlan.serviceKey(object))
              : Effect.void,
          Updated: ({ object, previous }) =>
            ServicePlan.needsUpdate(previous, object) || ServicePlan.needsCleanup(object)
              ? queue.add(ServicePlan.serviceKey(object))
              : Effect.void,
          Deleted: ({ object }) =>
            Effect.gen(function*() {
              const key = ServicePlan.serviceKey(object)
              const done = yield* Ref.modify(cleaned, (set) => {
                const next = new Set(set)
                return [next.delete(object.metadata.uid), next] as const
              })
              // Gone with a record but without our cleanup: the finalizer was removed by hand.
              const recorded = ServicePlan.hasFinalizer(object) || !ServicePlan.isFresh(object)
              if (done || !recorded || !ServicePlan.wantsLoadBalancer(object)) return yield* forget(key)
              yield* Ref.update(vanished, (m) => new Map(m).set(key, object))
              yield* queue.add(key)
            })
        }))
      )

      /** Re-queues every converged LB Service whose backends differ from the last sync. */
      const resyncMembers = Effect.gen(function*() {
        for (const service of yield* serviceInformer.list) {
          const key = ServicePlan.serviceKey(service)
          const last = yield* memory.get(key)
          if (last === undefined || !ServicePlan.wantsLoadBalancer(service)) continue
          const now = ServicePlan.backendsKey(yield* backendsOf(service))
          if (now !== last.backends) yield* queue.add(key)
        }
      })

      yield* Effect.forkScoped(serviceFeed)
      yield* MemberFeeds.start({
        nodes: nodeInformer,
        slices: sliceInformer,
        slicesWanted,
        delay,
        resync: resyncMembers
      })

      const period = Duration.decode(options.resyncPeriod ?? "10 minutes")
      if (Duration.toMillis(period) > 0) {
        const converged = Effect.flatMap(
          serviceInformer.list,
          (all) => Effect.map(Effect.filter(all, memory.isConverged), (ok) => ok.map(ServicePlan.serviceKey))
        )
        const requestOf = (key: string) =>
          Effect.gen(function*() {
            const service = yield* serviceInformer.get(key)
            if (Option.isNone(service) || !(yield* memory.isConverged(service.value))) return Option.none()
            return Option.some(yield* requestFor(service.value, yield* backendsOf(service.value)))
          })
        yield* Effect.forkScoped(ServiceDrift.run({
          period,
          lbs,
          converged,
          requestOf,
          repair: (key, mark) => Effect.zipLeft(claimRepair(key, mark), queue.add(key)),
          mark: memory.mark,
          audit: (key) => Effect.zipRight(memory.markAudit(key), queue.add(key)),
          busy: Effect.map(Effect.zip(queue.len, queue.processing), ([queued, inHand]) => queued + inHand >= AUDIT_ROOM)
        }))
      }
    }).pipe(Effect.annotateLogs({ module: "ServiceController" }), Effect.provideService(Metrics, metrics))

    const controller: Controller = { name: CONTROLLER_NAME, run, informerSync: sync.status }
    return controller
  })

/** Syncs queued or in hand from which a member audit waits for the workers to catch up. */
const AUDIT_ROOM = 2

/** Warning reasons that may clear without a Service change (another try is worth a capped backoff). */
const RETRY_REASONS: ReadonlySet<string> = new Set(["UnsupportedProtocol", "UnresolvedNodes"])
