/**
 * The composition root as a library user calls it: `Ccm.layer` / `Ccm.run` with settings over the
 * defaults and simulated backends (FakeKubernetes, the CloudStack simulator), on the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Layer, Option, Ref, Scope, TestClock } from "effect"
import { execFileSync } from "node:child_process"
import { closeSync, constants, mkdtempSync, openSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as CloudStackClient from "../../src/cloudstack/CloudStackClient.js"
import { CloudConfig } from "../../src/config/CloudConfig.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as Ccm from "../../src/runtime/Ccm.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as DemoCluster from "../../src/simulation/DemoCluster.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { simulatedCloudConfig } from "../../src/simulation/SimulatedCloudConfig.js"
import { freePort } from "../fakes/Ports.js"

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

  it.scoped("run: the controllers do not wait for the secure port to start (its TLS files unreadable so far)", () =>
    Effect.gen(function*() {
      const { backends, fake } = yield* worlds
      // A FIFO nobody writes yet: reading it waits, as a slow certificate would (made at start, ~0.3 s).
      const fifo = join(mkdtempSync(join(tmpdir(), "ccm-fifo-")), "tls")
      execFileSync("mkfifo", [fifo])
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          // Lets the blocked reads end (a writer opens and closes: end of file).
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK))
        }).pipe(Effect.ignore)
      )
      const port = yield* Effect.promise(freePort)
      const running = yield* Effect.fork(Ccm.run({
        cloudConfig: Option.some(config),
        backends,
        settings: {
          leaderElection: { ...Ccm.defaults.leaderElection, enabled: false },
          securePort: port,
          bindAddress: "127.0.0.1",
          tlsCertFile: Option.some(fifo),
          tlsPrivateKeyFile: Option.some(fifo)
        }
      }))
      yield* advance(30)
      assert.isTrue((yield* fake.nodes).every(initialised))
      assert.isNull(running.unsafePoll())
      yield* Fiber.interrupt(running)
    }))

  it.scoped("run: the node controller initialises Nodes while the Service informer's list has not answered", () =>
    Effect.gen(function*() {
      const { backends, fake } = yield* worlds
      const servicesListed = yield* Ref.make(false)
      // The API server's Service list never answers: the service controller's informer never syncs.
      const stuck = Layer.effect(
        ServiceApi,
        Effect.map(
          ServiceApi,
          (api) => ServiceApi.of({ ...api, list: Effect.zipRight(Ref.set(servicesListed, true), Effect.never) })
        )
      ).pipe(Layer.provideMerge(backends.kubernetes))
      const running = yield* Effect.fork(Ccm.run({
        cloudConfig: Option.some(config),
        backends: { ...backends, kubernetes: stuck },
        settings: { leaderElection: { ...Ccm.defaults.leaderElection, enabled: false }, securePort: 0 }
      }))
      yield* advance(30)
      assert.isTrue(yield* Ref.get(servicesListed), "the service controller asked")
      assert.isTrue((yield* fake.nodes).every(initialised))
      yield* Fiber.interrupt(running)
    }))

  it.scoped("run: a secure port that cannot start ends the run with its error", () =>
    Effect.gen(function*() {
      const { backends } = yield* worlds
      const exit = yield* Ccm.run({
        cloudConfig: Option.some(config),
        backends,
        settings: {
          leaderElection: { ...Ccm.defaults.leaderElection, enabled: false },
          securePort: 1,
          bindAddress: "127.0.0.1",
          tlsCertFile: Option.some("/nonexistent/tls.crt"),
          tlsPrivateKeyFile: Option.some("/nonexistent/tls.key")
        }
      }).pipe(Effect.exit)
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(error) && error.value._tag === "HealthServerError", String(exit))
    }))
})
