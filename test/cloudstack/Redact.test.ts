import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Redact from "../../src/cloudstack/Redact.js"
import { encodeValue } from "../../src/cloudstack/Signing.js"
import { API_KEY, SECRET_KEY } from "../fakes/CloudStackTestEnv.js"

const SIGNATURE = "Lxx1DM40AjcXU/+Ar1eP6cNfmi8="
const redact = Redact.make([API_KEY, SECRET_KEY, SIGNATURE])

const assertClean = (text: string) => {
  for (const secret of [API_KEY, SECRET_KEY, SIGNATURE, "hunter2-password", "session-cookie-value"]) {
    for (const form of [secret, encodeURIComponent(secret), encodeValue(secret)]) {
      assert.notInclude(text.toLowerCase(), form.toLowerCase(), `${form} in ${text}`)
    }
  }
}

describe("Redact", () => {
  it("a request line echoed by a 404 page: query values of apiKey and signature", () => {
    const url = `/client/api?command=listZones&apiKey=${API_KEY}&response=json&signatureVersion=3&signature=${
      encodeValue(SIGNATURE)
    }`
    const text = redact(`<html><body>Not found: GET ${url} HTTP/1.1</body></html>`)
    assertClean(text)
    assert.strictEqual(
      text,
      "<html><body>Not found: GET /client/api?command=listZones&apiKey=<redacted>&response=json&signatureVersion=3&signature=<redacted> HTTP/1.1</body></html>"
    )
  })

  it("parameter names in any case, in query, JSON (also nested, escaped), colon and XML form, whatever the value", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["APIKEY=abc&x=1", "APIKEY=<redacted>&x=1"],
      ["SecretKey=abc%2Bdef%3D&x", "SecretKey=<redacted>&x"],
      ["password%3Dhunter2-password%26next%3D1", "password%3D<redacted>%26next%3D1"],
      [`{"sessionKey":"session-cookie-value","ok":true}`, `{"sessionKey":"<redacted>","ok":true}`],
      [`{"Password" : "it's \\"q\\" hunter2-password"}`, `{"Password" : "<redacted>"}`],
      [`{"error":"{\\"apiKey\\":\\"a\\/b\\",\\"x\\":1}"}`, `{"error":"{\\"apiKey\\":\\"<redacted>\\",\\"x\\":1}"}`],
      [`{'signature': 'a/b='}`, `{'signature': '<redacted>'}`],
      ["Signature: abc/def= rest", "Signature: <redacted> rest"],
      ["<apikey>abc</apikey><x>1</x>", "<apikey><redacted></apikey><x>1</x>"],
      // cut off by the end of a truncated body
      [`{"x":1,"apikey":"abcdef`, `{"x":1,"apikey":"<redacted>"`],
      ["<password>hunter2-pass", "<password><redacted>"]
    ]
    for (const [input, expected] of cases) assert.strictEqual(Redact.make([])(input), expected, input)
  })

  it("configured values in any case and encoding, also outside a named parameter", () => {
    const text = redact([
      `<td>apiKey</td><td>${API_KEY}</td>`,
      `<td>sig</td><td>${SIGNATURE}</td>`,
      `lowercased string to sign: apikey=${API_KEY.toLowerCase()}`,
      `double-encoded: ${encodeURIComponent(encodeURIComponent(SIGNATURE))}`,
      `json: ${SIGNATURE.replaceAll("/", "\\/")}`,
      `secret ${SECRET_KEY}`
    ].join("\n"))
    assertClean(text)
    assert.include(text, "<td>apiKey</td><td><redacted></td>")
  })

  it("leaves other text alone, including signatureVersion and the 401 text", () => {
    const text =
      "unable to verify user credentials and/or request signature; signatureVersion=3&expires=2030-01-01T00:00:00+0000"
    assert.strictEqual(redact(text), text)
  })

  it("short configured values are not searched as free text (they would match words)", () => {
    assert.strictEqual(Redact.redact("keep kk k", ["k", "kk"]), "keep kk k")
  })

  it("idempotent, and no secret survives wherever it is embedded", () => {
    const filler = FastCheck.string({ unit: FastCheck.constantFrom("a", " ", "&", "=", "<", "\"", ":", "%", "/", "x") })
    FastCheck.assert(
      FastCheck.property(
        filler,
        filler,
        FastCheck.constantFrom(API_KEY, SECRET_KEY, SIGNATURE),
        (before, after, secret) => {
          const once = redact(`${before}${secret}${after}`)
          assert.notInclude(once, secret)
          assert.strictEqual(redact(once), once)
        }
      )
    )
  })

  it("redactCause: a copy with redacted messages, name, code and cause chain kept", () => {
    const inner = Object.assign(new Error(`connect to /client/api?apiKey=${API_KEY}`), { code: "ECONNREFUSED" })
    const outer = new TypeError(`fetch ${API_KEY} failed`, { cause: inner })
    const copy = Redact.redactCause(outer, redact)
    assert.instanceOf(copy, Error)
    if (!(copy instanceof Error)) return
    assert.strictEqual(copy.name, "TypeError")
    assert.strictEqual(copy.message, "fetch <redacted> failed")
    assert.instanceOf(copy.cause, Error)
    if (copy.cause instanceof Error) {
      assert.strictEqual(copy.cause.message, "connect to /client/api?apiKey=<redacted>")
      assert.strictEqual(Reflect.get(copy.cause, "code"), "ECONNREFUSED")
    }
    assert.notInclude(copy.stack ?? "", API_KEY)
    assert.strictEqual(Redact.redactCause(`raw ${API_KEY}`, redact), "raw <redacted>")
  })
})
