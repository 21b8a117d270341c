/**
 * Leader election on a coordination.k8s.io Lease through `LeaseApi`, with client-go's semantics:
 * acquire when the Lease is free, released, or expired by our own observation; renew every retry
 * period; give up (interrupting the guarded effect) once no renewal has succeeded for the renew
 * deadline, which is shorter than the lease, so the work stops before anyone else may take over.
 */
import { Cause, Clock, Context, Data, Duration, Effect, Layer, Option, Random, Ref } from "effect"
import { hostname } from "node:os"
import * as AccessReporter from "../kubernetes/AccessReporter.js"
import { brief, type KubeApiError } from "../kubernetes/KubeError.js"
import { type Lease, LeaseApi } from "../kubernetes/LeaseApi.js"
import { Metrics } from "../metrics/Metrics.js"
import { HealthCheckError } from "./HealthChecks.js"
import { decide, Decision, released } from "./LeaderElectionPlan.js"

export interface LeaderElectionConfig {
  readonly namespace: string
  readonly name: string
  /** Unique per process: `<hostname>_<uuid>` by default (see `makeIdentity`). */
  readonly identity: string
  readonly leaseDuration: Duration.Duration
  readonly renewDeadline: Duration.Duration
  readonly retryPeriod: Duration.Duration
}

/** The k8s cloud-controller-manager defaults (reference A5). */
export const defaults = {
  namespace: "kube-system",
  name: "cloud-controller-manager",
  leaseDuration: Duration.seconds(15),
  renewDeadline: Duration.seconds(10),
  retryPeriod: Duration.seconds(2)
} as const

/** Renewal stopped succeeding before the renew deadline; the guarded work has been interrupted. */
export class LeadershipLostError extends Data.TaggedError("LeadershipLostError")<{
  readonly identity: string
  readonly lease: string
  /** Millis since the last successful renewal when we gave up. */
  readonly sinceLastRenewMillis: number
}> {
  override get message(): string {
    return `leader election lost: lease ${this.lease} not renewed for ${this.sinceLastRenewMillis} ms`
  }
}

export class LeaderElection extends Context.Tag("cloudstack-ccm/runtime/LeaderElection")<LeaderElection, {
  readonly identity: string
  /** False for `--leader-elect=false`: `withLeadership` then runs its effect at once. */
  readonly enabled: boolean
  readonly isLeader: Effect.Effect<boolean>
  /**
   * Waits until this process holds the Lease, then runs `effect` while renewing. Fails with
   * LeadershipLostError (after interrupting `effect`) when renewal fails for the renew deadline.
   * When `effect` ends or is interrupted (shutdown), the Lease is released so another candidate
   * takes over at once. The loss is safe only if `effect`'s finalizers end within
   * leaseDuration - renewDeadline (see CcmSettings.drainTimeout).
   */
  readonly withLeadership: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LeadershipLostError, R>
  /**
   * The `leaderElection` healthz check: unhealthy when no Lease call succeeded for longer than the
   * lease duration (wrong credentials, RBAC, no route; leading or not), or when leading but not
   * renewed for lease duration + 20 s.
   */
  readonly healthCheck: Effect.Effect<void, HealthCheckError>
}>() {}

