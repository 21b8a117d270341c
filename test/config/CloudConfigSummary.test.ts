import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { parse } from "../../src/config/CloudConfigParser.js"
import { summarize } from "../../src/config/CloudConfigSummary.js"

const config = (extra: string) => {
  const r = parse(
    `[Global]\napi-url = https://u:pw@cloud.example.com/client/api\napi-key = KEY123\nsecret-key = SEC456\n${extra}`,
    "/cfg/cloud config"
  )
  if (Either.isLeft(r)) return assert.fail(r.left.message)
  return r.right
}

describe("CloudConfigSummary.summarize", () => {
  it("prints one line with every setting and no secret (not even a URL password)", () => {
    const line = summarize(config("project-id = my project\nzone = z1\nssl-no-verify = yes\nrequest-timeout = 1m30s\n"))
    assert.strictEqual(
      line,
      "cloud-config \"/cfg/cloud config\" OK: api-url=https://u:redacted@cloud.example.com/client/api " +
        "api-key=<redacted> secret-key=<redacted> project=\"my project\" zone=z1 region=<zone> ssl-verify=off " +
        "request-timeout=1m30s async-job-timeout=5m max-in-flight=16 requests-per-second=20"
    )
    for (const secret of ["KEY123", "SEC456", ":pw@"]) assert.notInclude(line, secret)
  })

  it("shows unset optional values and an explicit region", () => {
    const line = summarize(config("region = r1\n"))
    assert.include(line, "project=<none> zone=<unset> region=r1 ssl-verify=on")
  })
})
