/**
 * Everything that can be wrong with a cloud-config file, as data: one `CloudConfigError` carries
 * every `ConfigIssue` found (hcloud's `errors.Join` idea), and renders them one per line, each
 * prefixed with the file path (and line when known). Messages never contain a secret value.
 */
import { Array as Arr, Data, Option } from "effect"

/** One problem in a cloud-config file. `line` is 1-based. */
export type ConfigIssue = Data.TaggedEnum<{
  /** The file does not exist. */
  FileNotFound: {}
  /** The file exists but cannot be read (permissions, a directory, I/O error). */
  FileUnreadable: { readonly detail: string }
  /** The text is not gcfg-INI (bad header, missing `=`, unterminated quote, bad escape...). */
  SyntaxError: { readonly line: number; readonly detail: string }
  /** A section other than `[Global]`. Its keys are skipped, not reported one by one. */
  UnknownSection: { readonly line: number; readonly section: string; readonly suggestion: Option.Option<string> }
  /**
   * A key the CCM does not know; `suggestion` is the closest valid key by edit distance.
   * `secretLike`: its line starts like key material (`looksLikeSecret`), so the key is not shown.
   */
  UnknownKey: {
    readonly line: number
    readonly key: string
    readonly suggestion: Option.Option<string>
    readonly secretLike?: boolean | undefined
  }
  /** Required keys absent from the file, all listed in one issue. */
  MissingKeys: { readonly keys: ReadonlyArray<string> }
  /** A known key whose value does not decode; `detail` never quotes a secret's value. */
  InvalidValue: { readonly line: Option.Option<number>; readonly key: string; readonly detail: string }
}>
export const ConfigIssue = Data.taggedEnum<ConfigIssue>()

/** Line of an issue, for sorting and rendering; file-level issues have none. */
export const issueLine = (issue: ConfigIssue): Option.Option<number> =>
  ConfigIssue.$match(issue, {
    FileNotFound: () => Option.none(),
    FileUnreadable: () => Option.none(),
    SyntaxError: ({ line }) => Option.some(line),
    UnknownSection: ({ line }) => Option.some(line),
    UnknownKey: ({ line }) => Option.some(line),
    MissingKeys: () => Option.none(),
    InvalidValue: ({ line }) => line
  })

/**
 * How text from the file appears in a message: JSON-quoted, unless longer than `max`, in which case
 * only its length is shown. A long unknown "key" or bad value is often a wrapped or misplaced secret
 * (CloudStack keys are 86 characters), and secrets must never reach a terminal or a log.
 */
export const echo = (text: string, max = 64): string => text.length <= max ? JSON.stringify(text) : hidden(text)

/** How text that may be a secret appears in a message: its length only. */
export const hidden = (text: string): string => `a ${text.length}-character text (not shown: it may be a secret)`

/**
 * Whether a token looks like key material (the tail of a wrapped api-key or secret-key): at least
 * 12 characters of the base64/base64url alphabet mixing two of lower case, upper case and digits.
 * Key names (`requests-per-second`) and ordinary words do not.
 */
export const looksLikeSecret = (token: string): boolean =>
  token.length >= 12 && /^[A-Za-z0-9+/=_-]+$/.test(token) &&
  [/[a-z]/, /[A-Z]/, /[0-9]/].filter((r) => r.test(token)).length >= 2

const didYouMean = (suggestion: Option.Option<string>): string =>
  Option.match(suggestion, { onNone: () => "", onSome: (s) => ` (did you mean "${s}"?)` })

/** The message of one issue, without the path prefix. */
export const describeIssue = (issue: ConfigIssue): string =>
  ConfigIssue.$match(issue, {
    FileNotFound: () => "file not found",
    FileUnreadable: ({ detail }) => `cannot read file: ${detail}`,
    SyntaxError: ({ detail }) => `syntax error: ${detail}`,
    UnknownSection: ({ section, suggestion }) =>
      `unknown section [${section}]${didYouMean(suggestion)}; only [Global] is read`,
    UnknownKey: ({ key, secretLike, suggestion }) =>
      `unknown key ${secretLike === true ? hidden(key) : echo(key, 32)} in [Global]${didYouMean(suggestion)}`,
    MissingKeys: ({ keys }) => `missing required key${keys.length === 1 ? "" : "s"} in [Global]: ${keys.join(", ")}`,
    InvalidValue: ({ detail, key }) => `invalid value for "${key}": ${detail}`
  })

/** `path:line: message` (gcc style, so editors can jump to it), or `path: message`. */
export const renderIssue = (path: string, issue: ConfigIssue): string =>
  Option.match(issueLine(issue), {
    onNone: () => `${path}: ${describeIssue(issue)}`,
    onSome: (line) => `${path}:${line}: ${describeIssue(issue)}`
  })

/** How many issues a message lists; a garbage file (1 MB of noise) would otherwise print thousands. */
export const MAX_ISSUES_SHOWN = 50

/**
 * The cloud-config at `path` cannot be used. Never retryable: the file must be fixed.
 * `issues` is non-empty and sorted by line (file-level issues first); the message lists the first
 * MAX_ISSUES_SHOWN and how many more there are.
 */
export class CloudConfigError extends Data.TaggedError("CloudConfigError")<{
  readonly path: string
  readonly issues: Arr.NonEmptyReadonlyArray<ConfigIssue>
  /** The foreign failure behind FileNotFound/FileUnreadable, for debugging; never rendered. */
  readonly cause?: unknown
}> {
  override get message(): string {
    const n = this.issues.length
    const head = `cannot use cloud-config ${this.path} (${n} problem${n === 1 ? "" : "s"}):`
    const shown = this.issues.slice(0, MAX_ISSUES_SHOWN).map((i) => `  ${renderIssue(this.path, i)}`)
    const more = n - shown.length
    return [head, ...shown, ...(more > 0 ? [`  ... and ${more} more problem${more === 1 ? "" : "s"}`] : [])].join("\n")
  }
}
