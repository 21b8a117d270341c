/**
 * A vitest test of your own against the simulated worlds: the CCM (`Ccm.layer`, all three
 * controllers) on the CloudStack simulator and FakeKubernetes; a LoadBalancer Service gets a public
 * IP and a load-balancer rule, and deleting it releases both.
 */
import { Annotations, Ccm, CloudConfig, CloudStackClient, Commands, Metrics, ServiceApi } from "cloudstack-ccm"
import {
  CloudStackSimulator,
  DemoCluster,
  DemoWorld,
  FakeKubernetes,
  SimulatedCloudConfig,
  Simulator
} from "cloudstack-ccm/testing"
import { Effect, Layer, Option, Random, Schedule } from "effect"
import { expect, it } from "vitest"

const eventually = <E, R>(done: Effect.Effect<boolean, E, R>) =>
  done.pipe(Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (ok) => ok }), Effect.timeout("20 seconds"))

it("a LoadBalancer Service gets an IP and a rule; deleting it releases them", async () => {
  const config = SimulatedCloudConfig.simulatedCloudConfig()
  const cloud = Simulator.layerWithTransport(DemoWorld.demoWorld, { seed: 7 }).pipe(
    Layer.provideMerge(Layer.merge(Layer.succeed(CloudConfig.CloudConfig, config), Metrics.layer))
  )
  const worlds = Layer.mergeAll(CloudStackClient.layer.pipe(Layer.provideMerge(cloud)), FakeKubernetes.layer())

  const test = Effect.gen(function*() {
    // The cluster's Nodes (kubelet's part; a seeded choice of VMs), then the CCM on the same worlds.
    yield* DemoCluster.setup({ nodes: 2 }).pipe(Effect.withRandom(Random.make(7)))
    const context = yield* Effect.context<Layer.Layer.Success<typeof worlds>>()
    yield* Layer.build(Ccm.layer({
      cloudConfig: Option.some(config),
      backends: { kubernetes: Layer.succeedContext(context), cloudStackTransport: Layer.succeedContext(context) },
      settings: { leaderElection: { ...Ccm.defaults.leaderElection, enabled: false }, securePort: 0 }
    }))

    const services = yield* ServiceApi.ServiceApi
    const simulator = yield* CloudStackSimulator.CloudStackSimulator
    // The LB's network by annotation: the demo world also has a shared network, where CloudStack has no LB.
    const [network] = yield* (yield* CloudStackClient.CloudStackClient).list(Commands.listNetworks, {
      name: "isolated1"
    })
    yield* services.create({
      namespace: "default",
      name: "web",
      type: "LoadBalancer",
      ports: [{ name: "http", port: 80 }],
      annotations: { [Annotations.NETWORK_ID]: network?.id ?? "" }
    })
    const ip = Effect.map(
      services.get("default", "web"),
      (svc) => Option.getOrUndefined(svc)?.status.loadBalancer.ingress[0]?.ip
    )
    yield* eventually(Effect.map(ip, (address) => address !== undefined))
    expect(yield* ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    expect((yield* simulator.state).lbRules.map((rule) => rule.publicPort)).toEqual([80])

    yield* services.delete("default", "web")
    yield* eventually(Effect.map(simulator.state, (state) => state.lbRules.length === 0))
  })
  await Effect.runPromise(test.pipe(Effect.scoped, Effect.provide(worlds)))
})
