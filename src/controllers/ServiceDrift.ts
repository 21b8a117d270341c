/**
 * Drift repair for the service controller (`--lb-resync-period`): every period, the account's LB
 * rules, firewall rules and IPs are listed once (a few paged calls for all Services) and every
 * converged Service is planned against them without executing; one that drifted (a rule, firewall
 * rule, ACL item, IP or tag changed by hand), or that can no longer be built as asked, is queued for
 * a full ensure. CloudStack lists LB members only rule by rule, so members are audited one Service at
 * a time, spread evenly over the period, and only while the workers have room (`busy`): an audit
 * reads every member of every rule, and on a large cluster audits queued faster than they finish
 * would take every worker (and its memory) from the Services that changed.
 * A Service's request (its backends, every Node, and the other Services' claims) is built only when
 * its turn comes: all of them at once would hold Services × Nodes references.
 */
import { Duration, Effect, Either, Option } from "effect"
import { Metrics } from "../metrics/Metrics.js"
import type { LbRequest, LoadBalancers } from "../provider/loadbalancer/LoadBalancers.js"
import { giveTurns } from "../runtime/LoopTurns.js"

export interface DriftOptions<E> {
  readonly period: Duration.Duration
  readonly lbs: LoadBalancers["Type"]
  /** The keys of the Services whose LB the controller last saw converged. */
  readonly converged: Effect.Effect<ReadonlyArray<string>>
  /** A Service's current request, none if it is no longer converged (changed or gone since). */
  readonly requestOf: (key: string) => Effect.Effect<Option.Option<LbRequest<E>>>
  /**
   * Queues a full ensure of a drifted Service; true if this pass took the repair over, false if
   * something else already had (a member update that found a rule gone), or if the Service was
   * ensured after `mark` (its ensure saw a newer cloud than the pass's listing): then it is not
   * counted twice.
   */
  readonly repair: (key: string, mark: number) => Effect.Effect<boolean>
  /** A mark taken before the pass lists the cloud (ServiceMemory.mark). */
  readonly mark: Effect.Effect<number>
  /** Queues a member audit of a Service. */
  readonly audit: (key: string) => Effect.Effect<void>
  /** True while the workers have enough to do (queued or in hand) that the next audit waits. */
  readonly busy: Effect.Effect<boolean>
}

/** How often a waiting audit looks again at least (a gap is shorter on a cluster of many Services). */
const BUSY_RECHECK = Duration.seconds(1)

/** One structural pass: what drifted, by Service. Failures skip the pass (logged), never repair blindly. */
export const pass = <E>(options: DriftOptions<E>) =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const keys = yield* options.converged
    if (keys.length === 0) return []
    const mark = yield* options.mark
    const reads = yield* Effect.either(options.lbs.fleet)
    if (Either.isLeft(reads)) {
      yield* Effect.logWarning("load balancer drift pass skipped: CloudStack could not be read").pipe(
        Effect.annotateLogs({ error: reads.left.message })
      )
      return []
    }
    const drifted: Array<string> = []
    for (const key of keys) {
      // A yield per Service: under `giveTurns` the event loop turns between any two of them.
      yield* Effect.yieldNow()
      const request = yield* options.requestOf(key)
      if (Option.isNone(request)) continue
      const kinds = yield* Effect.either(options.lbs.drift(request.value, reads.right))
      if (Either.isLeft(kinds)) {
        // It can no longer be built as asked (its nodes moved off the network of the address it asks
        // for, say): a full ensure tells the user (the Warning) and keeps it on the backoff.
        if (kinds.left._tag === "LbUserError" && (yield* options.repair(key, mark))) {
          yield* Effect.logInfo("load balancer can no longer be built as asked, ensuring").pipe(
            Effect.annotateLogs({ service: key, reason: kinds.left.reason })
          )
          continue
        }
        yield* Effect.logDebug("load balancer drift check failed").pipe(
          Effect.annotateLogs({ service: key, error: kinds.left.message })
        )
        continue
      }
      if (kinds.right.length === 0 || !(yield* options.repair(key, mark))) continue
      for (const kind of kinds.right) metrics.lbDriftRepaired.inc({ kind })
      yield* Effect.logInfo("load balancer drifted, repairing").pipe(
        Effect.annotateLogs({ service: key, kinds: kinds.right.join(",") })
      )
      drifted.push(key)
    }
    return drifted
  }).pipe(Effect.withSpan("ServiceDrift.pass"))

/** The member audits of one period, one Service at a time, evenly spread. */
const audits = <E>(options: DriftOptions<E>) =>
  Effect.gen(function*() {
    const keys = yield* options.converged
    const gap = Duration.millis(Duration.toMillis(options.period) / Math.max(1, keys.length))
    const recheck = Duration.max(gap, BUSY_RECHECK)
    for (const key of keys) {
      yield* Effect.sleep(gap)
      while (yield* options.busy) yield* Effect.sleep(recheck)
      yield* options.audit(key)
    }
    if (keys.length === 0) yield* Effect.sleep(options.period)
  })

/**
 * Runs forever: after each period a structural pass, then the period's member audits. The pass plans
 * every Service without I/O: it lets the event loop turn (/healthz, the Lease) at each yield.
 */
export const run = <E>(options: DriftOptions<E>) =>
  Effect.sleep(options.period).pipe(
    Effect.zipRight(Effect.forever(Effect.zipRight(giveTurns(pass(options)), audits(options)))),
    Effect.annotateLogs({ module: "ServiceDrift" })
  )
