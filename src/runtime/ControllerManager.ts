/**
 * Starts the enabled controllers as fibers in one scope and registers a `/healthz/<name>` check for
 * each (k8s: added when the controllers start, i.e. only while leading). Runs until interrupted
 * (shutdown or lost leadership), which stops every controller. Knows no controller's internals.
 */
import { Cause, Effect, Option, Ref, type Scope } from "effect"
import { HealthCheckError, HealthChecks } from "./HealthChecks.js"

/** A controller the runtime can start: a name and a loop that runs until its scope closes. */
export interface Controller<R = never> {
  readonly name: string
  readonly run: Effect.Effect<void, never, R | Scope.Scope>
}

/**
 * Runs `controllers` until interrupted. A controller that ends or dies is logged at Error once and
 * its health check turns unhealthy (so a liveness probe restarts the pod); the others keep running.
 */
export const run = <R>(controllers: ReadonlyArray<Controller<R>>): Effect.Effect<never, never, Exclude<R, Scope.Scope> | HealthChecks> =>
  Effect.gen(function*() {
    const checks = yield* HealthChecks
    for (const controller of controllers) {
      const stopped = yield* Ref.make(Option.none<string>())
      const supervised = Effect.scoped(controller.run).pipe(
        Effect.zipRight(Ref.set(stopped, Option.some("controller exited"))),
        Effect.zipRight(Effect.logError("controller exited unexpectedly")),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Ref.set(stopped, Option.some("controller crashed")).pipe(
              Effect.zipRight(Effect.logError("controller crashed", cause))
            )
        ),
        Effect.annotateLogs({ module: "ControllerManager", controller: controller.name })
      )
      yield* Effect.forkScoped(supervised)
      yield* checks.register(
        controller.name,
        Effect.flatMap(Ref.get(stopped), Option.match({
          onNone: () => Effect.void,
          onSome: (reason) => Effect.fail(new HealthCheckError({ check: controller.name, reason }))
        }))
      )
    }
    yield* Effect.logInfo("controllers started").pipe(
      Effect.annotateLogs({ module: "ControllerManager", controllers: controllers.map((c) => c.name).join(",") })
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)
