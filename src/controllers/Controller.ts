/**
 * What a controller is to the runtime: a name and a `run` effect. A type only, so controllers can
 * declare themselves and the runtime can start them without either importing the other.
 */
import type { Effect, Scope } from "effect"
import type { SyncStatus } from "../kubernetes/Informer.js"

/**
 * A controller the runtime can start. `run` may be a loop that never returns, or a setup that forks
 * its loops into the provided Scope and returns: either way the controller lives until the manager
 * stops (its Scope stays open until then).
 */
export interface Controller<R = never> {
  readonly name: string
  readonly run: Effect.Effect<void, never, R | Scope.Scope>
  /**
   * Whether the informer the controller reads from has listed once: its health check fails when it
   * has not within the grace period after start (e.g. RBAC denies the list). Absent: nothing to wait for.
   */
  readonly informerSync?: Effect.Effect<SyncStatus> | undefined
}
