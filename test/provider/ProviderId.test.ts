import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck } from "effect"
import { format, parse, providerNames } from "../../src/provider/ProviderId.js"

const uuid = "8a4c3f2e-0d1b-4c52-9e77-3f1b2a6c9d10"

describe("ProviderId", () => {
  it("writes the upstream and the fork format", () => {
    assert.strictEqual(format("external-cloudstack", uuid), `external-cloudstack://${uuid}`)
    assert.strictEqual(format("cloudstack", uuid), `cloudstack:///${uuid}`)
  })
  it("parses every known form", () => {
    for (
      const form of [
        `external-cloudstack://${uuid}`,
        `cloudstack:///${uuid}`,
        uuid,
        `external-cloudstack:///${uuid}`,
        `cloudstack://${uuid}`
      ]
    ) {
      assert.deepStrictEqual(parse(form), Either.right({ vmId: uuid, region: undefined }), form)
    }
    assert.deepStrictEqual(parse(`cloudstack://eu-west/${uuid}`), Either.right({ vmId: uuid, region: "eu-west" }))
  })
  it("rejects foreign, empty and malformed values with the reason", () => {
    const reason = (s: string) => Either.match(parse(s), { onLeft: (e) => e.reason, onRight: () => "ok" })
    assert.strictEqual(reason("aws:///eu-west-1a/i-0abc"), "ForeignProvider")
    assert.strictEqual(reason("   "), "Empty")
    assert.strictEqual(reason("cloudstack://a/b/c"), "Malformed")
    assert.strictEqual(reason("external-cloudstack://"), "Malformed")
    assert.strictEqual(reason("a/b"), "Malformed")
  })
  it("property: format then parse round-trips for any id and provider", () => {
    const id = FastCheck.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,40}$/)
    FastCheck.assert(
      FastCheck.property(
        id,
        FastCheck.constantFrom(...providerNames),
        (vmId, provider) => Either.getOrThrow(parse(format(provider, vmId))).vmId === vmId
      )
    )
  })
})
