/**
 * A complete CloudConfig for setups with no cloud-config file: the simulate command, tests and
 * benches against the simulator or a loopback server. Pure data; it reads no file and checks nothing.
 */
import { Option, Redacted } from "effect"
import type { CloudConfigShape } from "../config/CloudConfig.js"
import { defaults } from "../config/CloudConfigSchema.js"
import { demoWorld } from "./cloudstack/DemoWorld.js"
import type { World } from "./cloudstack/World.js"

/**
 * The key pair of `world`'s default account, as CloudConfig fields: what a client talking to that
 * world's simulator (in memory or over HTTP) signs with to act as that account.
 */
export const defaultAccountKeys = (world: World): Pick<CloudConfigShape, "apiKey" | "secretKey"> => {
  const account = world.accounts.find((a) => a.name === world.defaultAccount) ?? world.accounts[0]
  return { apiKey: Redacted.make(account.apiKey), secretKey: Redacted.make(account.secretKey) }
}

/**
 * The built-in simulate configuration (loopback URL, the demo world's default-account keys (admin),
 * parser defaults but a rate limit the demo never hits), with `overrides` on top.
 */
export const simulatedCloudConfig = (overrides: Partial<CloudConfigShape> = {}): CloudConfigShape => ({
  apiUrl: new URL("http://127.0.0.1/simulated/client/api"),
  ...defaultAccountKeys(demoWorld),
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
