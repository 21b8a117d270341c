/**
 * The run wiring in-process on virtual time (runVirtual), with simulated backends: FakeKubernetes with Nodes
 * registered as kubelet does (DemoCluster) and the CloudStack simulator behind the real client.
 * Proves that `cloudstack-ccm run` takes the Lease, runs the cloud-node controller under it (the
 * Nodes get initialised) and releases the Lease when interrupted.
 */
import { Cause, Context, Duration, Effect, Either, Exit, Fiber, Layer, Option, Random } from "effect"
import { assert, describe, it } from "vitest"
import { programWith } from "../../src/cli/RunCommand.js"
import { parse } from "../../src/cli/RunFlags.js"
import * as CloudStackClient from "../../src/cloudstack/CloudStackClient.js"
import { listVirtualMachines } from "../../src/cloudstack/commands/VirtualMachines.js"
import { CloudConfig } from "../../src/config/CloudConfig.js"
import * as CloudConfigFile from "../../src/config/CloudConfigFile.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as DemoCluster from "../../src/simulation/DemoCluster.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { pass, runScoped } from "../fakes/Virtual.js"

const flagsOf = (tokens: ReadonlyArray<string>) => {
  const parsed = parse(tokens)
  if (Either.isLeft(parsed)) throw new Error(parsed.left.message)
  return parsed.right.flags
}

/** FakeKubernetes + the simulator, a client for kubelet's part, and three registered Nodes. */
const world = Effect.gen(function*() {
  const kube = yield* Layer.build(FakeKubernetes.layer())
  const cloud = yield* Layer.build(Simulator.layer(demoWorld, { seed: 7 }))
  const config = yield* CloudConfigFile.fromString(
    "[Global]\napi-url = http://127.0.0.1:1/client/api\napi-key = demo-admin-api-key\nsecret-key = demo-admin-secret-key\n"
  )
  const client = yield* Layer.build(CloudStackClient.layer.pipe(
    Layer.provide(Simulator.layerTransport),
    Layer.provide(Layer.mergeAll(Layer.succeedContext(cloud), Layer.succeed(CloudConfig, config), Metrics.layer))
  ))
  const asKubelet = <A, E>(effect: Effect.Effect<A, E, CloudStackClient.CloudStackClient | NodeApi>) =>
    effect.pipe(Effect.provide(Layer.merge(Layer.succeedContext(client), Layer.succeedContext(kube))))
  // kubelet's part: three Nodes registered with the uninitialized taint. Which running VMs become
  // Nodes is drawn from Random: seeded, as an unseeded draw put all three on the shared network now
  // and then (1 in 25), where no LB can be built (the --controllers=* test then saw no address).
  const registered = yield* asKubelet(DemoCluster.setup({ nodes: 3 })).pipe(Effect.withRandom(Random.make(7)))
  /** Registers one more Node, for a running VM that has none yet. */
  const registerSpare = asKubelet(Effect.gen(function*() {
    const vms = yield* (yield* CloudStackClient.CloudStackClient).list(listVirtualMachines, {
      state: "Running",
      details: ["min", "nics"]
    })
    const vm = vms.find((v) => !registered.some((r) => r.vm.id === v.id))
    if (vm === undefined) return assert.fail("the demo world has no spare running VM")
    return yield* (yield* NodeApi).create(DemoCluster.nodeFor(vm, 3, "cluster.example"))
  }))
  const start = (tokens: ReadonlyArray<string>) =>
    Effect.fork(programWith(flagsOf(["--cloud-config=/unused", "--secure-port=0", ...tokens]), Option.some(config), {
      kubernetes: Layer.succeedContext(kube),
      cloudStackTransport: Simulator.layerTransport.pipe(Layer.provide(Layer.succeedContext(cloud)))
    }))
  const kubectl = <A, E>(effect: Effect.Effect<A, E, ServiceApi>) =>
    effect.pipe(Effect.provide(Layer.succeedContext(kube)))
  return { fake: Context.get(kube, FakeKubernetes.FakeKubernetes), kubectl, registered, registerSpare, start }
})

