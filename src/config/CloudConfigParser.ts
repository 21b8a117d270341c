/**
 * Pure cloud-config parsing: gcfg-compatible INI text -> `CloudConfigShape`, reporting every
 * problem at once with its line, and `render` back to text. No I/O, no services, no clock.
 *
 * Why a hand-written tokenizer and not the `ini` package: `ini` keeps no line numbers, treats
 * `key` without `=` as a string, knows no gcfg escapes or `\` line continuations and silently
 * accepts garbage lines, while compatibility with the upstream CCM (gcfg) and line-numbered errors
 * are required. The rules follow gopkg.in/gcfg.v1 (scanner.go/read.go):
 * - `[section]` and `key = value` lines; names are case-insensitive, start with a letter and
 *   contain letters, digits, `-` and `_`; `[sec "sub"]` subsections are not used by the CCM.
 * - `;` and `#` start a comment, also right after an unquoted value (`key = a # note` is `a`).
 * - A value is trimmed; quoted parts (`"..."`) keep spaces, `;` and `#` and understand the escapes
 *   `\"`, `\\`, `\n`, `\t`; outside quotes a `\` must end the line and continues the value.
 * - `key` alone (no `=`) is the gcfg "blank" value: `true` for a boolean, an error otherwise;
 *   `key =` is an empty value.
 * - A repeated key keeps its last value, as gcfg does for single-valued variables.
 */
import { Array as Arr, Duration, Either, Option, Order, ParseResult, Redacted, Schema } from "effect"
import type { CloudConfigShape } from "./CloudConfig.js"
import { CloudConfigError, ConfigIssue, echo, hidden, issueLine, looksLikeSecret } from "./CloudConfigError.js"
import { format as formatDuration, GoDuration } from "./GoDuration.js"

// ---------------------------------------------------------------------------------------------
// Tokenizer (generic gcfg)

/** A `[name]` or `[name "sub"]` header. */
export interface IniSection {
  readonly name: string
  readonly subsection: Option.Option<string>
  readonly line: number
}

/** One variable after unquoting; `value` is `None` for a gcfg blank (`key` without `=`). */
export interface IniEntry {
  readonly section: IniSection
  readonly key: string
  readonly value: Option.Option<string>
  readonly line: number
  /** The line starts like key material (`looksLikeSecret` of its first base64 token): never quote the key. */
  readonly secretLike: boolean
  /** The value had no quoted part and ended at a `;` or `#` (a gcfg comment) after it started. */
  readonly cutAtComment: boolean
}

export interface IniDocument {
  readonly sections: ReadonlyArray<IniSection>
  readonly entries: ReadonlyArray<IniEntry>
  readonly issues: ReadonlyArray<ConfigIssue>
}

const escapes: Readonly<Record<string, string>> = { "\"": "\"", "\\": "\\", n: "\n", t: "\t" }
const identStart = /^\p{L}$/u
const identPart = /^[\p{L}\p{N}_-]$/u

/**
 * Splits gcfg text into sections and entries. Syntax errors are collected (one per bad line, the
 * rest of that line skipped) so that a file with several mistakes reports all of them.
 * A leading UTF-8 BOM and CR of CRLF line ends are ignored, as gcfg does.
 */
