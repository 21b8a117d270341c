/**
 * A Console that strips ANSI escapes where colour is not wanted: output that is not a terminal, or
 * NO_COLOR set (https://no-color.org). @effect/cli styles its help and usage errors with ANSI codes
 * unconditionally; this keeps them out of pipes, files and logs. Knows no command.
 */
import { Console } from "effect"
import { stripVTControlCharacters } from "node:util"

/** Whether each stream may carry colour. */
export interface ColorPolicy {
  readonly stdout: boolean
  readonly stderr: boolean
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything but "". Pure. */
export const colorPolicy = (
  tty: { readonly stdout: boolean; readonly stderr: boolean },
  env: Readonly<Record<string, string | undefined>>
): ColorPolicy => {
  const noColor = (env["NO_COLOR"] ?? "") !== ""
  return { stdout: tty.stdout && !noColor, stderr: tty.stderr && !noColor }
}

/** Text arguments without escape sequences; other values as they are (`format` renders them). */
const plain = (args: ReadonlyArray<unknown>): ReadonlyArray<unknown> =>
  args.map((a) => (typeof a === "string" && a.includes("\u001b") ? stripVTControlCharacters(a) : a))

/** `base` with its stdout-like (log, info, debug) and stderr-like (error, warn) output plain where the policy says. */
export const make = (base: Console.Console, policy: ColorPolicy): Console.Console => {
  if (policy.stdout && policy.stderr) return base
  const out = (args: ReadonlyArray<unknown>) => (policy.stdout ? args : plain(args))
  const err = (args: ReadonlyArray<unknown>) => (policy.stderr ? args : plain(args))
  return {
    ...base,
    log: (...args) => base.log(...out(args)),
    info: (...args) => base.info(...out(args)),
    debug: (...args) => base.debug(...out(args)),
    error: (...args) => base.error(...err(args)),
    warn: (...args) => base.warn(...err(args)),
    unsafe: {
      ...base.unsafe,
      log: (...args) => base.unsafe.log(...out(args)),
      info: (...args) => base.unsafe.info(...out(args)),
      debug: (...args) => base.unsafe.debug(...out(args)),
      error: (...args) => base.unsafe.error(...err(args)),
      warn: (...args) => base.unsafe.warn(...err(args))
    }
  }
}
