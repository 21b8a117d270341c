/**
 * ListSkim reads a list answer as JSON.parse would, keeping only some fields of each item, whether
 * it comes in one piece or in chunks cut anywhere (inside a character too): the oracle is JSON.parse
 * itself, on generated answers, their truncations and single-character edits.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc, Predicate } from "effect"
import { Buffer } from "node:buffer"
import * as Envelope from "../../src/cloudstack/Envelope.js"
import * as ListSkim from "../../src/cloudstack/ListSkim.js"
import { API_KEY, SECRET_KEY } from "../fakes/CloudStackTestEnv.js"
import { memberVm as vm } from "../fakes/MemberVm.js"
import { json } from "../fakes/ScriptedTransport.js"

const ITEM_KEY = "loadbalancerruleinstance"
const FIELDS = ["id", "name"] as const
const KEY = "listloadbalancerruleinstancesresponse"

const isObject = Predicate.isRecord

/** What ListSkim must give: JSON.parse's envelope with each object item cut to FIELDS. */
const oracle = (body: string): { key: string; inner: Record<string, unknown> } | undefined => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return undefined
  }
  if (!isObject(parsed)) return undefined
  const keys = Object.keys(parsed)
  const key = keys[0]
  if (keys.length !== 1 || key === undefined || !isObject(parsed[key])) return undefined
  const inner: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(parsed[key])) {
    const cut = name === ITEM_KEY && Array.isArray(value)
      ? value.map((item: unknown) =>
        isObject(item) ? Object.fromEntries(Object.entries(item).filter(([k]) => FIELDS.some((f) => f === k))) : item
      )
      : value
    Object.defineProperty(inner, name, { value: cut, writable: true, enumerable: true, configurable: true })
  }
  return { key, inner }
}

const SKIM = { itemKey: ITEM_KEY, fields: FIELDS }

/** The envelope as Envelope takes it from what ListSkim read, fed in chunks of `sizes` bytes (cycled). */
const skim = (body: string, sizes: ReadonlyArray<number> = []) => {
  let read: ListSkim.Skimmed
  if (sizes.length === 0) read = ListSkim.text(body, SKIM)
  else {
    const bytes = Buffer.from(body, "utf8")
    const scanner = ListSkim.scanner(SKIM)
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const size = Math.max(1, sizes[k % sizes.length] ?? 1)
      scanner.write(bytes.subarray(at, at + size))
      at += size
    }
    read = scanner.end()
  }
  assert.strictEqual(read.prefix, Buffer.from(body, "utf8").subarray(0, ListSkim.PREFIX_BYTES).toString("utf8"))
  if (!read.json) return undefined
  const value = read.value
  if (!isObject(value)) return undefined
  const keys = Object.keys(value)
  const key = keys[0]
  if (keys.length !== 1 || key === undefined || !isObject(value[key])) return undefined
  return { key, inner: value[key] }
}

/**
 * ListSkim agrees with the oracle. The oracle parses the body as a transport gives it, decoded from
 * UTF-8 bytes: an edit that splits a surrogate pair in the test's string is a U+FFFD on the wire.
 */
const agrees = (body: string, sizes: ReadonlyArray<number> = []) =>
  assert.deepStrictEqual(skim(body, sizes), oracle(Buffer.from(body, "utf8").toString("utf8")), body.slice(0, 200))

