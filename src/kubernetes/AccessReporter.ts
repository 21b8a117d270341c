/**
 * Logs Kubernetes access problems (401/403) at Error once per distinct cause for one component
 * (leader election, an informer, an event recorder), never once per attempt: again only when the
 * cause changes or after a success in between. Owns no retry logic; callers keep theirs.
 */
import { Effect, Option, Ref } from "effect"
import * as AccessProblem from "./AccessProblem.js"
import type { KubeApiError } from "./KubeError.js"

export interface AccessReporter {
  /**
   * Reports `error` if it is an access problem not reported since the last success (or a different
   * one). True when `error` is an access problem, so the caller can keep its own per-attempt log quiet.
   */
  readonly failed: (error: KubeApiError) => Effect.Effect<boolean>
  /** A call got through: the next access problem is reported again (and a recovery is logged). */
  readonly succeeded: Effect.Effect<void>
}

/** A reporter whose log lines carry `component` (e.g. "LeaderElection", "Informer nodes"). */
export const make = (component: string): Effect.Effect<AccessReporter> =>
  Effect.map(Ref.make(Option.none<string>()), (reported) => {
    const failed = (error: KubeApiError) =>
      Option.match(AccessProblem.fromError(error), {
        onNone: () => Effect.succeed(false),
        onSome: (problem) => {
          const key = AccessProblem.causeKey(problem)
          return Ref.getAndSet(reported, Option.some(key)).pipe(
            Effect.flatMap((previous) =>
              Option.contains(previous, key)
                ? Effect.void
                : Effect.logError(
                  problem._tag === "Unauthorized"
                    ? "Kubernetes API server rejected the credentials (401 Unauthorized)"
                    : "Kubernetes API server forbids a request (403 Forbidden): RBAC rule missing"
                ).pipe(
                  Effect.annotateLogs({
                    component,
                    verb: error.verb,
                    resource: error.resource,
                    check: AccessProblem.hint(problem)
                  })
                )
            ),
            Effect.as(true)
          )
        }
      })
    const succeeded = Ref.getAndSet(reported, Option.none()).pipe(
      Effect.flatMap((previous) =>
        Option.isSome(previous)
          ? Effect.logInfo("Kubernetes API access restored").pipe(Effect.annotateLogs({ component }))
          : Effect.void
      )
    )
    return { failed, succeeded }
  })