/** Lets the run go on for `seconds` of virtual time. */
const advance = (seconds: number) => pass(Duration.seconds(seconds))

const initialised = (node: { readonly spec: { readonly providerID: string } } | undefined) =>
  /^external-cloudstack:\/\/[0-9a-f-]{36}$/.test(node?.spec.providerID ?? "")

describe("RunCommand.programWith (in-process, simulated backends)", () => {
  it("takes the Lease, initialises the Nodes through the cloud-node controller, releases the Lease on interruption", () =>
    Effect.gen(function*() {
      const { fake, registered, registerSpare, start } = yield* world
      assert.strictEqual(registered.length, 3)
      const running = yield* start(["--controllers=cloud-node"])
      yield* advance(30)

      const lease = (yield* fake.leases).find((l) => l.name === "cloud-controller-manager")
      assert.match(lease?.spec.holderIdentity ?? "", /_[0-9a-f-]{36}$/)
      const nodes = yield* fake.nodes
      assert.strictEqual(nodes.length, 3)
      for (const node of nodes) {
        assert.isTrue(initialised(node), node.metadata.name)
        assert.isFalse(node.spec.taints.some((t) => t.key === "node.cloudprovider.kubernetes.io/uninitialized"))
      }

      // The controller keeps running after its first round: a Node joining later is initialised too.
      const spare = yield* registerSpare
      yield* advance(10)
      assert.isTrue(initialised((yield* fake.nodes).find((n) => n.metadata.name === spare.metadata.name)))

      yield* Fiber.interrupt(running)
      const released = (yield* fake.leases).find((l) => l.name === "cloud-controller-manager")
      assert.isUndefined(released?.spec.holderIdentity)
    }).pipe(runScoped))

  it("--controllers=* runs the service controller: a LoadBalancer Service gets an IP in its status", () =>
    Effect.gen(function*() {
      const { fake, kubectl, start } = yield* world
      const running = yield* start(["--controllers=*"])
      yield* advance(20)
      assert.isTrue((yield* fake.nodes).every(initialised))
      yield* kubectl(
        Effect.flatMap(
          ServiceApi,
          (api) =>
            api.create({ namespace: "default", name: "web", type: "LoadBalancer", ports: [{ name: "http", port: 80 }] })
        )
      )
      // Half-second steps until the status has an address (at most a virtual minute).
      const web = yield* fake.services.pipe(
        Effect.map((all) => all.find((s) => s.metadata.name === "web")),
        Effect.tap(() => advance(0.5)),
        Effect.repeat({ until: (s) => (s?.status.loadBalancer.ingress.length ?? 0) > 0, times: 120 })
      )
      assert.match(web?.status.loadBalancer.ingress[0]?.ip ?? "", /^203\.0\.113\.\d+$/)
      assert.deepStrictEqual(web?.metadata.finalizers, ["service.kubernetes.io/load-balancer-cleanup"])
      yield* Fiber.interrupt(running)
    }).pipe(runScoped))

  it("when Lease renewals fail, the run ends with LeadershipLostError and the controllers stop working", () =>
    Effect.gen(function*() {
      const { fake, registerSpare, start } = yield* world
      const running = yield* start(["--controllers=cloud-node,cloud-node-lifecycle"])
      yield* advance(30)
      assert.isTrue((yield* fake.nodes).every(initialised))

      yield* fake.failNext({ verb: "update", resource: "leases", reason: "Unavailable", times: 1_000 })
      yield* advance(15)
      const ended = yield* Fiber.poll(running)
      if (Option.isNone(ended)) return assert.fail("the run still goes on 15 s after renewals began to fail")
      const exit = ended.value
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.strictEqual(Option.getOrUndefined(Cause.failureOption(exit.cause))?._tag, "LeadershipLostError")
      }

      const spare = yield* registerSpare
      yield* advance(30)
      assert.isFalse(
        initialised((yield* fake.nodes).find((n) => n.metadata.name === spare.metadata.name)),
        "no controller may act after the loss"
      )
    }).pipe(runScoped))
})
