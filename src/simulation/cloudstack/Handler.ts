/**
 * What a simulator command handler is: a synchronous function of the request context and its
 * parameters to the inner body of `<command>response`, or the failure the real server answers.
 * Handlers mutate only the store of their context.
 */
import type { Either } from "effect"
import type { Fail } from "./Fail.js"
import type { Params } from "./Params.js"
import type { Credentials, Store } from "./Store.js"

export type Obj = Record<string, unknown>

export interface Ctx {
  readonly s: Store
  readonly now: number
  readonly caller: Credentials
  readonly command: string
  readonly jobDurationMs: number
  /** Drawn by the layer from the seeded Random: this call's job (if any) fails with 530. */
  readonly jobFails: boolean
  /** Drawn by the layer: this call's job (if any) blocks its queue this long, then is cancelled. */
  readonly jobStuckMs: number | undefined
}

export type Handler = (c: Ctx, p: Params) => Either.Either<Obj, Fail>

/** The handlers of one resource, by exact (case-sensitive) command name. */
export type Commands = Readonly<Record<string, Handler>>