/** `<hostname>_<uuid v4>`, the uuid drawn from `Random` (deterministic under a seeded test Random). */
export const makeIdentity: Effect.Effect<string> = Effect.gen(function*() {
  const host = yield* Effect.sync(() => hostname())
  const bytes: Array<number> = []
  for (let i = 0; i < 16; i++) bytes.push(yield* Random.nextIntBetween(0, 256))
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("")
  return `${host}_${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
})

interface Observation {
  readonly lease: Lease
  readonly at: number
}

const healthTolerance = Duration.seconds(20)

export const make = (config: LeaderElectionConfig) =>
  Effect.gen(function*() {
    const api = yield* LeaseApi
    const metrics = yield* Metrics
    const leaseName = `${config.namespace}/${config.name}`
    const leaseSeconds = Math.max(1, Math.round(Duration.toSeconds(config.leaseDuration)))
    const observed = yield* Ref.make(Option.none<Observation>())
    const leading = yield* Ref.make(false)
    const lastRenew = yield* Ref.make(0)
    // When an attempt last went through (answered and allowed), and the failure since then: for /healthz.
    const lastContact = yield* Ref.make(yield* Clock.currentTimeMillis)
    const lastError = yield* Ref.make(Option.none<KubeApiError>())
    const access = yield* AccessReporter.make("LeaderElection")
    const setGauge = (v: 0 | 1) => Effect.sync(() => metrics.leaderStatus.set({ name: config.name }, v))
    yield* setGauge(0)

    const observe = (lease: Lease, at: number) =>
      Ref.update(observed, (prev) =>
        Option.isSome(prev) && prev.value.lease.resourceVersion === lease.resourceVersion
          ? prev
          : Option.some({ lease, at }))

    /** An attempt the server answered in full (or a lost race, which it answered too): access works. */
    const contact = Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => Ref.set(lastContact, now)),
      Effect.zipRight(Ref.set(lastError, Option.none())),
      Effect.zipRight(access.succeeded)
    )

    /** One client-go tryAcquireOrRenew; true when we hold the Lease afterwards. API errors mean "not this time". */
    const attempt: Effect.Effect<boolean> = Effect.gen(function*() {
      const current = yield* api.get(config.namespace, config.name)
      // Read the clock AFTER the get: the holder's write is then known to predate `now`.
      const now = yield* Clock.currentTimeMillis
      if (Option.isSome(current)) yield* observe(current.value, now)
      const observedAt = Option.match(yield* Ref.get(observed), { onNone: () => now, onSome: (o) => o.at })
      const decision = decide({
        namespace: config.namespace,
        name: config.name,
        identity: config.identity,
        leaseDurationSeconds: leaseSeconds,
        current,
        observedAt,
        now
      })
      const write = Decision.$match(decision, {
        Create: ({ lease }) => Effect.map(api.create(lease), Option.some),
        Update: ({ lease, takeover }) => {
          const previousHolder = Option.match(current, { onNone: () => "", onSome: (l) => l.spec.holderIdentity ?? "" })
          return api.update(lease).pipe(
            Effect.tap(() =>
              takeover
                ? Effect.logInfo("taking over leader lease").pipe(Effect.annotateLogs({ previousHolder }))
                : Effect.void
            ),
            Effect.map(Option.some)
          )
        },
        Wait: ({ holder }) =>
          Effect.logDebug("leader lease held by another candidate").pipe(
            Effect.annotateLogs({ holder }),
            Effect.as(Option.none<Lease>())
          )
      })
      const written = yield* write
      yield* contact
      if (Option.isNone(written)) return false
      yield* Ref.set(observed, Option.some({ lease: written.value, at: now }))
      yield* Ref.set(lastRenew, now)
      return true
    }).pipe(
      Effect.catchTag("KubeApiError", (error: KubeApiError) =>
        (error.reason === "Conflict" || error.reason === "AlreadyExists"
          ? contact
          : Ref.set(lastError, Option.some(error))).pipe(
            // 401/403 at Error once per cause (what to check); every attempt at Debug.
            Effect.zipRight(access.failed(error)),
            Effect.zipRight(Effect.logDebug("leader lease acquire/renew attempt failed")),
            Effect.annotateLogs({ reason: error.reason, verb: error.verb }),
            Effect.as(false)
          )),
      Effect.annotateLogs({ module: "LeaderElection", lease: leaseName, identity: config.identity })
    )

    // client-go's JitterUntil(retryPeriod, 1.2): spreads candidates so they do not retry in lockstep.
    const jitteredRetry = Effect.map(Random.next, (r) =>
      Duration.millis(Duration.toMillis(config.retryPeriod) * (1 + 1.2 * r)))

    const acquire: Effect.Effect<void> = Effect.gen(function*() {
      yield* Effect.logInfo("attempting to acquire leader lease")
      while (true) {
        const ok = yield* attempt.pipe(
          Effect.timeoutOption(config.renewDeadline),
          Effect.map(Option.getOrElse(() =>
            false
          ))
        )
        if (ok) {
          return
        }
        yield* Effect.sleep(yield* jitteredRetry)
      }
    }).pipe(Effect.annotateLogs({ module: "LeaderElection", lease: leaseName, identity: config.identity }))

    const renewDeadlineMillis = Duration.toMillis(config.renewDeadline)
    const retryMillis = Duration.toMillis(config.retryPeriod)

    /** Renews every retry period; fails once no renewal succeeded within the renew deadline of the last one. */
    const renewLoop: Effect.Effect<never, LeadershipLostError> = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(config.retryPeriod)
        while (true) {
          const deadline = (yield* Ref.get(lastRenew)) + renewDeadlineMillis
          const remaining = deadline - (yield* Clock.currentTimeMillis)
          if (remaining <= 0) {
            return yield* new LeadershipLostError({
              identity: config.identity,
              lease: leaseName,
              sinceLastRenewMillis: renewDeadlineMillis - remaining
            })
          }
          const ok = yield* attempt.pipe(
            Effect.timeoutOption(Duration.millis(remaining)),
            Effect.map(Option.getOrElse(() =>
              false
            ))
          )
          if (ok) {
            break
          }
          const left = deadline - (yield* Clock.currentTimeMillis)
          yield* Effect.sleep(Duration.millis(Math.max(0, Math.min(retryMillis, left))))
        }
      }
    })

    const release: Effect.Effect<void> = Effect.gen(function*() {
      const current = yield* api.get(config.namespace, config.name)
      // Read the clock AFTER the get: the holder's write is then known to predate `now`.
      const now = yield* Clock.currentTimeMillis
      if (Option.isNone(current) || current.value.spec.holderIdentity !== config.identity) {
        return
      }
      yield* api.update(released(current.value, now))
      yield* Effect.logInfo("released leader lease")
    }).pipe(
      // It runs in withLeadership's exit handler, which is uninterruptible: without this the timeout
      // could not cut a hanging call short and the shutdown would wait for the API server.
      Effect.interruptible,
      Effect.timeoutFail({ duration: config.renewDeadline, onTimeout: () => "timed out" as const }),
      Effect.catchAll((error) =>
        // Not fatal: the lease then simply expires after its duration and another candidate takes over.
        Effect.logWarning("could not release leader lease").pipe(
          Effect.annotateLogs({ error: typeof error === "string" ? error : error.message })
        )
      ),
      Effect.annotateLogs({ module: "LeaderElection", lease: leaseName, identity: config.identity })
    )

    const stopLeading = Ref.set(leading, false).pipe(Effect.zipRight(setGauge(0)))

    const withLeadership = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | LeadershipLostError, R> =>
      Effect.gen(function*() {
        yield* acquire
        yield* Ref.set(leading, true)
        yield* setGauge(1)
        yield* Effect.logInfo("became leader").pipe(
          Effect.annotateLogs({ module: "LeaderElection", lease: leaseName, identity: config.identity })
        )
        return yield* Effect.raceFirst(effect, renewLoop).pipe(
          Effect.tapError((error) =>
            error instanceof LeadershipLostError
              ? Effect.logError("leader election lost, controllers stopped").pipe(
                Effect.annotateLogs({
                  module: "LeaderElection",
                  lease: leaseName,
                  identity: config.identity,
                  sinceLastRenewMillis: error.sinceLastRenewMillis
                })
              )
              : Effect.void
          )
        )
      }).pipe(
        Effect.onExit((exit) =>
          stopLeading.pipe(
            // After a loss the server may be unreachable or the Lease another's: only a clean end releases.
            Effect.zipRight(exit._tag === "Failure" && hasLost(exit.cause) ? Effect.void : release)
          )
        )
      )

    const leaseMillis = Duration.toMillis(config.leaseDuration)
    const healthCheck: Effect.Effect<void, HealthCheckError> = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const unreached = now - (yield* Ref.get(lastContact))
      if (unreached > leaseMillis) {
        const why = Option.match(yield* Ref.get(lastError), {
          onNone: () => "no answer",
          onSome: brief
        })
        return yield* new HealthCheckError({
          check: "leaderElection",
          reason: `no successful Kubernetes API call for ${Math.round(unreached / 1000)}s (lease duration ${
            Math.round(leaseMillis / 1000)
          }s): ${why}`
        })
      }
      if (!(yield* Ref.get(leading))) return
      const since = now - (yield* Ref.get(lastRenew))
      if (since > leaseMillis + Duration.toMillis(healthTolerance)) {
        return yield* new HealthCheckError({
          check: "leaderElection",
          reason: `lease not renewed for ${Math.round(since / 1000)}s`
        })
      }
    })

    return LeaderElection.of({
      identity: config.identity,
      enabled: true,
      isLeader: Ref.get(leading),
      withLeadership,
      healthCheck
    })
  })

const hasLost = (cause: Cause.Cause<unknown>): boolean =>
  Option.exists(Cause.failureOption(cause), (e) => e instanceof LeadershipLostError)

export const layer = (config: LeaderElectionConfig) => Layer.effect(LeaderElection, make(config))

/** `--leader-elect=false`: one replica, no Lease; the guarded effect runs at once. */
export const layerDisabled = (identity: string) =>
  Layer.succeed(
    LeaderElection,
    LeaderElection.of({
      identity,
      enabled: false,
      isLeader: Effect.succeed(true),
      withLeadership: (effect) => effect,
      healthCheck: Effect.void
    })
  )
