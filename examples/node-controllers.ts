/**
 * Runs the two node controllers on layers of your own choosing: here the CloudStack simulator and
 * the in-memory Kubernetes of `cloudstack-ccm/testing`; swap in `HttpTransport.layer` and
 * `KubernetesLive.layer(...)` for real ones. Three kubelets register tainted Nodes; the cloud-node
 * controller initialises them from their VMs (providerID, addresses, labels), then one VM is destroyed
 * and the lifecycle controller deletes its Node.
 *
 * For the whole CCM (leader election, /healthz and /metrics, the service controller) use `Ccm.run`.
 */
import { NodeRuntime } from "@effect/platform-node"
import {
  CloudConfig,
  CloudStackClient,
  Commands,
  ControllerManager,
  HealthChecks,
  Instances,
  Metrics,
  NodeApi,
  NodeController,
  NodeLifecycleController
} from "cloudstack-ccm"
import { DemoCluster, DemoWorld, FakeKubernetes, SimulatedCloudConfig, Simulator } from "cloudstack-ccm/testing"
import { Console, Effect, Layer, Option, Random, Schedule } from "effect"

/** Polls until `done` holds (at most 20 s). */
const eventually = <E, R>(done: Effect.Effect<boolean, E, R>) =>
  done.pipe(Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (ok) => ok }), Effect.timeout("20 seconds"))

const program = Effect.gen(function*() {
  const fake = yield* FakeKubernetes.FakeKubernetes
  const nodes = yield* NodeApi.NodeApi
  const client = yield* CloudStackClient.CloudStackClient

  // The controllers, as the CCM builds them, run by the ControllerManager (health checks included).
  const cloudNode = yield* NodeController.make({ workers: 2, statusUpdateFrequency: "2 seconds" })
  const lifecycle = yield* NodeLifecycleController.make({ monitorPeriod: "1 second" })
  yield* Effect.forkScoped(ControllerManager.run([
    { name: NodeController.CONTROLLER_NAME, run: cloudNode.run },
    { name: NodeLifecycleController.CONTROLLER_NAME, run: lifecycle.run }
  ]))

  // kubelet's part: Nodes registered with the uninitialized taint (a seeded choice of VMs), reporting Ready.
  const registered = yield* DemoCluster.setup({ nodes: 3 }).pipe(Effect.withRandom(Random.make(1)))
  yield* Effect.forEach(registered, ({ node }) => fake.setNodeReady(node, "True"), { discard: true })
  yield* eventually(Effect.map(fake.nodes, (all) => all.every((n) => n.spec.providerID !== "")))
  for (const node of yield* fake.nodes) {
    yield* Console.log(
      `${node.metadata.name} initialised: ${node.spec.providerID} ${
        node.status.addresses.map((a) => a.address).join(",")
      }`
    )
  }

  const gone = registered[0]
  if (gone !== undefined) {
    yield* client.run(Commands.destroyVirtualMachine, { id: gone.vm.id, expunge: true })
    yield* fake.setNodeReady(gone.node, "Unknown")
    yield* eventually(Effect.map(nodes.get(gone.node), Option.isNone))
    yield* Console.log(`${gone.node} deleted: its VM no longer exists`)
  }
  yield* Console.log(`${(yield* fake.nodes).length} nodes left`)
}).pipe(Effect.scoped)

// Your layers: the cloud (simulator + typed client + Instances) and the cluster (FakeKubernetes).
const config = Layer.succeed(CloudConfig.CloudConfig, SimulatedCloudConfig.simulatedCloudConfig())
const client = CloudStackClient.layer.pipe(
  Layer.provideMerge(Simulator.layerWithTransport(DemoWorld.demoWorld, { seed: 1 })),
  Layer.provideMerge(Layer.merge(config, Metrics.layer))
)
const cloud = Instances.layer("external-cloudstack").pipe(Layer.provideMerge(client))
const cluster = FakeKubernetes.layer()

NodeRuntime.runMain(program.pipe(Effect.provide(Layer.mergeAll(cloud, cluster, HealthChecks.layer))))
