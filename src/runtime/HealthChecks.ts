/**
 * The registry of named health checks behind `/healthz` (k8s controller-manager semantics: `ping`,
 * `leaderElection`, one per controller). Checks register for the lifetime of a scope; this module runs
 * them, it serves nothing over HTTP.
 */
import { Context, Data, Duration, Effect, Layer, Option, Ref, type Scope } from "effect"

/** A check reported unhealthy; `reason` is shown on `/healthz?verbose` and the per-check path. */
export class HealthCheckError extends Data.TaggedError("HealthCheckError")<{
  readonly check: string
  readonly reason: string
}> {}

export interface HealthCheckResult {
  readonly name: string
  readonly healthy: boolean
  readonly reason: Option.Option<string>
}

export type HealthCheck = Effect.Effect<void, HealthCheckError>

export class HealthChecks extends Context.Tag("cloudstack-ccm/runtime/HealthChecks")<HealthChecks, {
  /** Adds a named check until the calling scope closes; a later registration of the same name replaces it. */
  readonly register: (name: string, check: HealthCheck) => Effect.Effect<void, never, Scope.Scope>
  /** Runs every check (bounded by a 5 s timeout each), in registration order. */
  readonly runAll: Effect.Effect<ReadonlyArray<HealthCheckResult>>
  /** Runs one check by name; None when no such check is registered. */
  readonly runOne: (name: string) => Effect.Effect<Option.Option<HealthCheckResult>>
}>() {}

const checkTimeout = Duration.seconds(5)

const runCheck = (name: string, check: HealthCheck): Effect.Effect<HealthCheckResult> =>
  check.pipe(
    Effect.timeoutFail({
      duration: checkTimeout,
      onTimeout: () => new HealthCheckError({ check: name, reason: "check timed out" })
    }),
    Effect.match({
      onSuccess: () => ({ name, healthy: true, reason: Option.none() }),
      onFailure: (error) => ({ name, healthy: false, reason: Option.some(error.reason) })
    })
  )

export const make = Effect.gen(function*() {
  const checks = yield* Ref.make<ReadonlyArray<readonly [string, HealthCheck]>>([["ping", Effect.void]])
  const register = (name: string, check: HealthCheck) =>
    Effect.acquireRelease(
      Ref.update(checks, (cs) => [...cs.filter(([n]) => n !== name), [name, check] as const]),
      () => Ref.update(checks, (cs) => cs.filter(([n, c]) => n !== name || c !== check))
    )
  const runAll = Ref.get(checks).pipe(
    Effect.flatMap((cs) => Effect.forEach(cs, ([name, check]) => runCheck(name, check), { concurrency: 8 }))
  )
  const runOne = (name: string) =>
    Ref.get(checks).pipe(
      Effect.map((cs) => Option.fromNullable(cs.find(([n]) => n === name))),
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeed(Option.none<HealthCheckResult>()),
        onSome: ([n, check]) => Effect.map(runCheck(n, check), Option.some)
      }))
    )
  return HealthChecks.of({ register, runAll, runOne })
})

export const layer = Layer.effect(HealthChecks, make)
