import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import { sign } from "../../../src/cloudstack/Signing.js"
import {
  apiKeyOf,
  commandParams,
  parseExpires,
  parseParams,
  rejectionKey,
  renderXml,
  unauthorizedBody,
  Verdict,
  verify,
  wantsJson
} from "../../../src/simulation/cloudstack/RequestVerifier.js"

const secret = "s3cret"
const apiKey = "key-1"
const at = (iso: string): number => Date.parse(iso)
const NOW = at("2030-01-01T00:00:00Z")
const ctx = {
  now: NOW,
  secretKey: Option.some(secret),
  isCommand: (c: string) => c === "listZones",
  isAllowed: () => true
}
const signed = (params: Record<string, string>): Record<string, string> => ({
  ...params,
  signature: sign(params, secret)
})
const base = { command: "listZones", response: "json", apiKey }

describe("RequestVerifier", () => {
  describe("parseParams", () => {
    it("decodes `+` as a space and percent-escapes as UTF-8", () => {
      assert.deepStrictEqual(parseParams("name=k8s+node%2B1&z=Z%C3%BCrich", ""), { name: "k8s node+1", z: "Zürich" })
    })
    it("merges form and query: first form occurrence, then the last query occurrence overrides", () => {
      assert.deepStrictEqual(parseParams("a=q1&a=q2", "a=f1&b=f1&b=f2"), { a: "q2", b: "f1" })
    })
  })

  describe("parseExpires", () => {
    const ok = (value: string, iso: string) => assert.deepStrictEqual(parseExpires(value), Option.some(at(iso)))
    it("accepts every format of reference 1.6", () => {
      ok("2030-01-01T00:00:00+0000", "2030-01-01T00:00:00Z")
      ok("2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
      ok("2030-01-01T01:00:00+01:00", "2030-01-01T00:00:00Z")
      ok("2030-01-01T00:00:00.5Z", "2030-01-01T00:00:00.500Z")
      ok("2030-01-01T02:00:00.000000+02", "2030-01-01T00:00:00Z")
      ok("2030-01-01T00:00:00.123456-0130", "2030-01-01T01:30:00.123Z")
      ok("2029-12-31T23:00:00Z-0100", "2030-01-01T00:00:00Z")
      ok("2028-02-29T00:00:00Z", "2028-02-29T00:00:00Z")
    })
    it("rejects what the server cannot parse", () => {
      for (
        const bad of [
          "",
          "2030-01-01",
          "2030-01-01 00:00:00+0000",
          "2030-01-01T00:00:00",
          "2030-01-01T00:00:00+00",
          "2030-01-01T00:00:00.5+0000",
          "2030-13-01T00:00:00Z",
          "2030-02-29T00:00:00Z",
          "2030-01-01T24:00:00Z",
          "1893456000",
          "2030-01-01T00:00:00+0000 "
        ]
      ) assert.isTrue(Option.isNone(parseExpires(bad)), bad)
    })
  })

  describe("verify", () => {
    it("accepts a correctly signed request and hands lowercased command params on", () => {
      const params = signed({
        ...base,
        signatureVersion: "3",
        expires: "2030-01-01T00:00:01+0000",
        Name: "a b",
        _: "1"
      })
      const verdict = verify(params, ctx)
      assert.strictEqual(verdict._tag, "Accepted")
      if (verdict._tag === "Accepted") {
        assert.strictEqual(verdict.command, "listZones")
        assert.strictEqual(verdict.apiKey, apiKey)
        assert.deepStrictEqual(verdict.params, { name: "a b", _: "1" })
      }
    })
    it("a known key whose role may not run the command: Unavailable before the signature is checked", () => {
      const denied = { ...ctx, isAllowed: (c: string) => c !== "listZones" }
      for (const params of [signed(base), { ...base, signature: "not-a-signature" }]) {
        assert.deepStrictEqual(verify(params, denied), Verdict.Unavailable({ command: "listZones" }))
      }
      // the key must be known and the command must exist first: both stay 401s
      assert.strictEqual(verify(signed(base), { ...denied, secretKey: Option.none() })._tag, "Rejected")
      assert.strictEqual(verify(signed({ ...base, command: "listNothing" }), denied)._tag, "Rejected")
    })
    const reason = (params: Record<string, string>, c = ctx) => {
      const v = verify(params, c)
      return v._tag === "Rejected" ? v.reason : "Accepted"
    }
    it("matches the names apiKey, signature and signatureVersion in any case", () => {
      const params = {
        command: "listZones",
        response: "json",
        APIKEY: apiKey,
        SignatureVersion: "3",
        expires: "2029-01-01T00:00:00Z"
      }
      const sig = sign(params, secret)
      assert.strictEqual(reason({ ...params, SIGNATURE: sig }), "Expired")
      assert.strictEqual(
        reason({
          ...params,
          expires: "2031-01-01T00:00:00Z",
          SIGNATURE: sign({ ...params, expires: "2031-01-01T00:00:00Z" }, secret)
        }),
        "Accepted"
      )
      assert.strictEqual(apiKeyOf(params), apiKey)
    })
    it("gives every 401 reason of reference 1.7", () => {
      assert.strictEqual(reason(signed({ response: "json", apiKey })), "MissingCommand")
      assert.strictEqual(reason({ ...base }), "MissingCredentials")
      assert.strictEqual(reason({ command: "listZones", signature: "x" }), "MissingCredentials")
      assert.strictEqual(reason(signed({ ...base, signatureVersion: "3" })), "ExpiresMissing")
      assert.strictEqual(reason(signed({ ...base, signatureVersion: "3", expires: "tomorrow" })), "ExpiresUnparseable")
      assert.strictEqual(
        reason(signed({ ...base, signatureVersion: "3", expires: "2029-12-31T23:59:59+0000" })),
        "Expired"
      )
      assert.strictEqual(reason(signed(base), { ...ctx, secretKey: Option.none() }), "UnknownApiKey")
      assert.strictEqual(reason(signed({ ...base, command: "listZone" })), "UnknownCommand")
      assert.strictEqual(reason({ ...signed(base), name: "added after signing" }), "BadSignature")
      assert.strictEqual(reason({ ...signed(base), signature: sign(base, "other") }), "BadSignature")
    })
    it("checks expires only with signatureVersion exactly 3 and lets now == expires pass", () => {
      assert.strictEqual(
        reason(signed({ ...base, signatureVersion: "2", expires: "2000-01-01T00:00:00Z" })),
        "Accepted"
      )
      assert.strictEqual(reason(signed({ ...base, expires: "garbage" })), "Accepted")
      assert.strictEqual(
        reason(signed({ ...base, signatureVersion: "3", expires: "2030-01-01T00:00:00Z" })),
        "Accepted"
      )
    })
  })

  it("commandParams drops command, response and auth parameters in any case", () => {
    assert.deepStrictEqual(
      commandParams({
        command: "x",
        response: "json",
        ApiKey: "k",
        SIGNATURE: "s",
        signatureversion: "3",
        Expires: "e",
        "Tags[0].Key": "v"
      }),
      { "tags[0].key": "v" }
    )
  })

  it("the 401 answer: command key when known, errorresponse otherwise, JSON or XML", () => {
    const isCommand = (c: string) => c === "listZones"
    assert.strictEqual(rejectionKey({ command: "listZones" }, isCommand), "listzonesresponse")
    assert.strictEqual(rejectionKey({ command: "nope" }, isCommand), "errorresponse")
    assert.strictEqual(rejectionKey({}, isCommand), "errorresponse")
    assert.strictEqual(
      JSON.stringify(unauthorizedBody("listzonesresponse")),
      `{"listzonesresponse":{"uuidList":[],"errorcode":401,"errortext":"unable to verify user credentials and/or request signature"}}`
    )
    assert.isTrue(wantsJson({ response: "JSON" }))
    assert.isFalse(wantsJson({ response: "xml" }))
    assert.isFalse(wantsJson({}))
    assert.strictEqual(
      renderXml({ listzonesresponse: { count: 2, zone: [{ name: "a<b" }, { name: "c" }], empty: [] } }),
      `<?xml version="1.0" encoding="UTF-8"?><listzonesresponse><count>2</count><zone><name>a&#60;b</name></zone><zone><name>c</name></zone></listzonesresponse>`
    )
  })
})
