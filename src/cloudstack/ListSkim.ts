/**
 * A list answer read as it arrives, without holding all of it. CloudStack does not page
 * listLoadBalancerRuleInstances: a rule's members come back in one answer of whole VM objects (NICs,
 * offering, tags), ~2 KB each, when the CCM needs two fields of each. Read as text and parsed, a
 * rule on a 5,000-VM network held its ~9 MB twice or three times over (the chunks, the text, the
 * parsed VMs) on a 64 MiB heap.
 *
 * The scanner follows only the answer's structure (strings, brackets, the inner object's keys). Each
 * object item of `<key>.<itemKey>` is parsed on its own by JSON.parse as soon as it is complete and
 * cut to `fields`; the rest of the answer (the envelope, `count`, an error's fields), with an empty
 * object in place of each such item, is kept as text and parsed by JSON.parse at the end, then the
 * cut items are put back. JSON.parse thus checks every byte: the answer is JSON exactly when each
 * item and the rest are, and its value is what JSON.parse would give for the whole answer with each
 * object item cut to `fields`. Only the first PREFIX_BYTES are kept for an error's quote.
 */
import { Predicate } from "effect"
import { Buffer } from "node:buffer"
import { StringDecoder } from "node:string_decoder"

/** The first bytes kept for the quote of an answer that is not CloudStack's (Envelope). */
export const PREFIX_BYTES = 4096
/** Text besides the cut items beyond which the answer is not a list page (HTML, a proxy's page). */
const MAX_REST = 1 << 22

export interface Skim {
  readonly itemKey: string
  readonly fields: ReadonlyArray<string>
}

/** What the scanner read: the answer's first bytes and its value, if it was JSON. */
export interface Skimmed {
  readonly prefix: string
  readonly json: boolean
  readonly value: unknown
}

const OPEN_OBJECT = 123
const CLOSE_OBJECT = 125
const OPEN_ARRAY = 91
const CLOSE_ARRAY = 93
const QUOTE = 34
const BACKSLASH = 92
const COLON = 58
const COMMA = 44

const { isRecord } = Predicate

/** As JSON.parse makes properties (CreateDataProperty): `__proto__` is an own key, not the prototype. */
const put = (target: Record<string, unknown>, key: string, value: unknown) =>
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })

const cut = (item: Record<string, unknown>, fields: ReadonlyArray<string>): Record<string, unknown> => {
  const kept: Record<string, unknown> = {}
  for (const field of fields) if (Object.hasOwn(item, field)) put(kept, field, item[field])
  return kept
}

export interface Scanner {
  readonly write: (chunk: Uint8Array) => void
  readonly end: () => Skimmed
}

