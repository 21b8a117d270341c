import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { isRetryable, isRetryableMutation } from "../../src/cloudstack/CloudStackError.js"
import * as Envelope from "../../src/cloudstack/Envelope.js"
import { API_KEY, SECRET_KEY } from "../fakes/CloudStackTestEnv.js"
import { apiError, html, json, ok } from "../fakes/ScriptedTransport.js"

const decode = (command: string, raw: Parameters<typeof Envelope.decode>[1]) =>
  Envelope.decode(command, raw, [API_KEY, SECRET_KEY])

const left = (e: ReturnType<typeof Envelope.decode>) => {
  if (Either.isRight(e)) return assert.fail(`expected an error, got ${JSON.stringify(e.right)}`)
  return e.left
}

describe("Envelope.decode", () => {
  it("success: the object under the command's envelope key", () => {
    assert.deepStrictEqual(decode("listZones", ok("listZones", {})), Either.right({}))
    assert.deepStrictEqual(
      decode("listZones", json(200, { listzonesresponse: { count: 1 } })),
      Either.right({ count: 1 })
    )
  })

  it("the class-defined keys of reference 2.1 and the CloudStack sources count for their command only", () => {
    const accepted: ReadonlyArray<readonly [string, string]> = [
      ["createLBStickinessPolicy", "createLBStickinessPolicy"],
      ["createLBStickinessPolicy", "createlbstickinesspolicyresponse"],
      ["deleteLBStickinessPolicy", "deleteLBstickinessrruleresponse"],
      ["deleteLBStickinessPolicy", "deletelbstickinesspolicyresponse"],
      ["updateNetworkACLItem", "createnetworkaclresponse"],
      ["updateNetworkACLItem", "updatenetworkaclitemresponse"]
    ]
    for (const [command, key] of accepted) {
      assert.deepStrictEqual(
        decode(command, json(200, { [key]: { jobid: "j" } })),
        Either.right({ jobid: "j" }),
        `${command} ${key}`
      )
    }
    const foreign: ReadonlyArray<readonly [string, string]> = [
      ["listVirtualMachines", "createLBStickinessPolicy"],
      ["listVirtualMachines", "createnetworkaclresponse"],
      ["listVirtualMachines", "listVirtualMachinesresponse"],
      ["listVirtualMachines", "listvirtualmachines"],
      ["createNetworkACL", "updatenetworkaclitemresponse"]
    ]
    for (const [command, key] of foreign) {
      assert.strictEqual(
        left(decode(command, json(200, { [key]: {} })))._tag,
        "CloudStackUnexpectedBodyError",
        `${command} ${key}`
      )
    }
  })

  it("a 200 JSON answer that is not CloudStack's is an unexpected body, retried for reads, never a (0-item) answer", () => {
    const bodies: ReadonlyArray<unknown> = [
      { status: { ok: true } }, // a health endpoint
      { listzonesresponse: {} }, // another command's envelope
      { errorresponse: {} }, // no errorcode
      {},
      { listvirtualmachinesresponse: {}, status: "ok" },
      { listvirtualmachinesresponse: [] },
      { listvirtualmachinesresponse: null }
    ]
    for (const body of bodies) {
      const e = left(decode("listVirtualMachines", json(200, body)))
      assert.deepInclude(e, { _tag: "CloudStackUnexpectedBodyError", httpStatus: 200 }, JSON.stringify(body))
      assert.isTrue(isRetryable(e), JSON.stringify(body))
      assert.isFalse(isRetryableMutation(e), JSON.stringify(body))
    }
  })

  it("an empty body, a 302 to a login page and HTML with 200 are unexpected bodies", () => {
    const answers = [
      { status: 200, contentType: "application/json", body: "" },
      { status: 302, contentType: "text/html", body: "<a href=\"/login\">Found</a>" },
      html(200, "<html><body>Sign in</body></html>")
    ]
    for (const raw of answers) {
      const e = left(decode("listVirtualMachines", raw))
      assert.deepInclude(e, { _tag: "CloudStackUnexpectedBodyError", httpStatus: raw.status })
      assert.isTrue(isRetryable(e))
    }
  })

  it("errorresponse counts only for the errors CloudStack sends under it (401 unknown command, 432)", () => {
    const under = (code: number) => json(code, { errorresponse: { uuidList: [], errorcode: code, errortext: "x" } })
    assert.deepInclude(left(decode("listZones", under(401))), { _tag: "CloudStackApiError", errorCode: 401 })
    assert.deepInclude(left(decode("listZones", under(432))), { _tag: "CloudStackApiError", errorCode: 432 })
    // a 431 ("entity does not exist") must come under the command's own key
    assert.strictEqual(left(decode("listVirtualMachines", under(431)))._tag, "CloudStackUnexpectedBodyError")
  })

  it("foreign text is redacted: an echoed URL in a body prefix, an error text and the uuidList", () => {
    const url = `/client/api?command=listZones&apiKey=${encodeURIComponent(API_KEY)}&signature=abc%2Bdef%3D`
    const page = left(decode("listZones", html(404, `<h1>Not Found</h1><p>${url}</p>`)))
    assert.strictEqual(page._tag, "CloudStackUnexpectedBodyError")
    assert.notInclude(page.message, API_KEY)
    assert.include(page.message, "apiKey=<redacted>&signature=<redacted>")
    const echoed = left(decode("listZones", apiError("listZones", 530, `failed: ${url} with ${SECRET_KEY}`, 4250)))
    assert.strictEqual(echoed._tag, "CloudStackApiError")
    assert.notInclude(JSON.stringify(echoed), API_KEY)
    assert.notInclude(JSON.stringify(echoed), SECRET_KEY)
    assert.include(echoed.message, "with <redacted>")
    const uuid = left(decode(
      "listZones",
      json(431, {
        listzonesresponse: {
          uuidList: [{ uuid: API_KEY, description: `apikey=${API_KEY}` }],
          errorcode: 431,
          errortext: ""
        }
      })
    ))
    assert.notInclude(JSON.stringify(uuid), API_KEY)
    // a secret cut by the 200-byte prefix is redacted before the cut
    const late = left(decode("listZones", html(200, `${"x".repeat(150)}${API_KEY}`)))
    assert.strictEqual(late._tag === "CloudStackUnexpectedBodyError" && late.bodyPrefix, `${"x".repeat(150)}<redacted>`)
  })

  it("401 without cserrorcode: auth class, not retryable, message names the credentials", () => {
    const e = left(decode(
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
    const e = left(decode("createLoadBalancerRule", json(431, body)))
    assert.deepInclude(e, {
      _tag: "CloudStackApiError",
      errorCode: 431,
      csErrorCode: 4350,
      errorText: "Invalid algorithm: foo"
    })
    if (e._tag === "CloudStackApiError") assert.deepStrictEqual(e.uuidList, [{ uuid: "u1", description: "sourceIpId" }])
    const e2 = left(
      decode(
        "createLoadBalancerRule",
        apiError("createLoadBalancerRule", 431, "LB service provider cannot support this rule", 9999)
      )
    )
    assert.deepInclude(e2, { errorCode: 431, csErrorCode: 9999 })
    assert.isFalse(isRetryable(e2))
  })

  it("537 conflict and 530 internal are not retried", () => {
    const conflict = left(decode("c", apiError("c", 537, "The range specified, 80-80, conflicts with rule", 4360)))
    const internal = left(decode("c", apiError("c", 530, "Internal error executing command", 4250)))
    assert.strictEqual(conflict._tag === "CloudStackApiError" && conflict.errorClass, "conflict")
    assert.isFalse(isRetryable(conflict))
    assert.isFalse(isRetryable(internal))
    assert.isFalse(isRetryableMutation(internal))
  })

  it("an errorcode inside an HTTP 200 answer is still an error", () => {
    const e = left(decode("listZones", json(200, { errorresponse: { errorcode: 432, errortext: "unsupported" } })))
    assert.deepInclude(e, { _tag: "CloudStackApiError", httpStatus: 200, errorCode: 432 })
  })

  it("HTML body: unexpected body with status, content type and the first bytes; retried for reads only", () => {
    const page = "<html><body>" + "x".repeat(1000) + "</body></html>"
    const e = left(decode("listZones", html(200, page)))
    assert.deepInclude(e, { _tag: "CloudStackUnexpectedBodyError", httpStatus: 200, contentType: "text/html" })
    if (e._tag === "CloudStackUnexpectedBodyError") {
      assert.strictEqual(e.bodyPrefix, page.slice(0, 200))
      assert.include(e.message, "<html>")
    }
    assert.isTrue(isRetryable(e))
    assert.isFalse(isRetryableMutation(e))
  })

  it("truncated JSON is an unexpected body", () => {
    const e = left(
      decode("listZones", {
        status: 200,
        contentType: "application/json",
        body: "{\"listzonesresponse\":{\"count\":1,\"zo"
      })
    )
    assert.strictEqual(e._tag, "CloudStackUnexpectedBodyError")
  })

  it("502 from a proxy (HTML or foreign JSON) is an unexpected body, retried for reads only", () => {
    const htmlError = left(decode("listZones", html(502, "<h1>502 Bad Gateway</h1>")))
    const jsonError = left(decode("listZones", json(502, { message: "upstream unavailable" })))
    for (const e of [htmlError, jsonError]) {
      assert.deepInclude(e, { _tag: "CloudStackUnexpectedBodyError", httpStatus: 502 })
      assert.isTrue(isRetryable(e))
      assert.isFalse(isRetryableMutation(e))
    }
  })

  it("several top-level keys or a non-object value are unexpected", () => {
    assert.strictEqual(left(decode("c", json(200, { cresponse: {}, b: {} })))._tag, "CloudStackUnexpectedBodyError")
    assert.strictEqual(left(decode("c", json(200, { cresponse: 1 })))._tag, "CloudStackUnexpectedBodyError")
    assert.strictEqual(left(decode("c", json(200, [1])))._tag, "CloudStackUnexpectedBodyError")
  })

  it("mutations are retried only on 429/503, reads also on 534/502/504", () => {
    const e429 = left(decode("c", apiError("c", 429, "limit")))
    const e503 = left(decode("c", html(503, "maintenance")))
    const e534 = left(decode("c", apiError("c", 534, "unavailable", 4380)))
    assert.isTrue(isRetryableMutation(e429))
    assert.isTrue(isRetryableMutation(e503))
    assert.isTrue(isRetryable(e534))
    assert.isFalse(isRetryableMutation(e534))
  })
})
