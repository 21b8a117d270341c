/**
 * Typed request parameters and their wire encoding (reference 1.2): lists are comma-joined, maps are
 * `name[i].field=value`, booleans and integers are decimal text. Pure; a command declares its
 * parameters as a `Spec` of fields and gets a typed params object plus an encoder from it.
 */
import type { Params } from "./Signing.js"

/** One request parameter: its wire name, whether it may be omitted, and how to write a value. */
export interface Field<A, Optional extends boolean> {
  readonly wire: string
  readonly optional: Optional
  // method syntax on purpose: bivariant, so a Spec can hold fields of any value type
  write(value: A, out: Record<string, string>): void
}

export type Spec = { readonly [name: string]: Field<unknown, boolean> }

type Simplify<T> = { [K in keyof T]: T[K] } & {}

/** The params object a Spec describes: required fields first, optional ones with `?`. */
export type ParamsOf<S extends Spec> = Simplify<
  & {
    readonly [K in keyof S as S[K] extends Field<unknown, false> ? K : never]: S[K] extends Field<infer A, boolean> ? A
      : never
  }
  & {
    readonly [K in keyof S as S[K] extends Field<unknown, false> ? never : K]?: S[K] extends Field<infer A, boolean> ? A
      : never
  }
>

const scalar = <A>(wire: string, show: (a: A) => string): Field<A, false> => ({
  wire,
  optional: false,
  write(value, out) {
    out[wire] = show(value)
  }
})

export const string = <A extends string = string>(wire: string): Field<A, false> => scalar<A>(wire, (a) => a)
export const int = (wire: string): Field<number, false> => scalar(wire, (n: number) => Math.trunc(n).toString())
export const bool = (wire: string): Field<boolean, false> => scalar(wire, (b: boolean) => (b ? "true" : "false"))
/** A LIST parameter: values joined with `,` (values must not contain commas). */
export const list = <A extends string = string>(wire: string): Field<ReadonlyArray<A>, false> =>
  scalar(wire, (xs: ReadonlyArray<A>) => xs.join(","))

/** A MAP parameter: `wire[i].<wireField>=value`, e.g. `tags[0].key`, `vmidipmap[0].vmid`, `param[0].name`. */
export const map = <K extends string>(
  wire: string,
  fields: { readonly [k in K]: string }
): Field<ReadonlyArray<{ readonly [k in K]: string }>, false> => ({
  wire,
  optional: false,
  write(entries, out) {
    const keys = Object.keys(fields).filter((k): k is K => k in fields)
    entries.forEach((entry, i) => {
      for (const key of keys) out[`${wire}[${i}].${fields[key]}`] = entry[key]
    })
  }
})

export const optional = <A>(field: Field<A, false>): Field<A, true> => ({
  wire: field.wire,
  optional: true,
  write: (value, out) => field.write(value, out)
})

/** Encodes params per spec; absent optional values are left out, empty maps write nothing. */
export const encode = <S extends Spec>(spec: S, params: ParamsOf<S>): Params => {
  const out: Record<string, string> = {}
  const values: Readonly<Record<string, unknown>> = params
  for (const name of Object.keys(spec)) {
    const value = values[name]
    const field = spec[name]
    if (value !== undefined && field !== undefined) field.write(value, out)
  }
  return out
}

/** `tags[i].key/value`: tag filters on list commands and the tags of createTags/deleteTags. */
export const tags: Field<ReadonlyArray<{ readonly key: string; readonly value: string }>, false> = map("tags", {
  key: "key",
  value: "value"
})
