import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { isValid, sanitize } from "../../src/provider/LabelValue.js"

describe("LabelValue.sanitize", () => {
  it("replaces invalid characters and trims the edges", () => {
    assert.strictEqual(sanitize("Small Instance (4 GB / 2 CPU)"), "Small_Instance__4_GB___2_CPU")
    assert.strictEqual(sanitize("Development-Internal"), "Development-Internal")
    assert.strictEqual(sanitize("m1.small"), "m1.small")
    assert.strictEqual(sanitize("Zürich"), "Z_rich")
    assert.strictEqual(sanitize("--CKS/2vCPU--"), "CKS_2vCPU")
  })
  it("gives undefined when nothing valid is left", () => {
    assert.strictEqual(sanitize(""), undefined)
    assert.strictEqual(sanitize("()"), undefined)
  })
  it("truncates to 63 and trims again", () => {
    const long = "a".repeat(62) + "-b" + "c".repeat(10)
    assert.strictEqual(sanitize(long), "a".repeat(62))
  })
  it("property: the result is always a valid label value and idempotent", () => {
    FastCheck.assert(FastCheck.property(FastCheck.string({ maxLength: 120 }), (s) => {
      const out = sanitize(s)
      return out === undefined || (isValid(out) && sanitize(out) === out)
    }))
  })
})