export const tokenize = (input: string): IniDocument => {
  const text = input.startsWith("\uFEFF") ? input.slice(1) : input
  const sections: Array<IniSection> = []
  const entries: Array<IniEntry> = []
  const issues: Array<ConfigIssue> = []
  let pos = 0
  let line = 1
  // undefined: before any header; "broken": after a malformed header (its keys are skipped).
  let current: IniSection | "broken" | undefined = undefined

  const skipSpace = () => {
    while (text[pos] === " " || text[pos] === "\t" || text[pos] === "\r") pos++
  }
  const skipLine = () => {
    while (pos < text.length && text[pos] !== "\n") pos++
  }
  const atLineEnd = () => pos >= text.length || text[pos] === "\n" || text[pos] === ";" || text[pos] === "#"
  const syntax = (at: number, detail: string): undefined => {
    issues.push(ConfigIssue.SyntaxError({ line: at, detail }))
    skipLine()
    return undefined
  }
  const ident = (): string => {
    const start = pos
    if (!identStart.test(text[pos] ?? "")) return ""
    while (identPart.test(text[pos] ?? "")) pos++
    return text.slice(start, pos)
  }
  /** Quoted part starting at `"`; returns the unescaped text or undefined after an error. */
  const quoted = (at: number): string | undefined => {
    pos++ // opening quote
    let out = ""
    for (;;) {
      const ch = text[pos]
      if (ch === undefined || ch === "\n") return syntax(at, "unterminated quoted string")
      pos++
      if (ch === "\"") return out
      if (ch === "\\") {
        const e = text[pos]
        const u = e === undefined ? undefined : escapes[e]
        if (u === undefined) {
          return syntax(at, `invalid escape sequence "\\${e ?? ""}" (valid: \\" \\\\ \\n \\t)`)
        }
        pos++
        out += u
      } else if (ch !== "\r") {
        out += ch
      }
    }
  }
  /** A value after `=`: mixed unquoted and quoted parts, up to end of line or a comment. */
  const value = (at: number): { readonly text: string; readonly cutAtComment: boolean } | undefined => {
    let out = ""
    let end = 0 // length of `out` without trailing unquoted whitespace
    let quotedPart = false
    for (;;) {
      const ch = text[pos]
      if (ch === undefined || ch === "\n" || ch === ";" || ch === "#") {
        return { text: out.slice(0, end), cutAtComment: (ch === ";" || ch === "#") && end > 0 && !quotedPart }
      }
      if (ch === "\"") {
        const part = quoted(at)
        if (part === undefined) return undefined
        quotedPart = true
        out += part
        end = out.length
      } else if (ch === "\\") {
        pos++
        if (text[pos] === "\r") pos++
        if (text[pos] !== "\n") {
          return syntax(at, "a \\ outside quotes must end the line (continuation); quote the value to use a backslash")
        }
        pos++
        line++
      } else {
        pos++
        if (ch === "\r") continue
        out += ch
        if (ch !== " " && ch !== "\t") end = out.length
      }
    }
  }
  const header = () => {
    const at = line
    pos++ // [
    current = "broken"
    skipSpace()
    const name = ident()
    if (name === "") return syntax(at, "expected a section name after '['")
    skipSpace()
    let subsection = Option.none<string>()
    if (text[pos] === "\"") {
      const sub = quoted(at)
      if (sub === undefined) return
      subsection = Option.some(sub)
      skipSpace()
    }
    if (text[pos] !== "]") return syntax(at, `expected ']' to close the section header [${name}`)
    pos++
    skipSpace()
    if (!atLineEnd()) return syntax(at, "unexpected text after the section header")
    const section: IniSection = { name, subsection, line: at }
    sections.push(section)
    current = section
  }
  /** The base64 token starting at `from`: what a wrapped secret's line starts with, whatever follows. */
  const tokenAt = (from: number): string => {
    let end = from
    while (end < text.length && /[A-Za-z0-9+/=_-]/.test(text[end] ?? "")) end++
    return text.slice(from, end)
  }
  const variable = () => {
    const at = line
    const token = tokenAt(pos)
    const key = ident()
    // A key name within a typo of a known key is shown even if it mixes case and digits.
    const secretLike = looksLikeSecret(token) && !looksLikeKey(key.toLowerCase())
    const shown = secretLike ? hidden(token) : echo(key, 32)
    skipSpace()
    let v = Option.none<string>()
    let cutAtComment = false
    if (!atLineEnd()) {
      if (text[pos] !== "=") return syntax(at, `expected '=' after ${shown}`)
      pos++
      skipSpace()
      const parsed = value(at)
      if (parsed === undefined) return
      v = Option.some(parsed.text)
      cutAtComment = parsed.cutAtComment
    }
    if (current === undefined) {
      issues.push(ConfigIssue.SyntaxError({ line: at, detail: `${shown} appears before any section header (add [Global] above it)` }))
    } else if (current !== "broken") {
      entries.push({ section: current, key, value: v, line: at, secretLike, cutAtComment })
    }
  }

  while (pos < text.length) {
    skipSpace()
    const ch = text[pos]
    if (ch === undefined) break
    if (ch === "\n") {
      pos++
      line++
    } else if (ch === ";" || ch === "#") {
      skipLine()
    } else if (ch === "[") {
      header()
    } else if (identStart.test(ch)) {
      variable()
    } else {
      syntax(line, `unexpected ${JSON.stringify(ch)}: expected a [section] header or a "key = value" line`)
    }
  }
  return { sections, entries, issues }
}

// ---------------------------------------------------------------------------------------------
// The cloud-config keys

