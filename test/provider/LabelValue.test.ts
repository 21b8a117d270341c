import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { instanceType, isValid, MAX_LENGTH, sanitize } from "../../src/provider/LabelValue.js"

describe("LabelValue.instanceType (the Go CCM's instance-type label)", () => {
  // Expected values computed with Go's regexp: labelInvalidCharsRegex.ReplaceAllString(name, ``)
  // of apache/cloudstack-kubernetes-provider v1.2.0 (cloudstack_instances.go).
  const goValues: ReadonlyArray<readonly [string, string]> = [
    ["Small Instance", "SmallInstance"],
    ["Medium-Instance", "MediumInstance"],
    ["m1.small", "m1small"],
    ["a_b.c-d", "abcd"],
    ["Small Instance (4 GB / 2 CPU)", "SmallInstance4GB2CPU"],
    ["--CKS/2vCPU--", "CKS2vCPU"],
    [".leading", "leading"],
    ["trailing.", "trailing"],
    ["a__b", "ab"],
    ["Zürich", "Zrich"],
    ["日本 offering", "offering"],
    ["x\u00a0y", "xy"],
    ["💥big💥", "big"]
  ]
  it("writes what the Go CCM writes: spaces, dots, dashes, underscores and symbols removed", () => {
    for (const [offering, expected] of goValues) assert.strictEqual(instanceType(offering), expected, offering)
  })
  it("no label when nothing is left (the Go CCM skips an empty instance type too)", () => {
    assert.strictEqual(instanceType(""), undefined)
    assert.strictEqual(instanceType("  "), undefined)
    assert.strictEqual(instanceType("(-_-)"), undefined)
  })
  it("cuts at 63 characters (the Go CCM would write the long value and its Node update would fail)", () => {
    const long = "Premium Instance " + "x".repeat(80)
    const value = instanceType(long)
    assert.strictEqual(value, ("PremiumInstance" + "x".repeat(80)).slice(0, MAX_LENGTH))
    assert.strictEqual(value?.length, 63)
    assert.isTrue(isValid(value ?? ""))
  })
  it("property: always a valid label value, idempotent, and only ASCII letters and digits", () => {
    FastCheck.assert(FastCheck.property(FastCheck.string({ maxLength: 120, unit: "binary" }), (s) => {
      const out = instanceType(s)
      return out === undefined || (isValid(out) && instanceType(out) === out && /^[A-Za-z0-9]+$/.test(out))
    }))
  })
})

describe("LabelValue.sanitize (zone and region)", () => {
  it("keeps a valid name exactly as the Go CCM writes it", () => {
    for (const name of ["zone1", "Zone-1", "eu-west.a_b", "CH-GVA-2", "x".repeat(63)]) {
      assert.strictEqual(sanitize(name), name, name)
    }
  })
  it("replaces invalid characters and trims the edges of a name the Go CCM could not write", () => {
    assert.strictEqual(sanitize("Small Instance (4 GB / 2 CPU)"), "Small_Instance__4_GB___2_CPU")
    assert.strictEqual(sanitize("Development-Internal"), "Development-Internal")
    assert.strictEqual(sanitize("m1.small"), "m1.small")
    assert.strictEqual(sanitize("Zone One"), "Zone_One")
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
  it("property: the result is always a valid label value and idempotent; valid input is kept", () => {
    FastCheck.assert(FastCheck.property(FastCheck.string({ maxLength: 120 }), (s) => {
      const out = sanitize(s)
      return (out === undefined || (isValid(out) && sanitize(out) === out)) && (!isValid(s) || s === "" || out === s)
    }))
  })
})
