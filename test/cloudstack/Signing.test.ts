import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { encodeQuery, encodeValue, formatExpires, sign, stringToSign, verify } from "../../src/cloudstack/Signing.js"

// Public example keys from the CloudStack docs (reference 1.5).
const secret = "VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ"
const apiKey = "plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg"
const v3 = { signatureVersion: "3", expires: "2030-01-01T00:00:00+0000" }

describe("Signing", () => {
  it("v1: the official docs example", () => {
    assert.strictEqual(
      sign({ command: "listUsers", response: "json", apikey: apiKey }, secret),
      "TTpdDq/7j/J58XCRHomKoQXEQds="
    )
  })
  it("v2: space in a value, signatureVersion 3 with expires", () => {
    const params = {
      command: "listVirtualMachines",
      response: "json",
      apiKey,
      ...v3,
      listall: "true",
      name: "k8s node-1"
    }
    assert.strictEqual(
      stringToSign(params),
      `apikey=${apiKey.toLowerCase()}&command=listvirtualmachines&expires=2030-01-01t00%3a00%3a00%2b0000&listall=true&name=k8s%20node-1&response=json&signatureversion=3`
    )
    assert.strictEqual(sign(params, secret), "aqvGQYUrlrMJGvsLsrVzfshXL3s=")
  })
  it("v3: map parameters, slash and plus", () => {
    const params = {
      command: "createTags",
      response: "json",
      apiKey,
      ...v3,
      resourcetype: "LoadBalancer",
      resourceids: "a1b2,c3d4",
      "tags[0].key": "cluster",
      "tags[0].value": "Prod/EU West+1"
    }
    assert.strictEqual(sign(params, secret), "bbbtfJoF+7hnULUjN2yna6ngPhc=")
  })
  it("v4: `*` stays raw, `~` is escaped, algorithm sorts before apiKey", () => {
    const params = {
      command: "createLoadBalancerRule",
      response: "json",
      apiKey,
      ...v3,
      name: "a*b",
      description: "x~y",
      algorithm: "roundrobin",
      publicport: "80",
      privateport: "30080"
    }
    assert.isTrue(stringToSign(params).startsWith("algorithm=roundrobin&apikey="))
    assert.include(stringToSign(params), "description=x%7ey")
    assert.include(stringToSign(params), "name=a*b")
    assert.strictEqual(sign(params, secret), "3ylvTeYsvfTGVX14NqvGNbUhF/c=")
  })
  it("v5: non-ASCII as UTF-8 bytes", () => {
    const params = { command: "listZones", response: "json", apiKey, name: "Zürich" }
    assert.include(stringToSign(params), "name=z%c3%bcrich")
    assert.strictEqual(sign(params, secret), "LlXxFD/o6xdWmSGZPjO1q+wuJUQ=")
  })
  it("excludes signature in any case from the string to sign", () => {
    const params = { command: "listZones", apiKey }
    assert.strictEqual(stringToSign({ ...params, Signature: "x" }), stringToSign(params))
  })
  it("encodes every Java-escaped character", () => {
    assert.strictEqual(encodeValue("a b+c!'()~*._-/:,="), "a%20b%2Bc%21%27%28%29%7E*._-%2F%3A%2C%3D")
    assert.strictEqual(encodeValue("\uD800x"), "%EF%BF%BDx")
  })
  it("verify accepts the right signature and rejects a tampered one", () => {
    const params = { command: "listZones", apiKey, response: "json" }
    const sig = sign(params, secret)
    assert.isTrue(verify(params, secret, sig))
    assert.isFalse(verify({ ...params, name: "x" }, secret, sig))
    assert.isFalse(verify(params, secret, sig.slice(1)))
  })
  it("formats expires in the portable +0000 form", () => {
    assert.strictEqual(formatExpires(Date.UTC(2030, 0, 1)), "2030-01-01T00:00:00+0000")
  })
  it("property: signing is independent of parameter insertion order", () => {
    FastCheck.assert(FastCheck.property(
      FastCheck.dictionary(FastCheck.string({ minLength: 1 }), FastCheck.string()),
      (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse())
        return sign(dict, secret) === sign(reversed, secret)
      }
    ))
  })
  it("property: the wire encoding round-trips through URLSearchParams", () => {
    FastCheck.assert(FastCheck.property(
      FastCheck.dictionary(FastCheck.string({ minLength: 1 }), FastCheck.string()),
      (dict) => {
        const decoded = Object.fromEntries(new URLSearchParams(encodeQuery(dict)))
        const wellFormed = Object.fromEntries(
          Object.entries(dict).map(([k, v]) => [k.toWellFormed(), v.toWellFormed()])
        )
        return JSON.stringify(decoded) === JSON.stringify(wellFormed)
      }
    ))
  })
})
