import { assert, describe, it } from "@effect/vitest"
import {
  AsyncJobFailedError,
  CloudStackApiError,
  CloudStackTransportError
} from "../../src/cloudstack/CloudStackError.js"
import { classify } from "../../src/controllers/ErrorPolicy.js"
import { KubeApiError, type KubeErrorReason } from "../../src/kubernetes/KubeError.js"

const kube = (reason: KubeErrorReason) => new KubeApiError({ verb: "patch", resource: "nodes", reason, detail: "x" })
const api = (errorCode: number) =>
  new CloudStackApiError({
    command: "associateIpAddress",
    httpStatus: errorCode,
    errorCode,
    csErrorCode: 4350,
    errorText: "x",
    uuidList: []
  })

describe("ErrorPolicy.classify", () => {
  it("a token, an RBAC rule or an invalid object is the user's to fix; the API server being away is transient", () => {
    assert.deepStrictEqual(
      ([
        "Unauthorized",
        "Forbidden",
        "Invalid",
        "Unavailable",
        "Transport",
        "Conflict",
        "NotFound",
        "Gone",
        "Decode"
      ] as const).map((r) => [r, classify(kube(r))]),
      [
        ["Unauthorized", "user"],
        ["Forbidden", "user"],
        ["Invalid", "user"],
        ["Unavailable", "transient"],
        ["Transport", "transient"],
        ["Conflict", "transient"],
        ["NotFound", "transient"],
        ["Gone", "transient"],
        ["Decode", "transient"]
      ]
    )
  })

  it("CloudStack keys, role permissions and account limits are the user's; outages and conflicts transient", () => {
    assert.deepStrictEqual(
      [401, 531, 532, 535, 431, 530, 533, 534, 537, 503].map((code) => [code, classify(api(code))]),
      [
        [401, "user"],
        [531, "user"],
        [532, "user"],
        [535, "user"],
        [431, "transient"],
        [530, "transient"],
        [533, "transient"],
        [534, "transient"],
        [537, "transient"],
        [503, "transient"]
      ]
    )
    assert.strictEqual(
      classify(
        new AsyncJobFailedError({ jobId: "j", command: "associateIpAddress", errorCode: 535, errorText: "limit" })
      ),
      "user"
    )
    assert.strictEqual(
      classify(new AsyncJobFailedError({ jobId: "j", command: "associateIpAddress", errorCode: 530, errorText: "x" })),
      "transient"
    )
    assert.strictEqual(
      classify(new CloudStackTransportError({ command: "listZones", reason: "Reset", detail: "x" })),
      "transient"
    )
  })

  it("the controllers' own errors: a Service user error and a wrong provided node IP are the user's, a VM not found yet transient", () => {
    assert.strictEqual(classify({ _tag: "ServiceUserError" }), "user")
    assert.strictEqual(classify({ _tag: "ProvidedNodeIpError" }), "user")
    assert.strictEqual(classify({ _tag: "NodeNotResolvedError" }), "transient")
  })
})