export const scanner = ({ fields, itemKey }: Skim): Scanner => {
  const prefix: Array<Buffer> = []
  let prefixBytes = 0
  let started = false
  /** Not JSON (seen early) or not a list page (too much text besides the items): only the prefix is kept. */
  let broken = false
  const rest = new StringDecoder("utf8")
  const restParts: Array<string> = []
  let restLength = 0

  // Structure: the open containers, whether a string is open (and at an escape), whether the
  // innermost object expects a key next.
  const stack: Array<number> = []
  let inString = false
  let escaped = false
  let expectKey = false
  // A key of the inner object (depth 2) being read: its bytes from earlier chunks, its start here.
  let keyParts: Array<Buffer> | undefined
  let keyFrom = 0
  let lastKey: string | undefined
  // The items array: the index of the current element, where an object item started in this chunk
  // (-1: none open) and its bytes from earlier chunks; the cut items by index.
  let inItems = false
  let index = 0
  let itemFrom = -1
  let itemParts: Array<Buffer> = []
  let cuts = new Map<number, Record<string, unknown>>()
  let itemFailed = false

  const keep = (text: string) => {
    restLength += text.length
    if (restLength > MAX_REST) broken = true
    else restParts.push(text)
  }
  const keyOf = (parts: ReadonlyArray<Buffer>): string | undefined => {
    try {
      const key: unknown = JSON.parse(Buffer.concat(parts).toString("utf8"))
      return typeof key === "string" ? key : undefined
    } catch {
      return undefined
    }
  }
  const finishItem = () => {
    const text = Buffer.concat(itemParts).toString("utf8")
    itemParts = []
    itemFrom = -1
    try {
      const item: unknown = JSON.parse(text)
      if (isRecord(item)) cuts.set(index, cut(item, fields))
    } catch {
      itemFailed = true
    }
  }

  const write = (input: Uint8Array) => {
    let chunk = Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    if (!started && chunk.length > 0) {
      started = true
      // The UTF-8 byte order mark, which the ordinary read's text decoding drops.
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3)
    }
    if (prefixBytes < PREFIX_BYTES) {
      const head = chunk.subarray(0, PREFIX_BYTES - prefixBytes)
      prefix.push(Buffer.from(head))
      prefixBytes += head.length
    }
    if (broken || itemFailed) return
    let segment = 0
    keyFrom = 0
    const n = chunk.length
    // The next backslash in this chunk (n: none): a string is skipped to its quote natively.
    let backslash = -1
    for (let i = 0; i < n; i++) {
      if (inString) {
        if (escaped) {
          escaped = false
          continue
        }
        if (backslash < i) {
          const at = chunk.indexOf(BACKSLASH, i)
          backslash = at === -1 ? n : at
        }
        const quote = chunk.indexOf(QUOTE, i)
        const end = quote === -1 ? n : quote
        if (backslash < end) {
          i = backslash
          escaped = true
        } else if (end === n) i = n
        else {
          i = end
          inString = false
          if (keyParts !== undefined) {
            keyParts.push(chunk.subarray(keyFrom, i + 1))
            lastKey = keyOf(keyParts)
            keyParts = undefined
          }
        }
        continue
      }
      const b = chunk[i] as number
      if (stack.length === 0 && b !== OPEN_OBJECT && b !== 32 && b !== 10 && b !== 13 && b !== 9) {
        broken = true // not one object: not a CloudStack answer
        return
      }
      if (b === QUOTE) {
        inString = true
        if (expectKey && stack.length === 2 && stack[0] === OPEN_OBJECT) {
          keyParts = []
          keyFrom = i
        }
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        if (inItems && stack.length === 3 && b === OPEN_OBJECT) {
          keep(rest.write(chunk.subarray(segment, i)) + "{}")
          itemFrom = i
        }
        stack.push(b)
        expectKey = b === OPEN_OBJECT
        // Each items array starts the cuts afresh: of a repeated key JSON.parse keeps the last value,
        // and if that is an array, it is the last one opened.
        if (stack.length === 3 && b === OPEN_ARRAY && lastKey === itemKey) {
          inItems = stack[0] === OPEN_OBJECT && stack[1] === OPEN_OBJECT
          index = 0
          cuts = new Map()
        }
      } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        stack.pop()
        expectKey = false
        if (inItems && stack.length === 3 && itemFrom >= 0) {
          itemParts.push(chunk.subarray(itemFrom, i + 1))
          finishItem()
          segment = i + 1
        } else if (inItems && stack.length === 2) inItems = false
      } else if (b === COMMA) {
        expectKey = stack[stack.length - 1] === OPEN_OBJECT
        if (inItems && stack.length === 3) index++
      } else if (b === COLON) expectKey = false
    }
    if (keyParts !== undefined) keyParts.push(Buffer.from(chunk.subarray(keyFrom, n)))
    if (itemFrom >= 0) {
      itemParts.push(Buffer.from(chunk.subarray(itemFrom, n)))
      itemFrom = 0
    } else keep(rest.write(chunk.subarray(segment, n)))
  }

  /** The cut items in place of their empty objects, in the items array JSON.parse kept. */
  const putBack = (value: unknown): unknown => {
    const keys = isRecord(value) ? Object.keys(value) : []
    const inner = keys.length === 1 && isRecord(value) ? value[keys[0] as string] : undefined
    const items = isRecord(inner) ? inner[itemKey] : undefined
    if (Array.isArray(items)) { for (const [i, kept] of cuts) if (isRecord(items[i])) items[i] = kept }
    return value
  }

  const end = (): Skimmed => {
    const quote = Buffer.concat(prefix).toString("utf8")
    const notJson = { prefix: quote, json: false, value: undefined }
    if (broken || itemFailed) return notJson
    keep(rest.end())
    try {
      return { prefix: quote, json: true, value: putBack(JSON.parse(restParts.join(""))) }
    } catch {
      return notJson
    }
  }

  return { write, end }
}

/** The same reading of an answer already held as text (the in-memory transports'). */
export const text = (body: string, skim: Skim): Skimmed => {
  const s = scanner(skim)
  s.write(Buffer.from(body, "utf8"))
  return s.end()
}
