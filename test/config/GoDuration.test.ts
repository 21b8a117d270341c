import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, FastCheck as fc, Option, Schema } from "effect"
import { format, GoDuration, parse } from "../../src/config/GoDuration.js"

const millis = (text: string) => Option.map(parse(text), Duration.toMillis)

describe("GoDuration", () => {
  it("parses Go duration strings", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["30s", 30_000],
      ["5m", 300_000],
      ["1h30m", 5_400_000],
      ["5m0s", 300_000],
      ["1.5s", 1_500],
      [".5s", 500],
      ["250ms", 250],
      ["1500us", 1.5],
      ["1500µs", 1.5],
      ["2500\u03bcs", 2.5],
      ["2000000ns", 2],
      ["0", 0],
      ["0s", 0]
    ]
    for (const [text, expected] of cases) assert.deepStrictEqual(millis(text), Option.some(expected), text)
  })

  it("rejects what Go rejects, and signs", () => {
    for (const text of ["", "10", "s", "5d", "1s2", "1 s", "-5s", "+5s", "1.2.3s", "5S"]) {
      assert.deepStrictEqual(parse(text), Option.none(), text)
    }
  })

  it("formats the shortest Go-style text", () => {
    assert.strictEqual(format(Duration.seconds(30)), "30s")
    assert.strictEqual(format(Duration.minutes(5)), "5m")
    assert.strictEqual(format(Duration.minutes(90)), "1h30m")
    assert.strictEqual(format(Duration.millis(1_500)), "1s500ms")
    assert.strictEqual(format(Duration.zero), "0s")
  })

  it("the Schema decodes, trims and explains a bad value", () => {
    const decode = Schema.decodeUnknownEither(GoDuration)
    assert.deepStrictEqual(Either.map(decode(" 2m "), Duration.toMillis), Either.right(120_000))
    const left = decode("10")
    assert.isTrue(Either.isLeft(left))
    assert.include(String(Either.isLeft(left) ? left.left.message : ""), "\"10\" is not a duration")
  })

  it.prop("format then parse round-trips whole milliseconds", [fc.integer({ min: 0, max: 10_000_000_000 })], ([ms]) => {
    assert.deepStrictEqual(millis(format(Duration.millis(ms))), Option.some(ms))
  })
})
