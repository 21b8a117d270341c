/**
 * The typed description of a CloudStack API command: wire name, kind, HTTP method, parameter encoder
 * and response decoder. Pure data; `CloudStackClient` interprets these, `commands/*` declare them.
 */
import { Schema } from "effect"
import type { Effect } from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import type { Skim } from "./ListSkim.js"
import * as Param from "./Param.js"
import type { Params } from "./Signing.js"
import * as Wire from "./Wire.js"

/**
 * How the client adds account scoping (reference 4.2): `list` commands get `listall=true` and the
 * configured `projectid`; `create` commands get `projectid` (it makes the project the owner);
 * `none` for commands without those parameters (listZones, listProjects, queryAsyncJobResult, ...).
 */
export type Scope = "list" | "create" | "none"

interface Base<P> {
  readonly name: string
  readonly method: "GET" | "POST"
  readonly scope: Scope
  readonly encode: (params: P) => Params
}

/**
 * A paged `list*` command: items under `itemKey`, `count` = total matches. A page is CloudStack's
 * ListResponse exactly (reference 2.1): no key besides `count` and `itemKey`, and never more items
 * than `count`. "Nothing matches" is `{}` or `{"count": 0}`; any other object is a decode error,
 * never an empty result.
 */
export interface ListCommand<P, A> extends Base<P> {
  readonly kind: "list"
  readonly itemKey: string
  readonly decodePage: (inner: unknown) => Effect<ListPage<A>, ParseError>
  /** Read each item for these wire fields only (ListSkim): an item schema that needs no others. */
  readonly skim?: Skim | undefined
}

export interface ListPage<A> {
  readonly count?: number | undefined
  readonly items: ReadonlyArray<A>
}

/** A synchronous command: the object inside the single top-level key decodes with `decode`. */
export interface SyncCommand<P, A> extends Base<P> {
  readonly kind: "sync"
  readonly decode: (inner: unknown) => Effect<A, ParseError>
}

/**
 * An async command (reference 3): answers `{jobid}` (`async`) or `{id, jobid}` (`asyncCreate`), and
 * on success its `queryAsyncJobResult.jobresult[resultKey]` decodes with `decodeResult`.
 */
export interface AsyncCommand<P, A> extends Base<P> {
  readonly kind: "async" | "asyncCreate"
  readonly resultKey: string
  readonly decodeResult: (result: unknown) => Effect<A, ParseError>
}

export type Command<P, A> = ListCommand<P, A> | SyncCommand<P, A> | AsyncCommand<P, A>

/** Parameters the client adds itself; commands must not declare them. */
const withFixed = <S extends Param.Spec>(spec: S, fixed: Params | undefined) => (params: Param.ParamsOf<S>): Params =>
  fixed === undefined ? Param.encode(spec, params) : { ...Param.encode(spec, params), ...fixed }

/** A read-only `list*` command, sent by GET. */
export const list = <S extends Param.Spec, A, I>(def: {
  readonly name: string
  readonly itemKey: string
  readonly item: Schema.Schema<A, I>
  readonly params: S
  readonly scope?: Scope
  readonly fixed?: Params
  /** The item's wire fields, when the item schema reads no others and answers may be large. */
  readonly fields?: ReadonlyArray<string>
}): ListCommand<Param.ParamsOf<S>, A> => {
  const allowed: ReadonlySet<string> = new Set(["count", def.itemKey])
  const onlyPageKeys = Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
    Schema.filter((inner) => {
      const extra = Object.keys(inner).filter((key) => !allowed.has(key))
      return extra.length === 0 ||
        `not a ${def.name} page: unexpected key(s) ${extra.join(", ")} (expected count, ${def.itemKey})`
    })
  )
  const fields = Schema.Struct({
    count: Schema.optional(Schema.NonNegativeInt),
    items: Wire.array(def.itemKey, def.item)
  }).pipe(
    Schema.filter((p) =>
      p.count === undefined || p.items.length <= p.count || `${p.items.length} items but count ${p.count}`
    )
  )
  const page = Schema.compose(onlyPageKeys, fields, { strict: false })
  return {
    kind: "list",
    name: def.name,
    method: "GET",
    scope: def.scope ?? "list",
    itemKey: def.itemKey,
    encode: withFixed(def.params, def.fixed),
    decodePage: Schema.decodeUnknown(page, { onExcessProperty: "ignore" }),
    skim: def.fields === undefined ? undefined : { itemKey: def.itemKey, fields: def.fields }
  }
}

/** A synchronous command; `method` is GET for reads, POST for the few sync mutations (enableStaticNat). */
export const sync = <S extends Param.Spec, A, I>(def: {
  readonly name: string
  readonly method: "GET" | "POST"
  readonly params: S
  readonly response: Schema.Schema<A, I>
  readonly scope?: Scope
}): SyncCommand<Param.ParamsOf<S>, A> => ({
  kind: "sync",
  name: def.name,
  method: def.method,
  scope: def.scope ?? "none",
  encode: withFixed(def.params, undefined),
  decode: Schema.decodeUnknown(def.response)
})

/** An async mutation, sent by POST form. `create: true` for BaseAsyncCreateCmd commands (`{id, jobid}`). */
export const async = <S extends Param.Spec, A, I>(def: {
  readonly name: string
  readonly params: S
  readonly resultKey: string
  readonly result: Schema.Schema<A, I>
  readonly create?: boolean
  readonly scope?: Scope
}): AsyncCommand<Param.ParamsOf<S>, A> => ({
  kind: def.create === true ? "asyncCreate" : "async",
  name: def.name,
  method: "POST",
  scope: def.scope ?? "none",
  resultKey: def.resultKey,
  encode: withFixed(def.params, undefined),
  decodeResult: Schema.decodeUnknown(def.result)
})

/**
 * `command` limited to what the caller's own account (or the configured project) holds: `projectid`
 * without `listall`. With `listall=true` an admin key lists every account's resources; without it
 * only those of its own account, which is where this CCM creates everything (reference 4.2).
 */
export const ownedOnly = <P, A>(command: ListCommand<P, A>): ListCommand<P, A> => ({ ...command, scope: "create" })
