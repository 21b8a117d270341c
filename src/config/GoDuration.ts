/**
 * Durations written the Go way (`time.ParseDuration`: `30s`, `5m`, `1h30m`, `1.5s`, `250ms`), as
 * used by cloud-config tuning keys and the Kubernetes CCM flags (`--node-status-update-frequency=5m0s`).
 * Pure: parsing, formatting and a Schema from string; no I/O.
 */
import { Duration, Option, ParseResult, Schema } from "effect"
import { echo } from "./CloudConfigError.js"

const unitMillis: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3, // micro sign, as Go accepts
  "\u03bcs": 1e-3, // Greek mu, as Go accepts
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000
}

// Escaped, not literal: one character beyond Latin-1 anywhere in the bundle makes V8 hold its whole
// source as a two-byte string, twice the heap for the life of the process.
const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/y

/**
 * Parses a Go duration string. Returns `None` for anything Go would reject (no unit, unknown unit,
 * empty string), except that a sign is not accepted: no setting here can be negative.
 * `"0"` alone is zero, as in Go.
 */
export const parse = (text: string): Option.Option<Duration.Duration> => {
  if (text === "0") return Option.some(Duration.zero)
  if (text.length === 0) return Option.none()
  let millis = 0
  let at = 0
  while (at < text.length) {
    part.lastIndex = at
    const m = part.exec(text)
    const amount = m?.[1]
    const unit = m?.[2]
    const scale = unit === undefined ? undefined : unitMillis[unit]
    if (m === null || amount === undefined || scale === undefined) return Option.none()
    millis += Number(amount) * scale
    at = part.lastIndex
  }
  return Number.isFinite(millis) ? Option.some(Duration.millis(millis)) : Option.none()
}

/** Shortest Go-style text for a duration: `30s`, `5m`, `1h30m`, `1m0.5s` is written `1m500ms`, `0s`. */
export const format = (duration: Duration.Duration): string => {
  let ms = Duration.toMillis(duration)
  if (!Number.isFinite(ms)) return "Infinity"
  if (ms === 0) return "0s"
  const out: Array<string> = []
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    const n = Math.floor(ms / size)
    if (n > 0) out.push(`${n}${unit}`)
    ms -= n * size
  }
  if (ms > 0) out.push(`${Math.round(ms * 1e6) / 1e6}ms`)
  return out.join("")
}

/** Schema from a Go duration string to a `Duration` (encodes back with `format`). */
export const GoDuration = Schema.transformOrFail(Schema.String, Schema.DurationFromSelf, {
  strict: true,
  decode: (text, _, ast) =>
    Option.match(parse(text.trim()), {
      onNone: () =>
        ParseResult.fail(
          new ParseResult.Type(
            ast,
            text,
            `${echo(text)} is not a duration (use a number and a unit: 500ms, 30s, 5m, 1h)`
          )
        ),
      onSome: ParseResult.succeed
    }),
  encode: (duration) => ParseResult.succeed(format(duration))
}).annotations({ identifier: "GoDuration", description: "a Go duration such as 30s, 5m or 1h30m" })