/** The `[Global]` keys this CCM reads: the upstream ones, then our tuning keys (with defaults). */
export const knownKeys = [
  "api-url",
  "api-key",
  "secret-key",
  "project-id",
  "zone",
  "ssl-no-verify",
  "region",
  "request-timeout",
  "async-job-timeout",
  "max-in-flight",
  "requests-per-second"
] as const
export type KnownKey = typeof knownKeys[number]

export const requiredKeys: ReadonlyArray<KnownKey> = ["api-url", "api-key", "secret-key"]
const booleanKeys: ReadonlySet<string> = new Set<KnownKey>(["ssl-no-verify"])
/**
 * Optional strings where an empty value means "not set": deploy scripts render
 * `project-id = ${PROJECT_ID}` and `zone = ${ZONE}` with empty variables, and upstream treats "" as unset.
 */
const optionalStringKeys: ReadonlySet<string> = new Set<KnownKey>(["project-id", "zone", "region"])

export const defaults = {
  requestTimeout: Duration.seconds(30),
  asyncJobTimeout: Duration.minutes(5),
  maxInFlight: 16,
  requestsPerSecond: 20
} as const

const fail = (ast: Schema.Schema.Any["ast"], actual: string, message: string) =>
  ParseResult.fail(new ParseResult.Type(ast, actual, message))

const HttpUrl = Schema.transformOrFail(Schema.String, Schema.URLFromSelf, {
  strict: true,
  decode: (s, _, ast) => {
    if (!URL.canParse(s)) return fail(ast, s, `${echo(s)} is not a URL (expected e.g. https://cloud.example.com/client/api)`)
    const url = new URL(s)
    return url.protocol === "http:" || url.protocol === "https:"
      ? ParseResult.succeed(url)
      : fail(ast, s, `${echo(s)} must use http or https, not ${url.protocol.replace(/:$/, "")}`)
  },
  encode: (url) => ParseResult.succeed(url.href)
})

const truthy = new Set(["true", "yes", "on", "1"])
const falsy = new Set(["false", "no", "off", "0"])
const GcfgBoolean = Schema.transformOrFail(Schema.String, Schema.Boolean, {
  strict: true,
  decode: (s, _, ast) => {
    const v = s.toLowerCase()
    return truthy.has(v)
      ? ParseResult.succeed(true)
      : falsy.has(v)
      ? ParseResult.succeed(false)
      : fail(ast, s, `${echo(s)} is not a boolean (use true/false, yes/no, on/off or 1/0)`)
  },
  encode: (b) => ParseResult.succeed(b ? "true" : "false")
})

const PositiveInt = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (s, _, ast) =>
    /^\d+$/.test(s) && Number(s) > 0 && Number.isSafeInteger(Number(s))
      ? ParseResult.succeed(Number(s))
      : fail(ast, s, `${echo(s)} is not a positive whole number`),
  encode: (n) => ParseResult.succeed(String(n))
})

const PositiveNumber = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (s, _, ast) =>
    /^(\d+(\.\d*)?|\.\d+)$/.test(s) && Number(s) > 0 && Number.isFinite(Number(s))
      ? ParseResult.succeed(Number(s))
      : fail(ast, s, `${echo(s)} is not a positive number`),
  encode: (n) => ParseResult.succeed(String(n))
})

const PositiveDuration = GoDuration.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero) || "must be longer than zero")
)

// Secrets can never fail to decode here (empty values are rejected before decoding), so no Schema
// message can ever quote them.
const Secret = Schema.Redacted(Schema.String)

/** The `[Global]` section as a record of lower-case wire keys to raw strings -> typed config. */
export const GlobalSection = Schema.Struct({
  apiUrl: Schema.propertySignature(HttpUrl).pipe(Schema.fromKey("api-url")),
  apiKey: Schema.propertySignature(Secret).pipe(Schema.fromKey("api-key")),
  secretKey: Schema.propertySignature(Secret).pipe(Schema.fromKey("secret-key")),
  projectId: Schema.optionalWith(Schema.String, { as: "Option", exact: true }).pipe(Schema.fromKey("project-id")),
  zone: Schema.optionalWith(Schema.String, { as: "Option", exact: true }),
  region: Schema.optionalWith(Schema.String, { as: "Option", exact: true }),
  sslNoVerify: Schema.optionalWith(GcfgBoolean, { default: () => false, exact: true }).pipe(Schema.fromKey("ssl-no-verify")),
  requestTimeout: Schema.optionalWith(PositiveDuration, { default: () => defaults.requestTimeout, exact: true }).pipe(
    Schema.fromKey("request-timeout")
  ),
  asyncJobTimeout: Schema.optionalWith(PositiveDuration, { default: () => defaults.asyncJobTimeout, exact: true }).pipe(
    Schema.fromKey("async-job-timeout")
  ),
  maxInFlight: Schema.optionalWith(PositiveInt, { default: () => defaults.maxInFlight, exact: true }).pipe(
    Schema.fromKey("max-in-flight")
  ),
  requestsPerSecond: Schema.optionalWith(PositiveNumber, { default: () => defaults.requestsPerSecond, exact: true }).pipe(
    Schema.fromKey("requests-per-second")
  )
})

