import { assert, describe, it } from "@effect/vitest"
import { compareShape } from "./Shape.js"

describe("compareShape", () => {
  it("reports missing, extra and mistyped keys with their paths", () => {
    const d = compareShape(
      { a: "1", b: { c: 1, d: [{ e: true }] }, f: [] },
      { a: 1, b: { c: 2, d: [{ e: "x", g: null }] }, h: "x", f: [1] }
    )
    assert.deepStrictEqual(d.typeMismatch, ["a: string vs number", "b.d[].e: boolean vs string"])
    assert.deepStrictEqual(d.extra, ["b.d[].g", "h"])
    assert.deepStrictEqual(d.missing, [])
    assert.deepStrictEqual(compareShape({ x: 1, y: 2 }, { x: 3 }).missing, ["y"])
  })

  it("compares arrays by the union of their element shapes and skips opaque paths", () => {
    const d = compareShape({ s: [{ n: "a" }, { n: "b", c: [] }] }, { s: [{ n: "a", c: [] }] })
    assert.deepStrictEqual([d.missing, d.extra, d.typeMismatch], [[], [], []])
    const o = compareShape({ details: { k: "v" } }, { details: {} }, ["details"])
    assert.deepStrictEqual(o.missing, [])
  })
})
