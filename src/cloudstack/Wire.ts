/**
 * Schema building blocks for CloudStack response objects: lowercase wire keys mapped to camelCase
 * fields, ports that arrive as strings or numbers, comma-separated CIDR lists, embedded tags.
 * Pure data modules only; each command's response Schema is assembled from these.
 */
import { ParseResult, Schema } from "effect"

/** A required wire field `key`, exposed under the property name it is assigned to. */
export const required = <K extends string, S extends Schema.Schema.All>(key: K, schema: S) =>
  Schema.propertySignature(schema).pipe(Schema.fromKey(key))

/** An optional wire field (CloudStack omits null fields, so absent is the only "no value"). */
export const optional = <K extends string, S extends Schema.Schema.All>(key: K, schema: S) =>
  Schema.optionalWith(schema, { exact: true }).pipe(Schema.fromKey(key))

/** An optional array field (`tags`, `nic`, ...), decoded to `[]` when omitted. */
export const array = <K extends string, S extends Schema.Schema.Any>(key: K, item: S) =>
  Schema.optionalWith(Schema.Array(item), { default: () => [], exact: true }).pipe(Schema.fromKey(key))

/** A TCP/UDP port number in 0..65535 (0 never occurs on the wire, but ICMP-ish rules carry none). */
export const PortNumber = Schema.Int.pipe(Schema.between(0, 65535))

/**
 * A port as the wire sends it: LB and ACL ports are strings, firewall ports are numbers. One
 * transformation rather than a union of two, so a string port costs no failed branch.
 */
export const Port = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), PortNumber, {
  strict: true,
  decode: (value, _, ast) => {
    const n = typeof value === "number" ? value : /^\d+$/.test(value) ? Number(value) : Number.NaN
    return Number.isNaN(n)
      ? ParseResult.fail(new ParseResult.Type(ast, value, "Expected a port number"))
      : ParseResult.succeed(n)
  },
  encode: (n) => ParseResult.succeed(n)
})

/** `"10.0.0.0/8,192.168.0.0/16"` (or `""`) as a list of trimmed entries. */
export const CidrList = Schema.transform(Schema.String, Schema.Array(Schema.String), {
  strict: true,
  decode: (s) => s.split(",").map((c) => c.trim()).filter((c) => c.length > 0),
  encode: (xs) => xs.join(",")
})

/** A resource tag as listTags returns it. */
export const Tag = Schema.Struct({
  key: Schema.String,
  value: Schema.String,
  resourceType: optional("resourcetype", Schema.String),
  resourceId: optional("resourceid", Schema.String)
})
export type Tag = typeof Tag.Type

/**
 * A tag embedded in an entity: key and value. Its resource type and id are the entity's own, and a
 * drift pass holds every rule, firewall rule and IP of the account with three tags each.
 */
export const EmbeddedTag = Tag.pick("key", "value")

/** Embedded tags of an entity, `[]` when omitted. */
export const tags = array("tags", EmbeddedTag)

/** `{"success": true}`: the job result (or sync answer) of commands that return no object. */
export const Success = Schema.Literal(true)