// ---------------------------------------------------------------------------------------------
// Parsing

/** Levenshtein distance, for "did you mean" suggestions. */
export const editDistance = (a: string, b: string): number => {
  let prev: ReadonlyArray<number> = Arr.makeBy(b.length + 1, (j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost))
    }
    prev = row
  }
  return prev[b.length] ?? 0
}

/**
 * The candidate closest to `word` (case-insensitive) within `maxDistance` edits; ties go to the
 * earlier candidate.
 */
export const closest = (
  word: string,
  candidates: ReadonlyArray<string>,
  maxDistance = Number.POSITIVE_INFINITY
): Option.Option<string> => {
  const w = word.toLowerCase()
  let best: Option.Option<string> = Option.none()
  let bestDistance = Number.POSITIVE_INFINITY
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase())
    if (d < bestDistance && d <= maxDistance) {
      best = Option.some(c)
      bestDistance = d
    }
  }
  return best
}

/** The known key a misspelt one was probably meant to be: a few edits away, a third of it at most. */
const suggestKey = (key: string) => closest(key, knownKeys, Math.max(3, Math.ceil(key.length / 3)))

/** Within a typo's reach (edit distance <= 3) of a known key. */
const looksLikeKey = (key: string): boolean => knownKeys.some((k) => editDistance(key, k) <= 3)

const knownKeySet: ReadonlySet<string> = new Set(knownKeys)
const isKnownKey = (key: string): key is KnownKey => knownKeySet.has(key)

const sortIssues = (issues: ReadonlyArray<ConfigIssue>): ReadonlyArray<ConfigIssue> =>
  Arr.sortWith(issues, (i) => Option.getOrElse(issueLine(i), () => 0), Order.number)

/**
 * Something in a valid file that may not be what was meant; the file is used as gcfg reads it.
 * `CommentCut`: an unquoted api-key/secret-key value ended at `;` or `#` (gcfg starts a comment
 * there), so the key may be cut short. Names the key, never the value.
 */
export interface ConfigWarning {
  readonly _tag: "CommentCut"
  readonly line: number
  readonly key: KnownKey
}

/** Keys whose values are secrets: a `;` or `#` in them must be quoted. */
const secretKeys: ReadonlySet<KnownKey> = new Set<KnownKey>(["api-key", "secret-key"])

/**
 * Parses and validates cloud-config text. `source` is the file path, used in `CloudConfigError`
 * messages and kept as `CloudConfigShape.source`. Every problem is reported in one error: syntax,
 * unknown sections and keys, missing required keys, empty and invalid values.
 */
export const parse = (text: string, source: string): Either.Either<CloudConfigShape, CloudConfigError> =>
  Either.map(parseWithWarnings(text, source), (parsed) => parsed.config)

