/**
 * Shared wiring of the node scenario tests: the CloudStack simulator (in memory, on the ambient Clock)
 * behind the real CloudStackClient and Instances provider, and worlds sized for the scenarios.
 */
import { Layer } from "effect"
import * as CloudStackClient from "../../src/cloudstack/CloudStackClient.js"
import { CloudConfig, type CloudConfigShape } from "../../src/config/CloudConfig.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as Instances from "../../src/provider/Instances.js"
import type { ProviderName } from "../../src/provider/ProviderId.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import type { World } from "../../src/simulation/cloudstack/World.js"
import * as DemoCluster from "../../src/simulation/DemoCluster.js"
import * as CloudStackTestEnv from "../fakes/CloudStackTestEnv.js"

/**
 * The client tests' config without a rate limit (the TestClock would stall a limited burst),
 * signing as the demo admin: the scenarios see the admin's view of the world.
 */
export const cloudConfig = (overrides: Partial<CloudConfigShape> = {}): CloudConfigShape =>
  CloudStackTestEnv.cloudConfig({ requestsPerSecond: 1_000_000, ...CloudStackTestEnv.demoKeys("admin"), ...overrides })

/** `count` extra running VMs `big-<n>` on a /16 network (IPv4 + IPv6), for paging and scale. */
export const bigWorld = DemoCluster.scaledWorld

export interface CloudOptions {
  readonly world?: World
  readonly seed?: number
  readonly config?: Partial<CloudConfigShape>
  readonly providerName?: ProviderName
}

/** Simulator + transport + client + Instances (+ Metrics), all on the ambient Clock. */
export const cloudLayer = (options: CloudOptions = {}) => {
  const simulator = Simulator.layerWithTransport(options.world ?? demoWorld, { seed: options.seed ?? 7 }).pipe(
    Layer.provideMerge(Layer.succeed(CloudConfig, cloudConfig(options.config)))
  )
  const base = Layer.mergeAll(simulator, Metrics.layer)
  const client = CloudStackClient.layer.pipe(Layer.provideMerge(base))
  return Instances.layer(options.providerName ?? "external-cloudstack").pipe(Layer.provideMerge(client))
}
