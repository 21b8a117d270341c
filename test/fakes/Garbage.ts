/**
 * A full garbage collection for tests that prove something is no longer held (WeakRef targets).
 */
import { Effect } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/**
 * Collects garbage in a later macrotask: the target of a WeakRef created or read in the current one
 * is kept alive until it ends, whatever else refers to it.
 */
export const collectGarbage: Effect.Effect<void> = Effect.zipRight(
  Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 0))),
  Effect.sync(() => {
    setFlagsFromString("--expose-gc")
    const gc: unknown = runInNewContext("gc")
    if (typeof gc !== "function") throw new Error("no gc: --expose-gc did not take")
    gc()
  })
)
