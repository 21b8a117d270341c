/**
 * The request parameters of one simulator call and their readers, all pure: each reader answers
 * the value or the real server's failure for it (missing parameter, bad integer, unknown UUID,
 * malformed map key), as an Either so a handler decodes its parameters in one `Either.all` or
 * `yield*`s them in the server's order. No state, no services.
 */
import { Either } from "effect"
import { CS_SERVER_API, Fail, paramError } from "./Fail.js"

const INT = /^-?\d+$/
const MAP_KEY = /^([a-z0-9_]+)\[(\d+)\]\.([a-z0-9_]+)$/

/** A comma-separated parameter value as its trimmed, non-empty items. */
export const list = (v: string | undefined): ReadonlyArray<string> =>
  v === undefined || v === "" ? [] : v.split(",").map((s) => s.trim()).filter((s) => s !== "")

export const invalidUuid = (name: string, value: string, command: string): Fail =>
  paramError(
    `Unable to execute API command ${command.toLowerCase()} due to invalid value. Invalid parameter ${name} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`
  )

/** The parameters of one call of `command`, names lowercased (ParamUnpackWorker lowercases every key). */
export class Params {
  private constructor(
    private readonly values: ReadonlyMap<string, string>,
    readonly command: string
  ) {}

  static from(params: Readonly<Record<string, string>>, command: string): Params {
    const out = new Map<string, string>()
    for (const k in params) {
      const v = params[k]
      if (v !== undefined) out.set(k.toLowerCase(), v)
    }
    return new Params(out, command)
  }

  get(name: string): string | undefined {
    return this.values.get(name)
  }

  has(name: string): boolean {
    return this.values.has(name)
  }

  /** A non-empty value, else the missing-parameter 431. */
  required(name: string): Either.Either<string, Fail> {
    const v = this.values.get(name)
    return v === undefined || v === ""
      ? Either.left(
        paramError(`Unable to execute API command ${this.command.toLowerCase()} due to missing parameter ${name}`)
      )
      : Either.right(v)
  }

  /** Resolves a UUID parameter in `table`; absent -> undefined, unknown -> 431. */
  optUuid<A>(name: string, table: ReadonlyMap<string, A>): Either.Either<A | undefined, Fail> {
    const v = this.values.get(name)
    if (v === undefined || v === "") return Either.right(undefined)
    return this.row(name, v, table)
  }

  reqUuid<A>(name: string, table: ReadonlyMap<string, A>): Either.Either<A, Fail> {
    return Either.flatMap(this.required(name), (v) => this.row(name, v, table))
  }

  /** Every id of a comma-separated UUID list, each known to `table`. */
  uuids(name: string, table: ReadonlyMap<string, unknown>): Either.Either<ReadonlyArray<string>, Fail> {
    const out: Array<string> = []
    for (const id of list(this.values.get(name))) {
      if (!table.has(id)) return Either.left(invalidUuid(name, id, this.command))
      out.push(id)
    }
    return Either.right(out)
  }

  optInt(name: string): Either.Either<number | undefined, Fail> {
    const v = this.values.get(name)
    if (v === undefined || v === "") return Either.right(undefined)
    return INT.test(v.trim())
      ? Either.right(Number(v.trim()))
      : Either.left(
        paramError(
          `Unable to execute API command ${this.command.toLowerCase()} due to invalid value ${v} for parameter ${name}`
        )
      )
  }

  optBool(name: string): boolean | undefined {
    const v = this.values.get(name)
    return v === undefined ? undefined : v.toLowerCase() === "true"
  }

  list(name: string): ReadonlyArray<string> {
    return list(this.values.get(name))
  }

  /**
   * Reads a MAP parameter `name[i].field=value` into entries ordered by index. A malformed key
   * (`name.x`, `name[a]`) is 430 like the real ParamProcessWorker.
   */
  map(name: string): Either.Either<ReadonlyArray<ReadonlyMap<string, string>>, Fail> {
    const byIndex = new Map<number, Map<string, string>>()
    for (const [k, v] of this.values) {
      if (!k.startsWith(name)) continue
      if (k.length > name.length && k[name.length] !== "[" && k[name.length] !== ".") continue
      if (k === name) continue
      const m = MAP_KEY.exec(k)
      if (m === null || m[1] !== name || m[2] === undefined || m[3] === undefined) {
        return Either.left(
          new Fail(
            430,
            CS_SERVER_API,
            `Unable to decode parameter ${k}; if specifying an object array, please use parameter[index].field=XXX, e.g. userGroupList[0].group=httpGroup`
          )
        )
      }
      const i = Number(m[2])
      const entry = byIndex.get(i) ?? new Map<string, string>()
      entry.set(m[3], v)
      byIndex.set(i, entry)
    }
    return Either.right([...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e))
  }

  private row<A>(name: string, v: string, table: ReadonlyMap<string, A>): Either.Either<A, Fail> {
    const row = table.get(v)
    return row === undefined ? Either.left(invalidUuid(name, v, this.command)) : Either.right(row)
  }
}
