import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { isRetryable, isRetryableMutation } from "../../src/cloudstack/CloudStackError.js"
import * as Envelope from "../../src/cloudstack/Envelope.js"
import { apiError, html, json, ok } from "../fakes/ScriptedTransport.js"

const left = (e: ReturnType<typeof Envelope.decode>) => {
  if (Either.isRight(e)) return assert.fail(`expected an error, got ${JSON.stringify(e.right)}`)
  return e.left
}

describe("Envelope.decode", () => {
  it("success: the object under the single top-level key, whatever its name", () => {
    const r = Envelope.decode("createLBStickinessPolicy", json(200, { createLBStickinessPolicy: { id: "x", jobid: "j" } }))
    assert.deepStrictEqual(r, Either.right({ id: "x", jobid: "j" }))
    assert.deepStrictEqual(Envelope.decode("listZones", ok("listZones", {})), Either.right({}))
  })

  it("401 without cserrorcode: auth class, not retryable, message names the credentials", () => {
    const e = left(Envelope.decode(
      "listZones",
      apiError("listZones", 401, "unable to verify user credentials and/or request signature")
    ))
    assert.strictEqual(e._tag, "CloudStackApiError")
    if (e._tag !== "CloudStackApiError") return
    assert.strictEqual(e.httpStatus, 401)
    assert.strictEqual(e.csErrorCode, undefined)
    assert.strictEqual(e.errorClass, "auth")
    assert.include(e.message, "api-key and secret-key")
    assert.isFalse(isRetryable(e))
  })

  it("431 with cserrorcode 4350 and 9999 keeps both codes and the uuidList", () => {
    const body = {
      createloadbalancerruleresponse: {
        uuidList: [{ uuid: "u1", description: "sourceIpId" }],
        errorcode: 431,
        cserrorcode: 4350,
        errortext: "Invalid algorithm: foo"
      }
    }
    const e = left(Envelope.decode("createLoadBalancerRule", json(431, body)))
    assert.deepInclude(e, { _tag: "CloudStackApiError", errorCode: 431, csErrorCode: 4350, errorText: "Invalid algorithm: foo" })
    if (e._tag === "CloudStackApiError") assert.deepStrictEqual(e.uuidList, [{ uuid: "u1", description: "sourceIpId" }])
    const e2 = left(Envelope.decode("x", apiError("createLoadBalancerRule", 431, "LB service provider cannot support this rule", 9999)))
    assert.deepInclude(e2, { errorCode: 431, csErrorCode: 9999 })
    assert.isFalse(isRetryable(e2))
  })

  it("537 conflict and 530 internal are not retried", () => {
    const conflict = left(Envelope.decode("c", apiError("c", 537, "The range specified, 80-80, conflicts with rule", 4360)))
    const internal = left(Envelope.decode("c", apiError("c", 530, "Internal error executing command", 4250)))
    assert.strictEqual(conflict._tag === "CloudStackApiError" && conflict.errorClass, "conflict")
    assert.isFalse(isRetryable(conflict))
    assert.isFalse(isRetryable(internal))
    assert.isFalse(isRetryableMutation(internal))
  })

  it("an errorcode inside an HTTP 200 answer is still an error", () => {
    const e = left(Envelope.decode("listZones", json(200, { errorresponse: { errorcode: 432, errortext: "unsupported" } })))
    assert.deepInclude(e, { _tag: "CloudStackApiError", httpStatus: 200, errorCode: 432 })
  })

  it("HTML body: unexpected body with status, content type and the first bytes", () => {
    const page = "<html><body>" + "x".repeat(1000) + "</body></html>"
    const e = left(Envelope.decode("listZones", html(200, page)))
    assert.deepInclude(e, { _tag: "CloudStackUnexpectedBodyError", httpStatus: 200, contentType: "text/html" })
    if (e._tag === "CloudStackUnexpectedBodyError") {
      assert.strictEqual(e.bodyPrefix, page.slice(0, 200))
      assert.include(e.message, "<html>")
    }
    assert.isFalse(isRetryable(e))
  })

  it("truncated JSON is an unexpected body", () => {
    const e = left(Envelope.decode("listZones", { status: 200, contentType: "application/json", body: '{"listzonesresponse":{"count":1,"zo' }))
    assert.strictEqual(e._tag, "CloudStackUnexpectedBodyError")
  })

  it("502 from a proxy (HTML or foreign JSON) is an unexpected body, retried for reads only", () => {
    const htmlError = left(Envelope.decode("listZones", html(502, "<h1>502 Bad Gateway</h1>")))
    const jsonError = left(Envelope.decode("listZones", json(502, { message: "upstream unavailable" })))
    for (const e of [htmlError, jsonError]) {
      assert.deepInclude(e, { _tag: "CloudStackUnexpectedBodyError", httpStatus: 502 })
      assert.isTrue(isRetryable(e))
      assert.isFalse(isRetryableMutation(e))
    }
  })

  it("several top-level keys or a non-object value are unexpected", () => {
    assert.strictEqual(left(Envelope.decode("c", json(200, { a: {}, b: {} })))._tag, "CloudStackUnexpectedBodyError")
    assert.strictEqual(left(Envelope.decode("c", json(200, { a: 1 })))._tag, "CloudStackUnexpectedBodyError")
    assert.strictEqual(left(Envelope.decode("c", json(200, [1])))._tag, "CloudStackUnexpectedBodyError")
  })

  it("mutations are retried only on 429/503, reads also on 534/502/504", () => {
    const e429 = left(Envelope.decode("c", apiError("c", 429, "limit")))
    const e503 = left(Envelope.decode("c", html(503, "maintenance")))
    const e534 = left(Envelope.decode("c", apiError("c", 534, "unavailable", 4380)))
    assert.isTrue(isRetryableMutation(e429))
    assert.isTrue(isRetryableMutation(e503))
    assert.isTrue(isRetryable(e534))
    assert.isFalse(isRetryableMutation(e534))
  })
})
