/**
 * Starts the enabled controllers as fibers in one scope and registers a `/healthz/<name>` check for
 * each (k8s: added when the controllers start, i.e. only while leading). Runs until interrupted
 * (shutdown or lost leadership), which stops every controller. Knows no controller's internals.
 */
import { Cause, Clock, Duration, Effect, ExecutionStrategy, Option, Ref, Scope } from "effect"
import type { Controller } from "../controllers/Controller.js"
import { HealthCheckError, HealthChecks } from "./HealthChecks.js"

/** Re-exported so callers of the runtime need not know where the type lives. */
export type { Controller }

export interface ControllerManagerOptions {
  /** `--informer-sync-grace`: how long a controller's informer may take to list once (default 2 min). */
  readonly informerSyncGrace?: Duration.DurationInput | undefined
}

/**
 * Runs `controllers` until interrupted, each in its own fiber and Scope. A controller whose `run`
 * dies is logged at Error once and its health check turns unhealthy (so a liveness probe restarts
 * the pod); the others keep running. The check also fails while the controller's informer has not
 * synced `informerSyncGrace` after the start (credentials or RBAC: nothing would ever be reconciled).
 */
export const run = <R>(
  controllers: ReadonlyArray<Controller<R>>,
  options: ControllerManagerOptions = {}
): Effect.Effect<never, never, Exclude<R, Scope.Scope> | HealthChecks> =>
  Effect.gen(function*() {
    const grace = Duration.toMillis(Duration.decode(options.informerSyncGrace ?? "2 minutes"))
    const checks = yield* HealthChecks
    const managerScope = yield* Effect.scope
    for (const controller of controllers) {
      const stopped = yield* Ref.make(Option.none<string>())
      const scope = yield* Scope.fork(managerScope, ExecutionStrategy.sequential)
      const supervised = Scope.extend(controller.run, scope).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Ref.set(stopped, Option.some("controller crashed")).pipe(
              Effect.zipRight(Effect.logError("controller crashed", cause))
            )
        ),
        Effect.annotateLogs({ module: "ControllerManager", controller: controller.name })
      )
      const started = yield* Clock.currentTimeMillis
      yield* Effect.forkScoped(supervised)
      const unsynced = (sync: NonNullable<Controller<R>["informerSync"]>) =>
        Effect.gen(function*() {
          const waited = (yield* Clock.currentTimeMillis) - started
          if (waited <= grace) return Option.none<string>()
          const status = yield* sync
          if (status.synced) return Option.none<string>()
          const why = Option.match(status.problem, { onNone: () => "", onSome: (p) => `: ${p}` })
          return Option.some(`informer not synced ${Math.round(waited / 1000)}s after start${why}`)
        })
      const problem = Effect.flatMap(Ref.get(stopped), (crash) =>
        Option.isSome(crash) || controller.informerSync === undefined
          ? Effect.succeed(crash)
          : unsynced(controller.informerSync))
      yield* checks.register(
        controller.name,
        Effect.flatMap(
          problem,
          Option.match({
            onNone: () =>
              Effect.void,
            onSome: (reason) =>
              Effect.fail(new HealthCheckError({ check: controller.name, reason }))
          })
        )
      )
    }
    yield* Effect.logInfo("controllers started").pipe(
      Effect.annotateLogs({
        module: "ControllerManager",
        controllers: controllers.map((c) => c.name).join(",")
      })
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)
