/**
 * The one redaction of secrets from foreign text (an answer's body, an error text, a socket error
 * message) before it enters an error, and so a log line, an Event or a metric: the given secret
 * values (configured api key and secret key, a request's signature) in any case and the encodings
 * a server may echo them in, and the value of any parameter named apikey, secretkey, signature,
 * password or sessionkey (any case) in query, JSON, `name: value` and XML form. Pure.
 */
import { encodeValue } from "./Signing.js"

export const REDACTED = "<redacted>"

/** Parameter names whose values are secret wherever they appear (compared case-insensitively). */
export const SECRET_PARAMETERS: ReadonlyArray<string> = ["apikey", "secretkey", "signature", "password", "sessionkey"]

/**
 * Secret values shorter than this are not searched for as free text: they would match ordinary
 * words (CloudStack generates 86-character keys; signatures are 28). Their parameter-name forms are
 * still redacted.
 */
export const MIN_SECRET_LENGTH = 6

/** A redaction bound to the secret values it hides. */
export type Redactor = (text: string) => string

const NAMES = SECRET_PARAMETERS.join("|")

// name=value; the `=` may be URL-encoded once or twice (a URL echoed inside another URL); the value
// ends at a delimiter of the surrounding text, an encoded `&`, or a backslash (JSON `\u0026`).
const QUERY_FORM = new RegExp(`(${NAMES})(=|%3D|%253D)(?:(?!%26|%2526)[^&\\s"'<>\\\\])+`, "gi")
// "name": "value" and 'name': 'value' (escapes inside allowed), and \"name\": \"value\" of JSON
// inside a JSON string (the value ends at the next escaped quote); a value cut off by the end of the
// text (truncated JSON) is redacted to the end
const quotedForm = (q: string) =>
  new RegExp(`(${q})(${NAMES})${q}(\\s*:\\s*)${q}(?:[^${q}\\\\]|\\\\[\\s\\S])*${q}?`, "gi")
const DOUBLE_QUOTED_FORM = quotedForm(`"`)
const SINGLE_QUOTED_FORM = quotedForm(`'`)
const ESCAPED_QUOTED_FORM = new RegExp(
  `(\\\\")(${NAMES})\\\\"(\\s*:\\s*)\\\\"(?:[^"\\\\]|\\\\(?!")[\\s\\S])*(?:\\\\")?`,
  "gi"
)
// name: value (headers, YAML, log text)
const COLON_FORM = new RegExp(`(${NAMES})(\\s*:\\s*)[^\\s"'<>,;&]+`, "gi")
// <name>value</name>
const XML_FORM = new RegExp(`<(${NAMES})>[^<]+`, "gi")

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The forms a value may be echoed in: raw, URL-encoded (JS, Java, twice) and JSON-escaped. */
const variants = (secret: string): ReadonlyArray<string> => {
  const once = encodeURIComponent(secret)
  return [secret, once, encodeValue(secret), encodeURIComponent(once), secret.replaceAll("/", "\\/")]
}

/** Builds the redaction of `secrets` (empty and short values are ignored, see MIN_SECRET_LENGTH). */
export const make = (secrets: ReadonlyArray<string>): Redactor => {
  const forms = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).flatMap(variants))]
    // longest first, so an encoded form is replaced whole rather than a raw prefix of it
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
  const values = forms.length === 0 ? undefined : new RegExp(forms.join("|"), "gi")
  return (text) => {
    const named = text
      .replace(ESCAPED_QUOTED_FORM, `$1$2$1$3$1${REDACTED}$1`)
      .replace(DOUBLE_QUOTED_FORM, `$1$2$1$3$1${REDACTED}$1`)
      .replace(SINGLE_QUOTED_FORM, `$1$2$1$3$1${REDACTED}$1`)
      .replace(QUERY_FORM, `$1$2${REDACTED}`)
      .replace(COLON_FORM, `$1$2${REDACTED}`)
      .replace(XML_FORM, `<$1>${REDACTED}`)
    return values === undefined ? named : named.replace(values, REDACTED)
  }
}

/** `text` with `secrets` and every secret parameter's value replaced by `<redacted>`. */
export const redact = (text: string, secrets: ReadonlyArray<string>): string => make(secrets)(text)

const MAX_CAUSE_DEPTH = 3

/**
 * A copy of a foreign error (e.g. undici's, whose message may contain the request URL) that keeps
 * its name, `code` and cause chain but carries only redacted text, so that rendering it (a log's
 * `Cause.pretty`, JSON) cannot print a secret. Non-Error values become redacted strings.
 */
export const redactCause = (cause: unknown, redactor: Redactor, depth = 0): unknown => {
  if (cause === undefined || cause === null) return cause
  if (!(cause instanceof Error)) return redactor(String(cause))
  const inner = depth < MAX_CAUSE_DEPTH && cause.cause !== undefined
    ? { cause: redactCause(cause.cause, redactor, depth + 1) }
    : undefined
  const copy = new Error(redactor(cause.message), inner)
  copy.name = cause.name
  const code: unknown = Reflect.get(cause, "code")
  if (typeof code === "string") Object.assign(copy, { code })
  return copy
}
