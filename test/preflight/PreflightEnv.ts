/**
 * The preflight against the CloudStack simulator over HTTP (127.0.0.1, real sockets, the live
 * transport): a demo world at 4.20.1.0 with an extra user whose role is denied the LB commands,
 * and helpers to run the preflight with any keys and settings and to read its checks.
 */
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import * as HttpTransport from "../../src/cloudstack/HttpTransport.js"
import { CloudConfig, type CloudConfigShape } from "../../src/config/CloudConfig.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import type { Level } from "../../src/preflight/Check.js"
import * as Preflight from "../../src/preflight/Preflight.js"
import type { PreflightReport } from "../../src/preflight/Report.js"
import type { Feature } from "../../src/provider/RequiredCommands.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import { isCommand, layer as simulatorLayer } from "../../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { World, WorldAccount } from "../../src/simulation/cloudstack/World.js"
import { cloudConfig } from "../fakes/CloudStackTestEnv.js"

export const ADMIN = { apiKey: "demo-admin-api-key", secretKey: "demo-admin-secret-key" }
export const ALICE = { apiKey: "demo-alice-api-key", secretKey: "demo-alice-secret-key" }
export const BOB = { apiKey: "demo-bob-api-key", secretKey: "demo-bob-secret-key" }
/** A user whose role may not create or change LB rules nor acquire IPs. */
export const NO_LB = { apiKey: "no-lb-key", secretKey: "no-lb-secret" }

export const world = new World({
  ...Schema.decodeSync(World)({ ...Schema.encodeSync(World)(demoWorld), version: "4.20.1.0" }),
  accounts: [
    ...demoWorld.accounts,
    new WorldAccount({ name: "carol", role: "user", ...NO_LB, deniedApis: ["*LoadBalancerRule", "associateIpAddress"] })
  ]
})

/** The simulator's HTTP face on a free port, for the test's scope. */
export const Face = HttpFace.layer({ port: 0, isCommand }).pipe(Layer.provide(simulatorLayer(world, { seed: 3 })))

export const ALL: ReadonlySet<Feature> = new Set(["nodes", "loadBalancers"])

/** Runs the preflight with `keys` against `apiUrl`, as `cloudstack-ccm check` does. */
export const preflight = (
  apiUrl: string,
  keys: { readonly apiKey: string; readonly secretKey: string },
  overrides: Partial<CloudConfigShape> = {},
  features: ReadonlySet<Feature> = ALL
): Effect.Effect<PreflightReport> => {
  const config = cloudConfig({
    apiUrl: new URL(apiUrl),
    apiKey: Redacted.make(keys.apiKey),
    secretKey: Redacted.make(keys.secretKey),
    zone: Option.some("zone1"),
    source: "test.ini",
    ...overrides
  })
  return Preflight.run(config, { source: "test.ini", controllers: [], features }).pipe(
    Effect.scoped,
    Effect.provide(
      Layer.mergeAll(HttpTransport.layer, Metrics.layer).pipe(Layer.provide(Layer.succeed(CloudConfig, config)))
    )
  )
}

/** The simulator face's api-url. */
export const apiUrl = Effect.map(HttpFace.SimulatorHttpServer, (face) => face.apiUrl)

/** `id -> level` of every check. */
export const levels = (report: PreflightReport): Readonly<Record<string, Level>> =>
  Object.fromEntries(report.checks.map((c) => [c.id, c.level]))

export const textOf = (report: PreflightReport, id: string): string =>
  report.checks.find((c) => c.id === id)?.text ?? ""

/** The port a node server listens on. */
export const portOf = (server: { readonly address: () => string | { readonly port: number } | null }): number => {
  const address = server.address()
  return typeof address === "object" && address !== null ? address.port : 0
}
