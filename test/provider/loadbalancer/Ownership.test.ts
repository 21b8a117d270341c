import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Option } from "effect"
import { IpAddressId } from "../../../src/cloudstack/Ids.js"
import { IP_ALLOCATING, IP_ASSOCIATED, IP_ID, STICKY_APPLIED } from "../../../src/provider/loadbalancer/Annotations.js"
import * as Ownership from "../../../src/provider/loadbalancer/Ownership.js"

const own = (ipId: string | undefined, associated: boolean, allocating?: string): Ownership.Ownership => ({
  ipId: Option.map(Option.fromNullable(ipId), IpAddressId.make),
  associated,
  allocating: Option.fromNullable(allocating),
  stickyApplied: false
})

/** The annotations after a patch (`null` removes a key), as the API server applies a merge patch. */
const patched = (annotations: Readonly<Record<string, string>>, patch: Readonly<Record<string, string | null>>) => {
  const out: Record<string, string> = { ...annotations }
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = v
  }
  return out
}

describe("Ownership.fromAnnotations", () => {
  const table: ReadonlyArray<readonly [string, Record<string, string>, Ownership.Ownership]> = [
    ["nothing", {}, Ownership.empty],
    ["the fork's id alone: used, not ours to release", { [IP_ID]: "ip-1" }, own("ip-1", false)],
    ["id and upstream's associated flag", { [IP_ID]: "ip-1", [IP_ASSOCIATED]: "true" }, own("ip-1", true)],
    ["the flag must be exactly \"true\"", { [IP_ID]: "ip-1", [IP_ASSOCIATED]: "True" }, own("ip-1", false)],
    ["an id with spaces is trimmed", { [IP_ID]: " ip-1 " }, own("ip-1", false)],
    ["a blank id is no id", { [IP_ID]: "  ", [IP_ASSOCIATED]: "true" }, own(undefined, true)],
    ["an address being associated", { [IP_ALLOCATING]: " 203.0.113.5 " }, own(undefined, false, "203.0.113.5")],
    ["a blank allocating is none", { [IP_ALLOCATING]: "" }, Ownership.empty]
  ]
  for (const [title, annotations, expected] of table) {
    it(title, () => {
      const o = Ownership.fromAnnotations(annotations)
      assert.deepStrictEqual(o, expected)
    })
  }
})

describe("Ownership.toAnnotations and equals", () => {
  it("writes the four keys; null removes", () => {
    assert.deepStrictEqual(Ownership.toAnnotations(own("ip-1", true, "203.0.113.5")), {
      [IP_ID]: "ip-1",
      [IP_ASSOCIATED]: "true",
      [IP_ALLOCATING]: "203.0.113.5",
      [STICKY_APPLIED]: null
    })
    assert.deepStrictEqual(Ownership.toAnnotations(own("ip-1", false)), {
      [IP_ID]: "ip-1",
      [IP_ASSOCIATED]: null,
      [IP_ALLOCATING]: null,
      [STICKY_APPLIED]: null
    })
    assert.deepStrictEqual(Ownership.toAnnotations(Ownership.empty), {
      [IP_ID]: null,
      [IP_ASSOCIATED]: null,
      [IP_ALLOCATING]: null,
      [STICKY_APPLIED]: null
    })
    assert.strictEqual(Ownership.toAnnotations({ ...Ownership.empty, stickyApplied: true })[STICKY_APPLIED], "true")
  })
  it("reads the stickiness record back", () => {
    assert.isTrue(Ownership.fromAnnotations({ [STICKY_APPLIED]: "true" }).stickyApplied)
    assert.isFalse(Ownership.fromAnnotations({ [STICKY_APPLIED]: "yes" }).stickyApplied)
  })
  it("the associated flag is never written without an id", () => {
    assert.strictEqual(Ownership.toAnnotations(own(undefined, true))[IP_ASSOCIATED], null)
  })
  const table: ReadonlyArray<readonly [Ownership.Ownership, Ownership.Ownership, boolean]> = [
    [Ownership.empty, Ownership.empty, true],
    [own("ip-1", true), own("ip-1", true), true],
    [own("ip-1", true), own("ip-1", false), false],
    [own("ip-1", true), own("ip-2", true), false],
    [own("ip-1", false), own(undefined, false), false],
    // without an id the flag means nothing
    [own(undefined, true), Ownership.empty, true],
    [own(undefined, false, "203.0.113.5"), Ownership.empty, false],
    [own("ip-1", true, "203.0.113.5"), own("ip-1", true, "203.0.113.6"), false],
    [own("ip-1", true), { ...own("ip-1", true), stickyApplied: true }, false]
  ]
  table.forEach(([a, b, expected], i) => {
    it(`equals #${i + 1}: ${expected}`, () => {
      assert.strictEqual(Ownership.equals(a, b), expected)
      assert.strictEqual(Ownership.equals(b, a), expected)
    })
  })

  const ownership = fc.record({
    ipId: fc.option(fc.uuid(), { nil: undefined }),
    associated: fc.boolean(),
    allocating: fc.option(fc.ipV4(), { nil: undefined })
  }).map((o) => own(o.ipId, o.associated, o.allocating))
  const others = fc.dictionary(
    fc.constantFrom(IP_ID, IP_ASSOCIATED, IP_ALLOCATING, "example.com/x"),
    fc.string({ maxLength: 8 })
  )
  it.prop(
    "a record written over any annotations reads back equal; foreign keys survive",
    [ownership, others],
    ([o, before]) => {
      const after = patched(before, Ownership.toAnnotations(o))
      assert.isTrue(Ownership.equals(Ownership.fromAnnotations(after), o))
      assert.strictEqual(after["example.com/x"], before["example.com/x"])
    }
  )
})
