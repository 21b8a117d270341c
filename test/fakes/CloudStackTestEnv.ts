/**
 * Test wiring for the CloudStack client: a complete CloudConfig with overridable tuning, and the
 * real `CloudStackClient` layer over a scripted transport with a fresh Metrics registry.
 */
import { Layer, Redacted } from "effect"
import * as CloudStackClient from "../../src/cloudstack/CloudStackClient.js"
import { CloudConfig, type CloudConfigShape } from "../../src/config/CloudConfig.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import { simulatedCloudConfig } from "../../src/simulation/SimulatedCloudConfig.js"
import * as ScriptedTransport from "./ScriptedTransport.js"

// Public example keys from the CloudStack docs (reference 1.5).
export const SECRET_KEY = "VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ"
export const API_KEY = "plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg"

/**
 * The key pair of a demo-world account (`demo-<name>-api-key`), as CloudConfig fields: the
 * simulator (in memory as over HTTP) acts as the account whose key signs.
 */
export const demoKeys = (account: "admin" | "alice" | "bob"): Pick<CloudConfigShape, "apiKey" | "secretKey"> => ({
  apiKey: Redacted.make(`demo-${account}-api-key`),
  secretKey: Redacted.make(`demo-${account}-secret-key`)
})

/** The simulated-setup config with the docs' example keys, a loopback URL and a 1000/s rate limit. */
export const cloudConfig = (overrides: Partial<CloudConfigShape> = {}): CloudConfigShape =>
  simulatedCloudConfig({
    apiUrl: new URL("http://127.0.0.1:8080/client/api"),
    apiKey: Redacted.make(API_KEY),
    secretKey: Redacted.make(SECRET_KEY),
    requestsPerSecond: 1000,
    source: "test",
    ...overrides
  })

/** Client + its dependencies + the scripted transport's log and the metrics registry. */
export const clientLayer = (handler: ScriptedTransport.Handler, overrides: Partial<CloudConfigShape> = {}) => {
  const deps = Layer.mergeAll(
    ScriptedTransport.layer(handler),
    Layer.succeed(CloudConfig, cloudConfig(overrides)),
    Metrics.layer
  )
  return Layer.provideMerge(CloudStackClient.layer, deps)
}
