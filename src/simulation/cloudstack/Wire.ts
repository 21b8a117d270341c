/**
 * Wire-format helpers of the simulator, all pure: failures with their real codes and texts, the
 * error/list envelopes, parameter readers (missing, integer, UUID, map parameters), paging of 4.1,
 * CloudStack date rendering and deterministic UUIDs. No state, no services.
 */
import { DateTime } from "effect"
import * as ResponseKey from "../../cloudstack/ResponseKey.js"

/** An error answer: HTTP status = code; `cs` undefined on the 401 auth path. */
export class Fail {
  readonly _tag = "Fail"
  constructor(
    readonly code: number,
    readonly cs: number | undefined,
    readonly text: string,
    /** Outer key `errorresponse` instead of `<command>response` (unknown commands). */
    readonly errorResponseKey: boolean = false
  ) {}
}
export const isFail = (u: unknown): u is Fail => u instanceof Fail

// cserrorcodes of reference 2.4
export const CS_SERVER_API = 9999
export const CS_INVALID_PARAMETER = 4350
export const CS_PERMISSION_DENIED = 4365
export const CS_RULE_CONFLICT = 4360
export const CS_INSUFFICIENT_ADDRESS = 4320
export const CS_CLOUD_RUNTIME = 4250

/** InvalidParameterValueException: 431 / 4350. */
export const invalid = (text: string): Fail => new Fail(431, CS_INVALID_PARAMETER, text)
/** ServerApiException(PARAM_ERROR) without cause: 431 / 9999. */
export const paramError = (text: string): Fail => new Fail(431, CS_SERVER_API, text)
export const permissionDenied = (text: string): Fail => new Fail(531, CS_PERMISSION_DENIED, text)
export const conflict = (text: string): Fail => new Fail(537, CS_RULE_CONFLICT, text)

export const AUTH_TEXT = "unable to verify user credentials and/or request signature"
export const authFail = (errorResponseKey: boolean): Fail => new Fail(401, undefined, AUTH_TEXT, errorResponseKey)

export const USER_ERROR_MESSAGE = "Internal error executing command, please contact your system administrator"

/** The key the real server answers `command` under (class-defined exceptions included, reference 2.1). */
export const responseKey = ResponseKey.of

export const errorBody = (command: string, f: Fail): unknown => {
  const inner = f.cs === undefined
    ? { uuidList: [], errorcode: f.code, errortext: f.text }
    : { uuidList: [], errorcode: f.code, cserrorcode: f.cs, errortext: f.text }
  return { [f.errorResponseKey ? ResponseKey.ERROR_RESPONSE_KEY : responseKey(command)]: inner }
}

/** Request parameters with lowercased names (ParamUnpackWorker lowercases every key). */
export type Params = ReadonlyMap<string, string>

export const lowerParams = (params: Readonly<Record<string, string>>): Params => {
  const out = new Map<string, string>()
  for (const k in params) {
    const v = params[k]
    if (v !== undefined) out.set(k.toLowerCase(), v)
  }
  return out
}

const cmdName = (command: string) => command.toLowerCase()

export const required = (p: Params, name: string, command: string): string | Fail => {
  const v = p.get(name)
  return v === undefined || v === ""
    ? paramError(`Unable to execute API command ${cmdName(command)} due to missing parameter ${name}`)
    : v
}

export const invalidUuid = (name: string, value: string, command: string): Fail =>
  paramError(
    `Unable to execute API command ${cmdName(command)} due to invalid value. Invalid parameter ${name} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`
  )

/** Resolves a UUID parameter in `table`; absent -> undefined, unknown -> 431. */
export const optUuid = <A>(
  p: Params,
  name: string,
  command: string,
  table: ReadonlyMap<string, A>
): A | undefined | Fail => {
  const v = p.get(name)
  if (v === undefined || v === "") return undefined
  const row = table.get(v)
  return row === undefined ? invalidUuid(name, v, command) : row
}

export const reqUuid = <A>(p: Params, name: string, command: string, table: ReadonlyMap<string, A>): A | Fail => {
  const v = required(p, name, command)
  if (isFail(v)) return v
  const row = table.get(v)
  return row === undefined ? invalidUuid(name, v, command) : row
}

const INT = /^-?\d+$/
export const optInt = (p: Params, name: string, command: string): number | undefined | Fail => {
  const v = p.get(name)
  if (v === undefined || v === "") return undefined
  return INT.test(v.trim())
    ? Number(v.trim())
    : paramError(`Unable to execute API command ${cmdName(command)} due to invalid value ${v} for parameter ${name}`)
}

export const optBool = (p: Params, name: string): boolean | undefined => {
  const v = p.get(name)
  return v === undefined ? undefined : v.toLowerCase() === "true"
}

export const list = (v: string | undefined): ReadonlyArray<string> =>
  v === undefined || v === "" ? [] : v.split(",").map((s) => s.trim()).filter((s) => s !== "")

const MAP_KEY = /^([a-z0-9_]+)\[(\d+)\]\.([a-z0-9_]+)$/
/**
 * Reads a MAP parameter `name[i].field=value` into entries ordered by index. A malformed key
 * (`name.x`, `name[a]`) is 430 like the real ParamProcessWorker.
 */
