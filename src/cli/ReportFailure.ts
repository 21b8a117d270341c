/**
 * Turns the failure of a CLI run into what a user should see on stderr: every error's message,
 * once, without stack traces. @effect/cli's own `ValidationError`s are already printed by the
 * CLI framework and are not repeated. Only defects (bugs) are shown with their full cause.
 */
import { ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Predicate } from "effect"

const messageOf = (error: unknown): string | undefined => {
  if (ValidationError.isValidationError(error)) return undefined
  if (Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== "") {
    return error.message
  }
  if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  return String(error)
}

/** The lines to print for a failed run's cause (empty for interruption and validation errors). */
export const failureLines = (cause: Cause.Cause<unknown>): ReadonlyArray<string> => {
  const failures = Array.from(Cause.failures(cause)).flatMap((e) => {
    const m = messageOf(e)
    return m === undefined ? [] : [m]
  })
  const defects = Array.from(Cause.defects(cause))
  return [...failures, ...defects.map((d) => `internal error (a bug): ${Cause.pretty(Cause.die(d))}`)]
}

/** Prints `failureLines(cause)` on stderr. */
export const reportFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.forEach(failureLines(cause), (line) => Console.error(line), { discard: true })
