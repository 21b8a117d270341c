/**
 * Lists the VMs an account sees, with the typed CloudStack client.
 *
 *   node list-vms.js /path/to/cloud-config   # a live CloudStack, as the cloud-config names it
 *   node list-vms.js                         # the CloudStack simulator's demo world, in memory
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import {
  CloudConfig,
  CloudConfigError,
  CloudConfigFile,
  CloudStackClient,
  CloudStackTransport,
  Commands,
  HttpTransport,
  Metrics
} from "cloudstack-ccm"
import { DemoWorld, SimulatedCloudConfig, Simulator } from "cloudstack-ccm/testing"
import { Console, Effect, Layer } from "effect"

const program = Effect.gen(function*() {
  const client = yield* CloudStackClient.CloudStackClient
  // Every page (500 a page), decoded: branded ids, camelCase fields.
  const vms = yield* client.list(Commands.listVirtualMachines, { details: ["min", "nics"] })
  for (const vm of vms) {
    const addresses = vm.nics.flatMap((nic) => nic.ipAddress === undefined ? [] : [nic.ipAddress])
    yield* Console.log(`${vm.name}\t${vm.state}\t${addresses.join(",")}\t${vm.id}`)
  }
  yield* Console.log(`${vms.length} VMs`)
})

const path = process.argv[2]

// The transport and the cloud-config it signs with: HTTP to the configured api-url, or the simulator
// acting as the demo world's admin account (the keys of the simulated cloud-config).
const cloud: Layer.Layer<
  CloudStackTransport.CloudStackTransport | CloudConfig.CloudConfig,
  Simulator.WorldSeedError | CloudConfigError.CloudConfigError
> = path === undefined
  ? Simulator.layerWithTransport(DemoWorld.demoWorld, { seed: 1 }).pipe(
    Layer.provideMerge(Layer.succeed(CloudConfig.CloudConfig, SimulatedCloudConfig.simulatedCloudConfig()))
  )
  : HttpTransport.layer.pipe(Layer.provideMerge(CloudConfigFile.layerFromFile(path)), Layer.provide(NodeContext.layer))

const ClientLive = CloudStackClient.layer.pipe(Layer.provide(Layer.merge(cloud, Metrics.layer)))

NodeRuntime.runMain(program.pipe(Effect.provide(ClientLive)))
