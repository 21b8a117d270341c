/**
 * The value formats of the load-balancer annotations, each a Schema from the annotation's string:
 * booleans, algorithms, addresses, CIDR lists, hostnames, network ids, stickiness methods and their
 * `k=v` parameters, health-check paths, seconds and thresholds. Pure.
 */
import { Option, ParseResult, Schema } from "effect"
import { isIP } from "node:net"
import * as Cidr from "./Cidr.js"

export const STICKY_METHODS = ["LbCookie", "AppCookie", "SourceBased"] as const
export type StickyMethod = typeof STICKY_METHODS[number]

export const literalBoolean = Schema.transform(Schema.Literal("true", "false"), Schema.Boolean, {
  strict: true,
  decode: (s) => s === "true",
  encode: (b) => (b ? "true" : "false")
})

export const algorithm = Schema.Literal("roundrobin", "leastconn", "source")

export const ipAddress = Schema.String.pipe(Schema.filter((s) => isIP(s) !== 0, { message: () => "an IP address" }))

/** `a, b, c` → trimmed non-empty entries, each a valid CIDR or address; an empty list is invalid. */
export const CidrListFromString = Schema.transformOrFail(Schema.String, Schema.Array(Schema.String), {
  strict: true,
  decode: (text, _, ast) => {
    const entries = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
    if (entries.length === 0) return ParseResult.fail(new ParseResult.Type(ast, text, "at least one CIDR"))
    const bad = entries.find((e) => Option.isNone(Cidr.parse(e)))
    return bad === undefined
      ? ParseResult.succeed(entries)
      : ParseResult.fail(new ParseResult.Type(ast, text, `a CIDR, not ${bad}`))
  },
  encode: (list) => ParseResult.succeed(list.join(","))
})

/** What the status subresource accepts: a lowercase RFC 1123 subdomain (no trailing dot) that is not an IP. */
export const hostname = Schema.String.pipe(
  Schema.filter(
    (s) =>
      /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/.test(s) &&
      isIP(s) === 0,
    {
      message: () => "a DNS hostname"
    }
  )
)

export const uuid = Schema.String.pipe(
  Schema.filter((s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s), {
    message: () => "a UUID"
  })
)

export const stickyMethod = Schema.transformOrFail(
  Schema.String,
  Schema.Literal("LbCookie", "AppCookie", "SourceBased"),
  {
    strict: true,
    // CloudStack compares method names case-insensitively: so do we, and send its spelling.
    decode: (s, _, ast) => {
      const found = STICKY_METHODS.find((m) => m.toLowerCase() === s.toLowerCase())
      return found === undefined
        ? ParseResult.fail(new ParseResult.Type(ast, s, "a stickiness method"))
        : ParseResult.succeed(found)
    },
    encode: (m) => ParseResult.succeed(m)
  }
)

/** `k=v,k=v` (a bare `k` is a flag): names unique, values without commas. */
export const ParamsFromString = Schema.transformOrFail(
  Schema.String,
  Schema.Record({ key: Schema.String, value: Schema.String }),
  {
    strict: true,
    decode: (text, _, ast) => {
      const out: Record<string, string> = {}
      for (const part of text.split(",").map((p) => p.trim()).filter((p) => p.length > 0)) {
        const eq = part.indexOf("=")
        const key = (eq < 0 ? part : part.slice(0, eq)).trim()
        if (!/^[A-Za-z][-A-Za-z0-9_]*$/.test(key) || key in out) {
          return ParseResult.fail(
            new ParseResult.Type(ast, text, `a parameter name, not ${key}`)
          )
        }
        out[key] = eq < 0 ? "" : part.slice(eq + 1).trim()
      }
      return ParseResult.succeed(out)
    },
    encode: (params) =>
      ParseResult.succeed(Object.entries(params).map(([k, v]) => (v === "" ? k : `${k}=${v}`)).join(","))
  }
)

export const pingPath = Schema.String.pipe(
  Schema.filter((s) => /^\/[\x21-\x7e]*$/.test(s) && s.length <= 1024, { message: () => "a path starting with /" })
)
export const seconds = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 600))
export const threshold = Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))