/** `parse`, plus the warnings about the file (see ConfigWarning), in line order. */
export const parseWithWarnings = (
  text: string,
  source: string
): Either.Either<{ readonly config: CloudConfigShape; readonly warnings: ReadonlyArray<ConfigWarning> }, CloudConfigError> => {
  const doc = tokenize(text)
  const issues: Array<ConfigIssue> = [...doc.issues]
  const raw: Record<string, string> = {}
  const lines = new Map<string, number>()

  for (const section of doc.sections) {
    if (section.name.toLowerCase() !== "global") {
      issues.push(ConfigIssue.UnknownSection({ line: section.line, section: section.name, suggestion: closest(section.name, ["Global"], 3) }))
    } else if (Option.isSome(section.subsection)) {
      issues.push(ConfigIssue.SyntaxError({
        line: section.line,
        detail: `subsections are not supported: write [${section.name}] without "${section.subsection.value}"`
      }))
    }
  }
  // A repeated key keeps its last value, as gcfg does for single-valued variables.
  const latest = new Map<KnownKey, IniEntry>()
  for (const entry of doc.entries) {
    if (entry.section.name.toLowerCase() !== "global" || Option.isSome(entry.section.subsection)) continue
    const key = entry.key.toLowerCase()
    if (isKnownKey(key)) {
      latest.set(key, entry)
    } else if (Option.isNone(entry.value) && !looksLikeKey(key)) {
      // A bare word far from any key is most likely the tail of a wrapped value (a secret): never echo it.
      issues.push(ConfigIssue.SyntaxError({
        line: entry.line,
        detail: "a word on its own line that is not a key (not shown: it may be part of a wrapped value)"
      }))
    } else {
      issues.push(ConfigIssue.UnknownKey({
        line: entry.line,
        key: entry.key,
        suggestion: entry.secretLike ? Option.none() : suggestKey(key),
        secretLike: entry.secretLike
      }))
    }
  }
  for (const [key, entry] of latest) {
    lines.set(key, entry.line)
    const invalid = (detail: string) =>
      issues.push(ConfigIssue.InvalidValue({ line: Option.some(entry.line), key, detail }))
    if (Option.isNone(entry.value)) {
      if (booleanKeys.has(key)) raw[key] = "true"
      else invalid(`missing value (write "${key} = <value>")`)
    } else if (entry.value.value === "") {
      if (!optionalStringKeys.has(key)) invalid("empty value")
    } else {
      raw[key] = entry.value.value
    }
  }

  const warnings: Array<ConfigWarning> = []
  for (const [key, entry] of latest) {
    if (secretKeys.has(key) && entry.cutAtComment) warnings.push({ _tag: "CommentCut", line: entry.line, key })
  }
  warnings.sort((a, b) => a.line - b.line)

  const missing = requiredKeys.filter((k) => !latest.has(k))
  if (missing.length > 0) issues.push(ConfigIssue.MissingKeys({ keys: missing }))

  const decoded = Schema.decodeUnknownEither(GlobalSection, { errors: "all" })(raw)
  if (Either.isLeft(decoded)) {
    for (const problem of ParseResult.ArrayFormatter.formatErrorSync(decoded.left)) {
      // Missing keys are already reported above (absent, or present with an empty/blank value).
      if (problem._tag === "Missing") continue
      const key = String(problem.path[0] ?? "?")
      issues.push(ConfigIssue.InvalidValue({ line: Option.fromNullable(lines.get(key)), key, detail: problem.message }))
    }
  }
  const sorted = sortIssues(issues)
  if (Arr.isNonEmptyReadonlyArray(sorted)) return Either.left(new CloudConfigError({ path: source, issues: sorted }))
  // No issue means the decode succeeded: every decode failure adds at least one issue above.
  return Either.mapBoth(decoded, {
    onLeft: (cause) =>
      new CloudConfigError({
        path: source,
        issues: [ConfigIssue.InvalidValue({ line: Option.none(), key: "[Global]", detail: "cannot be decoded" })],
        cause
      }),
    onRight: (config) => ({ config: { ...config, source }, warnings })
  })
}

// ---------------------------------------------------------------------------------------------
// Rendering

const quote = (value: string): string =>
  `"${value.replace(/[\\"\n\t]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\${c}`))}"`

/**
 * Renders a config as gcfg text that `parse` reads back to an equal config (values quoted and
 * escaped). Writes the secrets in clear: for generating files (tests, the simulator's demo
 * config), never for logs.
 */
export const render = (config: Omit<CloudConfigShape, "source">): string => {
  const lines: Array<string> = [
    "[Global]",
    `api-url = ${quote(config.apiUrl.href)}`,
    `api-key = ${quote(Redacted.value(config.apiKey))}`,
    `secret-key = ${quote(Redacted.value(config.secretKey))}`
  ]
  const optional = (key: KnownKey, value: Option.Option<string>) =>
    Option.map(value, (v) => lines.push(`${key} = ${quote(v)}`))
  optional("project-id", config.projectId)
  optional("zone", config.zone)
  optional("region", config.region)
  lines.push(
    `ssl-no-verify = ${config.sslNoVerify}`,
    `request-timeout = ${formatDuration(config.requestTimeout)}`,
    `async-job-timeout = ${formatDuration(config.asyncJobTimeout)}`,
    `max-in-flight = ${config.maxInFlight}`,
    `requests-per-second = ${config.requestsPerSecond}`
  )
  return lines.join("\n") + "\n"
}
