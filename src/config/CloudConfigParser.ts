/**
 * Pure cloud-config parsing: gcfg-compatible INI text (tokenized by `GcfgTokenizer`, decoded by the
 * `CloudConfigSchema`) -> `CloudConfigShape`, reporting every problem at once with its line;
 * `CloudConfigRender` writes text back.
 * No I/O, no services, no clock. gcfg semantics kept on top of the tokenizer: `key` alone is
 * `true` for a boolean and an error otherwise; a repeated key keeps its last value.
 */
import { Array as Arr, Either, Option, Order, ParseResult, Schema } from "effect"
import type { CloudConfigShape } from "./CloudConfig.js"
import { CloudConfigError, ConfigIssue, issueLine } from "./CloudConfigError.js"
import {
  booleanKeys,
  GlobalSection,
  type KnownKey,
  knownKeys,
  optionalStringKeys,
  requiredKeys
} from "./CloudConfigSchema.js"
import { type IniEntry, tokenize } from "./GcfgTokenizer.js"

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
): Either.Either<
  { readonly config: CloudConfigShape; readonly warnings: ReadonlyArray<ConfigWarning> },
  CloudConfigError
> => {
  const doc = tokenize(text, { isKeyName: looksLikeKey })
  const issues: Array<ConfigIssue> = [...doc.issues]
  const raw: Record<string, string> = {}
  const lines = new Map<string, number>()

  for (const section of doc.sections) {
    if (section.name.toLowerCase() !== "global") {
      issues.push(
        ConfigIssue.UnknownSection({
          line: section.line,
          section: section.name,
          suggestion: closest(section.name, ["Global"], 3)
        })
      )
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