export const mapParam = (p: Params, name: string): ReadonlyArray<ReadonlyMap<string, string>> | Fail => {
  const byIndex = new Map<number, Map<string, string>>()
  for (const [k, v] of p) {
    if (!k.startsWith(name)) continue
    if (k.length > name.length && k[name.length] !== "[" && k[name.length] !== ".") continue
    if (k === name) continue
    const m = MAP_KEY.exec(k)
    if (m === null || m[1] !== name || m[2] === undefined || m[3] === undefined) {
      return new Fail(
        430,
        CS_SERVER_API,
        `Unable to decode parameter ${k}; if specifying an object array, please use parameter[index].field=XXX, e.g. userGroupList[0].group=httpGroup`
      )
    }
    const i = Number(m[2])
    const entry = byIndex.get(i) ?? new Map<string, string>()
    entry.set(m[3], v)
    byIndex.set(i, entry)
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e)
}

export interface Page {
  readonly start: number
  /** undefined = unlimited */
  readonly size: number | undefined
}

export const DEFAULT_PAGE_SIZE = 500

/** The paging rules of reference 4.1. */
export const page = (p: Params, command: string): Page | Fail => {
  const pg = optInt(p, "page", command)
  if (isFail(pg)) return pg
  const ps = optInt(p, "pagesize", command)
  if (isFail(ps)) return ps
  if (pg !== undefined && ps === undefined) return invalid(`"pagesize" parameter is required when "page" is specified`)
  if (ps === -1) {
    return pg !== undefined ? invalid("Can't specify page parameter when pagesize is -1 (Unlimited)") : { start: 0, size: undefined }
  }
  if (ps !== undefined && pg === undefined) return invalid(`"page" parameter is required when "pagesize" is specified`)
  if (ps !== undefined && ps > DEFAULT_PAGE_SIZE) {
    return invalid(`Page size can't exceed max allowed page size value: ${DEFAULT_PAGE_SIZE}`)
  }
  if (ps === undefined || pg === undefined) return { start: 0, size: DEFAULT_PAGE_SIZE }
  const size = ps <= 0 ? DEFAULT_PAGE_SIZE : ps
  return { start: pg <= 0 ? 0 : size * (pg - 1), size }
}

/** `{}` when nothing matches, `{count}` for a page past the end, else `{count, <key>: [...]}`. */
export const listBody = <A>(
  key: string,
  rows: ReadonlyArray<A>,
  pg: Page,
  render: (a: A) => unknown
): Record<string, unknown> => {
  if (rows.length === 0) return {}
  const end = pg.size === undefined ? rows.length : Math.min(rows.length, pg.start + pg.size)
  if (pg.start >= rows.length) return { count: rows.length }
  const items: Array<unknown> = []
  for (let i = pg.start; i < end; i++) {
    const r = rows[i]
    if (r !== undefined) items.push(render(r))
  }
  return { count: rows.length, [key]: items }
}

/** `yyyy-MM-dd'T'HH:mm:ssZ` in UTC, e.g. `2021-10-04T04:37:08+0000`. */
export const formatDate = (epochMs: number): string =>
  `${DateTime.formatIso(DateTime.unsafeMake(epochMs)).slice(0, 19)}+0000`

const fmix = (h0: number): number => {
  let h = h0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
const hex8 = (n: number) => n.toString(16).padStart(8, "0")

/** A version-4-shaped UUID that depends only on (seed, n): reproducible ids for a seed. */
export const uuidFor = (seed: number, n: number): string => {
  const a = fmix(seed ^ fmix(n * 4 + 1))
  const b = fmix(seed + 0x9e3779b9 ^ fmix(n * 4 + 2))
  const c = fmix(seed ^ 0x7f4a7c15 ^ fmix(n * 4 + 3))
  const d = fmix(seed + 0x1b873593 ^ fmix(n * 4 + 4))
  const hb = hex8(b)
  const hc = hex8(c)
  return `${hex8(a)}-${hb.slice(0, 4)}-4${hb.slice(5, 8)}-${((c >>> 28) & 0x3 | 0x8).toString(16)}${hc.slice(1, 4)}-${hc.slice(4, 8)}${hex8(d)}`
}

/** IPv4 helpers for seeding ranges and CIDR checks. */
export const ipv4ToInt = (ip: string): number | undefined => {
  const parts = ip.split(".")
  if (parts.length !== 4) return undefined
  let n = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined
    const v = Number(part)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n
}
export const intToIpv4 = (n: number): string =>
  `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`

const IPV6 = /^[0-9a-fA-F:]+$/
/** A valid IPv4/IPv6 CIDR or address (what NetUtils accepts for cidrlist entries). */
export const isCidr = (s: string): boolean => {
  const [addr, len, extra] = s.split("/")
  if (extra !== undefined || addr === undefined) return false
  if (addr.includes(":")) {
    if (!IPV6.test(addr) || !addr.includes(":")) return false
    return len === undefined || (/^\d+$/.test(len) && Number(len) <= 128)
  }
  if (ipv4ToInt(addr) === undefined) return false
  return len === undefined || (/^\d+$/.test(len) && Number(len) <= 32)
}

export const netmaskOf = (cidr: string): string => {
  const len = Number(cidr.split("/")[1] ?? "24")
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
  return intToIpv4(mask)
}

export const gatewayOf = (cidr: string): string => {
  const base = ipv4ToInt(cidr.split("/")[0] ?? "") ?? 0
  return intToIpv4(base + 1)
}
