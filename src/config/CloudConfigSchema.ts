/**
 * The cloud-config's `[Global]` keys and their Schema: which keys exist, which are required,
 * booleans or optional strings, the defaults of the tuning keys, and the decoding of each raw
 * gcfg string to the typed config (URLs, gcfg booleans, Go durations, positive numbers, secrets
 * as Redacted). Pure: no parsing of text here (CloudConfigParser), no I/O.
 */
import { Duration, ParseResult, Schema } from "effect"
import { echo } from "./CloudConfigError.js"
import { GoDuration } from "./GoDuration.js"

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
export const booleanKeys: ReadonlySet<string> = new Set<KnownKey>(["ssl-no-verify"])
/**
 * Optional strings where an empty value means "not set": deploy scripts render
 * `project-id = ${PROJECT_ID}` and `zone = ${ZONE}` with empty variables, and upstream treats "" as unset.
 */
export const optionalStringKeys: ReadonlySet<string> = new Set<KnownKey>(["project-id", "zone", "region"])

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
    if (!URL.canParse(s)) {
      return fail(ast, s, `${echo(s)} is not a URL (expected e.g. https://cloud.example.com/client/api)`)
    }
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
  sslNoVerify: Schema.optionalWith(GcfgBoolean, { default: () => false, exact: true }).pipe(
    Schema.fromKey("ssl-no-verify")
  ),
  requestTimeout: Schema.optionalWith(PositiveDuration, { default: () => defaults.requestTimeout, exact: true }).pipe(
    Schema.fromKey("request-timeout")
  ),
  asyncJobTimeout: Schema.optionalWith(PositiveDuration, { default: () => defaults.asyncJobTimeout, exact: true }).pipe(
    Schema.fromKey("async-job-timeout")
  ),
  maxInFlight: Schema.optionalWith(PositiveInt, { default: () => defaults.maxInFlight, exact: true }).pipe(
    Schema.fromKey("max-in-flight")
  ),
  requestsPerSecond: Schema.optionalWith(PositiveNumber, { default: () => defaults.requestsPerSecond, exact: true })
    .pipe(
      Schema.fromKey("requests-per-second")
    )
})
