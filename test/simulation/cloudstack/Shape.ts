/**
 * A recursive JSON "shape" comparator for conformance tests: same keys and same JSON types,
 * arrays compared by the union of their elements' shapes. Differences are reported as paths so
 * a test can list the ones it accepts explicitly.
 */

export type JsonType = "string" | "number" | "boolean" | "null" | "array" | "object"

export const jsonType = (v: unknown): JsonType =>
  v === null
    ? "null"
    : Array.isArray(v)
    ? "array"
    : typeof v === "string"
    ? "string"
    : typeof v === "number"
    ? "number"
    : typeof v === "boolean"
    ? "boolean"
    : "object"

export interface ShapeDiff {
  /** Keys the fixture has and the simulator lacks, e.g. `jobresult.ipaddress.vlanid`. */
  readonly missing: ReadonlyArray<string>
  /** Keys the simulator has and the fixture lacks. */
  readonly extra: ReadonlyArray<string>
  /** Keys present on both sides with different JSON types, e.g. `publicport: string vs number`. */
  readonly typeMismatch: ReadonlyArray<string>
}

const entriesOf = (v: unknown): ReadonlyArray<readonly [string, unknown]> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? Object.entries(v) : []

/** Merges the elements of an array into one object: first value seen per key wins. */
const unionOf = (xs: ReadonlyArray<unknown>): Record<string, unknown> | undefined => {
  if (xs.length === 0 || !xs.every((x) => jsonType(x) === "object")) return undefined
  const out: Record<string, unknown> = {}
  for (const x of xs) for (const [k, v] of entriesOf(x)) if (!(k in out)) out[k] = v
  return out
}

/**
 * Compares `actual` (simulator) against `expected` (fixture). Paths under any prefix in `opaque`
 * (e.g. `details`: a free-form map) are compared by type only.
 */
export const compareShape = (expected: unknown, actual: unknown, opaque: ReadonlyArray<string> = []): ShapeDiff => {
  const missing: Array<string> = []
  const extra: Array<string> = []
  const typeMismatch: Array<string> = []
  const walk = (e: unknown, a: unknown, path: string) => {
    const te = jsonType(e)
    const ta = jsonType(a)
    if (te !== ta) {
      typeMismatch.push(`${path}: ${te} vs ${ta}`)
      return
    }
    if (opaque.includes(path)) return
    if (te === "array" && Array.isArray(e) && Array.isArray(a)) {
      const ue = unionOf(e)
      const ua = unionOf(a)
      if (ue !== undefined && ua !== undefined) walk(ue, ua, `${path}[]`)
      else if (e.length > 0 && a.length > 0) walk(e[0], a[0], `${path}[]`)
      return
    }
    if (te !== "object") return
    const ea = new Map(entriesOf(e))
    const aa = new Map(entriesOf(a))
    const prefix = path === "" ? "" : `${path}.`
    for (const [k, v] of ea) {
      if (!aa.has(k)) missing.push(`${prefix}${k}`)
      else walk(v, aa.get(k), `${prefix}${k}`)
    }
    for (const k of aa.keys()) if (!ea.has(k)) extra.push(`${prefix}${k}`)
  }
  walk(expected, actual, "")
  return { missing, extra, typeMismatch }
}
