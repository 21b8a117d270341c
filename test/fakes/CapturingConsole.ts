/**
 * A `Console` that records stdout-like (`log`, `info`) and stderr-like (`error`, `warn`) output
 * instead of printing it, for asserting on what a CLI run shows. Use with `Effect.withConsole`;
 * loggers built with `Logger.withConsoleError`/`withConsoleLog` write through it too.
 */
import { Console, Effect } from "effect"
import { format } from "node:util"

export interface CapturedOutput {
  readonly console: Console.Console
  /** Everything written to stdout so far, one entry per call. */
  readonly stdout: () => ReadonlyArray<string>
  readonly stderr: () => ReadonlyArray<string>
}

export const make: Effect.Effect<CapturedOutput> = Effect.gen(function*() {
  const base = yield* Effect.console
  const out: Array<string> = []
  const err: Array<string> = []
  const toOut = (...args: ReadonlyArray<unknown>) => void out.push(format(...args))
  const toErr = (...args: ReadonlyArray<unknown>) => void err.push(format(...args))
  const console: Console.Console = {
    ...base,
    log: (...args) => Effect.sync(() => toOut(...args)),
    info: (...args) => Effect.sync(() => toOut(...args)),
    error: (...args) => Effect.sync(() => toErr(...args)),
    warn: (...args) => Effect.sync(() => toErr(...args)),
    unsafe: { ...base.unsafe, log: toOut, info: toOut, error: toErr, warn: toErr }
  }
  return { console, stdout: () => [...out], stderr: () => [...err] }
})
