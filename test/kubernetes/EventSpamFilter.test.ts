import { assert, describe, it } from "@effect/vitest"
import { HashMap } from "effect"
import { setBounded } from "../../src/kubernetes/EventSpamFilter.js"

describe("setBounded", () => {
  const full = HashMap.make(["a", 1], ["b", 2], ["c", 3])

  it("a new key in a full map evicts one other key: the map stays at its bound", () => {
    const next = setBounded(full, "d", 4, 3)
    assert.strictEqual(HashMap.size(next), 3)
    assert.deepStrictEqual(HashMap.get(next, "d")._tag, "Some")
  })

  it("a key already there is replaced without evicting another (the recorder evicted one before)", () => {
    const next = setBounded(full, "b", 20, 3)
    assert.deepStrictEqual([...HashMap.entries(next)].sort(), [["a", 1], ["b", 20], ["c", 3]])
  })

  it("below the bound nothing is evicted", () => {
    assert.strictEqual(HashMap.size(setBounded(full, "d", 4, 4)), 4)
  })
})
