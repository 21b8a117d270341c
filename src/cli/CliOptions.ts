/**
 * @effect/cli options with our own validation and wording: integers with a range ("--port: '99999'
 * is not an integer in 0..65535", where @effect/cli says "'abc' is not a integer") and text that
 * must not be empty. Declares options only; no command logic.
 */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Either } from "effect"

export interface IntegerRange {
  readonly min: number
  readonly max: number
}

/** Any integer JavaScript represents exactly (a seed). */
export const anyInteger: IntegerRange = { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }

/** `text` as a whole decimal integer within `range`, or the one-line problem. Pure. */
export const parseInteger = (name: string, text: string, range: IntegerRange): Either.Either<number, string> => {
  const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN
  return Number.isSafeInteger(value) && value >= range.min && value <= range.max
    ? Either.right(value)
    : Either.left(
      `--${name}: '${text}' is not an integer${range === anyInteger ? "" : ` in ${range.min}..${range.max}`}`
    )
}

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** `--name N`, an integer in `range` (shown as `integer` in the usage). */
export const integer = (name: string, range: IntegerRange): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.mapEffect((text) =>
      Either.match(parseInteger(name, text, range), { onLeft: (m) => Effect.fail(invalid(m)), onRight: Effect.succeed })
    )
  )

/** Rejects an empty value of `--name` (`--api-key=` is a mistake, never "generate one"). */
export const nonEmpty = (name: string) => (self: Options.Options<string>): Options.Options<string> =>
  Options.mapEffect(
    self,
    (text) => (text === "" ? Effect.fail(invalid(`--${name} must not be empty`)) : Effect.succeed(text))
  )

/** `--name TEXT`, not empty. */
export const nonEmptyText = (name: string): Options.Options<string> => Options.text(name).pipe(nonEmpty(name))
