/**
 * A complete CloudConfig for setups with no cloud-config file: the simulate command, tests and
 * benches against the simulator or a loopback server. Pure data; it reads no file and checks nothing.
 */
import { Option, Redacted } from "effect"
import type { CloudConfigShape } from "../config/CloudConfig.js"
import { defaults } from "../config/CloudConfigParser.js"

/**
 * The built-in simulate configuration (loopback URL, placeholder keys the in-process simulator
 * ignores, parser defaults but a rate limit the demo never hits), with `overrides` on top.
 */
export const simulatedCloudConfig = (overrides: Partial<CloudConfigShape> = {}): CloudConfigShape => ({
  apiUrl: new URL("http://127.0.0.1/simulated/client/api"),
  apiKey: Redacted.make("simulated"),
  secretKey: Redacted.make("simulated"),
  projectId: Option.none(),
  zone: Option.none(),
  region: Option.none(),
  sslNoVerify: false,
  requestTimeout: defaults.requestTimeout,
  asyncJobTimeout: defaults.asyncJobTimeout,
  maxInFlight: defaults.maxInFlight,
  requestsPerSecond: 10_000,
  source: "simulate (built-in)",
  ...overrides
})
