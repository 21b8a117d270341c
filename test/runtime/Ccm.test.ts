/**
 * The composition root as a library user calls it: `Ccm.layer` / `Ccm.run` with settings over the
 * defaults and simulated backends (FakeKubernetes, the CloudStack simulator), on the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import * as CloudStackClient from "../../src/cloudstack/CloudStackClient.js"
import { CloudConfig } from "../../src/config/CloudConfig.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as Ccm from "../../src/runtime/Ccm.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as DemoCluster from "../../src/simulation/DemoCluster.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { simulatedCloudConfig } from "../../src/simulation/SimulatedCloudConfig.js"

const config = simulatedCloudConfig()

/** FakeKubernetes with three Nodes registered as kubelet does, and the simulator behind its transport. */
const worlds = Effect.gen(function*() {
  const kube = yield* Layer.build(FakeKubernetes.layer())
  const cloud = yield* Layer.build(
    Simulator.layerWithTransport(demoWorld, { seed: 3 }).pipe(Layer.provide(Layer.succeed(CloudConfig, config)))
  )
  yield* DemoCluster.setup({ nodes: 3 }).pipe(
    Effect.provide(
      CloudStackClient.layer.pipe(
        Layer.provide(Layer.mergeAll(Layer.succeedContext(cloud), Layer.succeed(CloudConfig, config), Metrics.layer))
      )
    ),
    Effect.provide(Layer.succeedContext(kube))
  )
  const backends: Ccm.Backends<never, never> = {
    kubernetes: Layer.succeedContext(kube),
    cloudStackTransport: Layer.succeedContext(cloud)
  }
  return { fake: yield* Effect.provide(FakeKubernetes.FakeKubernetes, Layer.succeedContext(kube)), backends }
})

const advance = (seconds: number) =>
  Effect.forEach(Array.from({ length: seconds * 2 }), () => TestClock.adjust(Duration.millis(500)), { discard: true })

const initialised = (node: { readonly spec: { readonly providerID: string } }) =>
  /^external-cloudstack:\/\/[0-9a-f-]{36}$/.test(node.spec.providerID)

describe("Ccm", () => {
  it.scoped("layer: building it starts the controllers under the Lease; closing its scope stops them and releases the Lease", () =>
    Effect.gen(function*() {
      const { backends, fake } = yield* worlds
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        Ccm.layer({
          cloudConfig: Option.some(config),
          backends,
          settings: { controllers: ["cloud-node-controller"], securePort: 0 }
        }),
        scope
      )
      yield* advance(30)
      const nodes = yield* fake.nodes
      assert.strictEqual(nodes.length, 3)
      assert.isTrue(nodes.every(initialised))
      const holder = (yield* fake.leases).find((l) => l.name === Ccm.defaults.leaderElection.name)?.spec.holderIdentity
      assert.match(holder ?? "", /_[0-9a-f-]{36}$/)

      yield* Scope.close(scope, Exit.void)
      assert.isUndefined(
        (yield* fake.leases).find((l) => l.name === Ccm.defaults.leaderElection.name)?.spec.holderIdentity
      )
    }))

  it.scoped("run: without leader election no Lease is taken; it runs until interrupted", () =>
    Effect.gen(function*() {
      const { backends, fake } = yield* worlds
      const running = yield* Effect.fork(Ccm.run({
        cloudConfig: Option.some(config),
        backends,
        settings: { leaderElection: { ...Ccm.defaults.leaderElection, enabled: false }, securePort: 0 }
      }))
      yield* advance(30)
      assert.isTrue((yield* fake.nodes).every(initialised))
      assert.deepStrictEqual(yield* fake.leases, [])
      assert.isNull(running.unsafePoll())
      const exit = yield* Fiber.interrupt(running)
      assert.isTrue(Exit.isInterrupted(exit), Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded")
    }))
})
