import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, Option, Redacted } from "effect"
import { parse } from "../../src/config/CloudConfigParser.js"
import { render } from "../../src/config/CloudConfigRender.js"
import { defaults } from "../../src/config/CloudConfigSchema.js"
import { simulatedCloudConfig } from "../../src/simulation/SimulatedCloudConfig.js"

describe("simulatedCloudConfig", () => {
  it("is a config the real parser accepts, field for field", () => {
    const config = simulatedCloudConfig()
    const parsed = parse(render(config), config.source)
    assert.isTrue(Either.isRight(parsed))
    if (Either.isLeft(parsed)) return
    assert.strictEqual(parsed.right.apiUrl.href, config.apiUrl.href)
    assert.strictEqual(Redacted.value(parsed.right.apiKey), Redacted.value(config.apiKey))
    assert.strictEqual(Redacted.value(parsed.right.secretKey), Redacted.value(config.secretKey))
    assert.isTrue(
      Option.isNone(parsed.right.projectId) && Option.isNone(parsed.right.zone) && Option.isNone(parsed.right.region)
    )
    assert.isTrue(Duration.equals(parsed.right.requestTimeout, config.requestTimeout))
    assert.isTrue(Duration.equals(parsed.right.asyncJobTimeout, config.asyncJobTimeout))
    assert.strictEqual(parsed.right.maxInFlight, config.maxInFlight)
    assert.strictEqual(parsed.right.requestsPerSecond, config.requestsPerSecond)
  })

  it("uses the parser's timeouts and concurrency but a rate limit the demo never reaches", () => {
    const config = simulatedCloudConfig()
    assert.isTrue(Duration.equals(config.requestTimeout, defaults.requestTimeout))
    assert.isTrue(Duration.equals(config.asyncJobTimeout, defaults.asyncJobTimeout))
    assert.strictEqual(config.maxInFlight, defaults.maxInFlight)
    assert.strictEqual(config.requestsPerSecond, 10_000)
    assert.strictEqual(config.source, "simulate (built-in)")
  })

  it("overrides win and leave the other fields alone", () => {
    const config = simulatedCloudConfig({ requestsPerSecond: 5, source: "test", zone: Option.some("zone1") })
    assert.strictEqual(config.requestsPerSecond, 5)
    assert.strictEqual(config.source, "test")
    assert.deepStrictEqual(config.zone, Option.some("zone1"))
    assert.strictEqual(config.apiUrl.href, "http://127.0.0.1/simulated/client/api")
    assert.strictEqual(config.maxInFlight, defaults.maxInFlight)
  })
})
