/**
 * The `simulator` command's fault flags: `--job-duration`, `--latency`, `--job-failure-rate`,
 * `--error-rate COMMAND:CODE:RATE` (repeatable) and `--api-down FROM..UNTIL[:MODE]`, each parsed
 * and validated with a one-line message naming the flag, then turned into the simulator's `Faults`.
 * Pure: text in, values or the problem out; the command wires them.
 */
import { Duration, Either, Option } from "effect"
import * as GoDuration from "../config/GoDuration.js"
import type { ApiDownWindow, ErrorRate, Faults } from "../simulation/cloudstack/CloudStackSimulator.js"

/** An API-down window in seconds after the simulator started. */
export interface ApiDownFlag {
  readonly fromSeconds: number
  readonly untilSeconds: number
  readonly mode: ApiDownWindow["mode"]
}

export interface FaultFlags {
  readonly jobDuration: Option.Option<Duration.Duration>
  readonly latency: Option.Option<Duration.Duration>
  readonly jobFailureRate: Option.Option<number>
  readonly errorRates: ReadonlyArray<ErrorRate>
  readonly apiDown: Option.Option<ApiDownFlag>
}

/** Longest job duration or latency accepted: beyond it every client times out anyway. */
export const MAX_DELAY = Duration.hours(1)

/** A Go duration (`5s`, `250ms`, `1m30s`, `0`) from 0 to MAX_DELAY. */
export const parseDelay = (flag: string, text: string): Either.Either<Duration.Duration, string> =>
  Option.match(GoDuration.parse(text.trim()), {
    onNone: () => Either.left(`--${flag}: '${text}' is not a duration (use a number and a unit: 500ms, 5s, 1m)`),
    onSome: (d) =>
      Duration.greaterThan(d, MAX_DELAY)
        ? Either.left(`--${flag}: '${text}' is longer than ${GoDuration.format(MAX_DELAY)}`)
        : Either.right(d)
  })

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/

/** A probability: a decimal in 0..1 (`0.05`) or a percentage (`5%`). */
export const parseRate = (flag: string, text: string): Either.Either<number, string> => {
  const t = text.trim()
  const percent = t.endsWith("%")
  const digits = percent ? t.slice(0, -1) : t
  const value = DECIMAL.test(digits) ? Number(digits) / (percent ? 100 : 1) : Number.NaN
  return value >= 0 && value <= 1
    ? Either.right(value)
    : Either.left(`--${flag}: '${text}' is not a rate (a number from 0 to 1, or a percentage such as 5%)`)
}

/**
 * `COMMAND:CODE:RATE`: a command the simulator answers (or `*` for every one), an error code
 * 400..599 answered as HTTP status and `errorcode` (429, 530, 531, 533, 534, 537 come with their
 * real `cserrorcode`), and the probability per call.
 */
export const parseErrorRate = (
  text: string,
  isCommand: (command: string) => boolean
): Either.Either<ErrorRate, string> => {
  const parts = text.split(":")
  const [command = "", code = "", rate = ""] = parts
  const usage = `--error-rate: '${text}' is not COMMAND:CODE:RATE (e.g. createLoadBalancerRule:530:0.2 or *:503:5%)`
  if (parts.length !== 3) return Either.left(usage)
  if (command !== "*" && !isCommand(command)) {
    return Either.left(
      `--error-rate: '${command}' is not a command the simulator answers (names are case-sensitive; * means every command)`
    )
  }
  const n = /^\d+$/.test(code) ? Number(code) : Number.NaN
  if (!(n >= 400 && n <= 599)) return Either.left(`--error-rate: code '${code}' is not an error code in 400..599`)
  return Either.map(parseRate("error-rate", rate), (r) => ({ command, code: n, rate: r }))
}

const SECONDS = /^\d+(\.\d+)?$/

/**
 * `FROM..UNTIL[:MODE]`, seconds after the simulator started (`30..90`, `0..5.5:unavailable`):
 * `unreachable` (default) drops connections as a stopped server does; `unavailable` answers HTTP
 * 503 with a plain-text body, as a proxy in front of a dead server does.
 */
export const parseApiDown = (text: string): Either.Either<ApiDownFlag, string> => {
  const usage =
    `--api-down: '${text}' is not FROM..UNTIL[:unreachable|unavailable] in seconds after start (e.g. 30..90)`
  const [range = "", mode = "unreachable", ...extra] = text.trim().split(":")
  const [from = "", until = "", ...more] = range.split("..")
  if (extra.length > 0 || more.length > 0 || !SECONDS.test(from) || !SECONDS.test(until)) return Either.left(usage)
  if (mode !== "unreachable" && mode !== "unavailable") {
    return Either.left(`--api-down: mode '${mode}' is neither unreachable nor unavailable`)
  }
  const fromSeconds = Number(from)
  const untilSeconds = Number(until)
  if (!(untilSeconds > fromSeconds)) {
    return Either.left(`--api-down: '${text}' ends before it starts (UNTIL must be after FROM)`)
  }
  return Either.right({ fromSeconds, untilSeconds, mode })
}

/** The simulator's faults for the flags, the API-down window placed after `startMillis` (the simulator's Clock). */
export const faultsOf = (flags: FaultFlags, startMillis: number): Partial<Faults> => ({
  ...Option.match(flags.jobDuration, { onNone: () => ({}), onSome: (jobDuration) => ({ jobDuration }) }),
  ...Option.match(flags.latency, { onNone: () => ({}), onSome: (latency) => ({ latency }) }),
  ...Option.match(flags.jobFailureRate, { onNone: () => ({}), onSome: (jobFailureRate) => ({ jobFailureRate }) }),
  errorRates: flags.errorRates,
  apiDown: Option.map(flags.apiDown, (w) => ({
    from: startMillis + Math.round(w.fromSeconds * 1000),
    until: startMillis + Math.round(w.untilSeconds * 1000),
    mode: w.mode
  }))
})

const percent = (rate: number): string => `${Math.round(rate * 10_000) / 100}%`

/** One line per active fault, for the banner (empty when none). */
export const describeFaults = (flags: FaultFlags): ReadonlyArray<string> => [
  ...Option.match(flags.jobDuration, {
    onNone: () => [],
    onSome: (d) => [`job duration: ${GoDuration.format(d)} per async job`]
  }),
  ...Option.match(flags.latency, {
    onNone: () => [],
    onSome: (d) => [`latency: ${GoDuration.format(d)} before every answer`]
  }),
  ...Option.match(flags.jobFailureRate, {
    onNone: () => [],
    onSome: (r) => [`job failures: ${percent(r)} of async jobs fail (530)`]
  }),
  ...flags.errorRates.map((r) =>
    `errors: ${r.command === "*" ? "every command" : r.command} answers ${r.code} for ${percent(r.rate)} of calls`
  ),
  ...Option.match(flags.apiDown, {
    onNone: () => [],
    onSome: (w) => [`API down: ${w.fromSeconds}s..${w.untilSeconds}s after start (${w.mode})`]
  })
]