const text = fc.string({ unit: "binary", maxLength: 12 })
const item = fc.oneof(
  fc.record({ id: fc.jsonValue({ maxDepth: 2 }), name: text }, { requiredKeys: [] }).chain((base) =>
    fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }).map((extra) => ({ ...extra, ...base }))
  ),
  fc.jsonValue({ maxDepth: 2 })
)
const answer = fc.record({
  key: fc.oneof(fc.constant(KEY), text),
  count: fc.oneof(fc.nat(), fc.jsonValue({ maxDepth: 1 })),
  items: fc.oneof(fc.array(item, { maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
  extra: fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }),
  indent: fc.integer({ min: 0, max: 2 })
}).map(({ count, extra, indent, items, key }) =>
  JSON.stringify({ [key]: { ...extra, count, [ITEM_KEY]: items } }, null, indent)
)

describe("ListSkim.envelope", () => {
  it("a member listing: the envelope with each VM cut to id and name", () => {
    const body = JSON.stringify({ [KEY]: { count: 2, [ITEM_KEY]: [vm(1), vm(2)] } })
    assert.deepStrictEqual(skim(body), {
      key: KEY,
      inner: { count: 2, [ITEM_KEY]: [{ id: vm(1).id, name: "node-1" }, { id: vm(2).id, name: "node-2" }] }
    })
  })

  const chunks = fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 5 })

  it("generated answers, whole or in chunks: the same as JSON.parse with the items cut", () => {
    fc.assert(fc.property(answer, chunks, (body, sizes) => agrees(body, sizes)), { numRuns: 1000 })
  })

  it("every truncation of an answer is not JSON, as JSON.parse refuses it", () => {
    fc.assert(
      fc.property(answer, (body) => {
        const bytes = Buffer.from(body, "utf8")
        for (let end = 0; end < Buffer.byteLength(body.trimEnd()); end++) {
          const scanner = ListSkim.scanner(SKIM)
          scanner.write(bytes.subarray(0, end))
          assert.isFalse(scanner.end().json, `cut at byte ${end}`)
        }
      }),
      { numRuns: 100 }
    )
  })

  it("single-character edits: never an answer JSON.parse would not give", () => {
    const edit = fc.tuple(
      answer,
      fc.nat(),
      fc.constantFrom("\"", "\\", "{", "}", "[", "]", ",", ":", " ", "\u0000", "\n", "0", "-", "e", ".", "t", "u", "x"),
      chunks
    )
    fc.assert(
      fc.property(edit, ([body, at, char, sizes]) => {
        const p = at % body.length
        agrees(body.slice(0, p) + char + body.slice(p + 1), sizes)
        agrees(body.slice(0, p) + char + body.slice(p), sizes)
      }),
      { numRuns: 2000 }
    )
  })

  it("JSON's corners: escaped keys, repeated fields, __proto__, numbers, literals, surrogates", () => {
    const bodies = [
      `{"${KEY}":{"${ITEM_KEY}":[{"\\u0069d":"a","name":"n","id":"b","na\\u006de":"m"}]}}`,
      `{"${KEY}":{"__proto__":{"x":1},"count":1,"count":2,"${ITEM_KEY}":[{"id":"\\ud800"}]}}`,
      `{"${KEY}":{"count":-0.5e+3,"${ITEM_KEY}":[true,null,false,1E2,"s",[{"id":1}],{}]}}`,
      ` \t\r\n{"${KEY}" : { "${ITEM_KEY}" : [ { "id" : "a" , "name" : "\\"\\/\\b\\f\\n\\r\\t" } ] } } \n`,
      `{"${KEY}":{"${ITEM_KEY}":{"id":"not an array"}}}`
    ]
    for (const body of bodies) {
      assert.isDefined(skim(body), body)
      agrees(body)
      agrees(body, [1])
      agrees(body, [3, 7])
    }
    const proto = skim(bodies[1] ?? "")
    assert.deepStrictEqual(Object.getOwnPropertyNames(proto?.inner ?? {}), ["__proto__", "count", ITEM_KEY])
    assert.strictEqual(Object.getPrototypeOf(proto?.inner ?? null), Object.prototype)
  })

  it("not an envelope: not JSON, several keys, a non-object value; deep nesting and a BOM are fine", () => {
    agrees(`{"${KEY}":{},"${KEY}":{"count":1}}`) // a repeated key is one key to JSON.parse
    const declined = [
      "",
      "[]",
      `{"${KEY}":[]}`,
      `{"${KEY}":{},"other":{}}`,
      `{"${KEY}":{"count":01}}`,
      `{"${KEY}":{"count":1,}}`,
      `{"${KEY}":{"${ITEM_KEY}":[{"id":"a\tb"}]}}`,
      `{"${KEY}":{"${ITEM_KEY}":[{"id":"\\x"}]}}`,
      `{"${KEY}":{"${ITEM_KEY}":[{"id":"\\u12"}]}}`,
      `{"${KEY}":{"count":tru}}`,
      `{"${KEY}":{}} x`,
      `{"${KEY}":{}}{}`,
      `<html>{"${KEY}":{}}</html>`
    ]
    for (const body of declined) {
      assert.isUndefined(skim(body), body.slice(0, 60))
      assert.isUndefined(skim(body, [2]), body.slice(0, 60))
    }
    const deep = `{"${KEY}":{"d":${"[".repeat(200_000)}${"]".repeat(200_000)},"${ITEM_KEY}":[{"id":"a","x":[[[]]]}]}}`
    assert.deepStrictEqual(skim(deep, [65_536])?.inner[ITEM_KEY], [{ id: "a" }])
    const bom = ListSkim.text(`\ufeff{"${KEY}":{"count":0}}`, SKIM)
    assert.deepStrictEqual([bom.json, bom.value], [true, { [KEY]: { count: 0 } }])
  })

  it("a repeated key: the last one counts, as in JSON.parse, with its own items cut", () => {
    const bodies = [
      `{"${KEY}":{"${ITEM_KEY}":[{"id":"a","x":1}],"${ITEM_KEY}":[{"id":"b","y":2},{"id":"c"}]}}`,
      `{"${KEY}":{"${ITEM_KEY}":[{"id":"a","x":1}],"${ITEM_KEY}":7}}`,
      `{"${KEY}":{"${ITEM_KEY}":[{"id":"a","x":1}]},"${KEY}":{"${ITEM_KEY}":[1,{"id":"b","z":{}}]}}`
    ]
    for (const body of bodies) {
      const read = ListSkim.text(body, SKIM)
      const parsed: unknown = JSON.parse(body)
      assert.isTrue(read.json)
      assert.deepStrictEqual(
        JSON.stringify(read.value),
        JSON.stringify(parsed).replaceAll(`"x":1`, "").replaceAll(`,"y":2`, "").replaceAll(`,"z":{}`, "").replaceAll(
          "{\"id\":\"a\",}",
          "{\"id\":\"a\"}"
        ),
        body
      )
    }
  })
})

