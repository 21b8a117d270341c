/** The call log's line format and its redaction of secret parameters. */
import { assert, describe, it } from "@effect/vitest"
import { redact, REDACTED, toJsonLine } from "../../../src/simulation/cloudstack/CallRecorder.js"

describe("CallRecorder", () => {
  it("redacts secret values by name (any case, last segment of map keys), keeps everything else", () => {
    assert.deepStrictEqual(
      redact({
        apiKey: "k",
        Signature: "s",
        password: "p",
        "details[0].vncpassword": "v",
        userdata: "I2Nsb3VkLWNvbmZpZw==",
        "tags[0].key": "cluster",
        "tags[0].value": "a",
        keyword: "web"
      }),
      {
        apiKey: REDACTED,
        Signature: REDACTED,
        password: REDACTED,
        "details[0].vncpassword": REDACTED,
        userdata: REDACTED,
        "tags[0].key": "cluster",
        "tags[0].value": "a",
        keyword: "web"
      }
    )
  })

  it("one JSON object per call: time (ISO, from the Clock), account, command, params, status, ms", () => {
    const line = toJsonLine({
      at: Date.UTC(2030, 0, 1, 12, 0, 0, 250),
      command: "createLoadBalancerRule",
      params: { name: "a-tcp-80", password: "x" },
      status: 200,
      account: "alice",
      durationMs: 7
    })
    assert.strictEqual(
      line,
      `{"time":"2030-01-01T12:00:00.250Z","account":"alice","command":"createLoadBalancerRule","params":{"name":"a-tcp-80","password":"${REDACTED}"},"status":200,"ms":7}`
    )
    assert.notInclude(
      toJsonLine({ at: 0, command: "", params: {}, status: 401, account: undefined, durationMs: 0 }),
      "account"
    )
  })
})