describe("Envelope.decode with a skim", () => {
  const decode = (body: unknown, status = 200, skimmed = true) =>
    Envelope.decode(
      "listLoadBalancerRuleInstances",
      json(status, body),
      [API_KEY, SECRET_KEY],
      skimmed ? SKIM : undefined
    )

  it("errors and unexpected bodies are the same as without it; an answer differs only by the cut fields", () => {
    const bodies: ReadonlyArray<readonly [unknown, number]> = [
      [{ [KEY]: { errorcode: 431, cserrorcode: 9999, errortext: "Unable to execute API command" } }, 431],
      [{ [KEY]: { errorcode: 530, errortext: "internal" } }, 200],
      [{ errorresponse: { errorcode: 401, errortext: "unable to verify user credentials" } }, 401],
      [{ listzonesresponse: { count: 1 } }, 200],
      [{ [KEY]: {} }, 200],
      [{ [KEY]: { count: 1, [ITEM_KEY]: [{ id: "a", name: "b" }] } }, 200]
    ]
    for (const [body, status] of bodies) {
      assert.deepStrictEqual(decode(body, status), decode(body, status, false), JSON.stringify(body))
    }
    assert.deepStrictEqual(
      decode({ [KEY]: { count: 1, [ITEM_KEY]: [{ id: "a", name: "b", nic: [{ ipaddress: "10.0.0.1" }] }] } }),
      Either.right({ count: 1, [ITEM_KEY]: [{ id: "a", name: "b" }] })
    )
  })
})
