/**
 * `cloudstack-ccm simulate` (= `npm start`): the REAL controllers against the in-memory CloudStack
 * simulator (demo world) and FakeKubernetes, on the real clock with short periods. A seeded demo
 * cluster joins tainted, its kubelets report Ready and it is initialised; one VM stops (NotReady:
 * shutdown taint) and starts again (Ready: taint removed), one is destroyed (NotReady: Node
 * deleted); then LoadBalancer Services (SimulateServices). Progress is printed as it happens.
 */
import { Command, Options } from "@effect/cli"
import {
  Console,
  type Context,
  Deferred,
  Duration,
  Effect,
  HashMap,
  Layer,
  Logger,
  LogLevel,
  Option,
  Random,
  Ref,
  Stream
} from "effect"
import * as CloudStackClient from "../cloudstack/CloudStackClient.js"
import type { CloudStackTransport } from "../cloudstack/CloudStackTransport.js"
import {
  destroyVirtualMachine,
  startVirtualMachine,
  stopVirtualMachine
} from "../cloudstack/commands/VirtualMachines.js"
import { CloudConfig } from "../config/CloudConfig.js"
import { TAINT_SHUTDOWN, TAINT_UNINITIALIZED } from "../controllers/NodePlan.js"
import type * as KubernetesLive from "../kubernetes/KubernetesLive.js"
import { NodeApi } from "../kubernetes/NodeApi.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import { WatchEvent } from "../kubernetes/WatchEvent.js"
import * as Metrics from "../metrics/Metrics.js"
import * as Instances from "../provider/Instances.js"
import * as LoadBalancers from "../provider/loadbalancer/LoadBalancers.js"
import type { ProviderName } from "../provider/ProviderId.js"
import * as Ccm from "../runtime/Ccm.js"
import { CloudStackSimulator } from "../simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../simulation/cloudstack/Simulator.js"
import type { World } from "../simulation/cloudstack/World.js"
import * as DemoCluster from "../simulation/DemoCluster.js"
import * as FakeKubernetes from "../simulation/FakeKubernetes.js"
import * as NodeTable from "../simulation/NodeTable.js"
import { defaultAccountKeys, simulatedCloudConfig } from "../simulation/SimulatedCloudConfig.js"
import * as CliOptions from "./CliOptions.js"
import { SimulationStepError, story as serviceStory, waitFor } from "./SimulateServices.js"

export { SimulationStepError }

export interface SimulateOptions {
  readonly seed: number
  readonly nodes: number
  readonly duration: Duration.Duration
  readonly providerName: ProviderName
  readonly verbose: boolean
  /** Where progress and the final report go (default: stdout through Console). */
  readonly output?: ((text: string) => Effect.Effect<void>) | undefined
}

/** The simulated cloud and cluster: simulator (demo world by default), typed client, Instances, LoadBalancers, FakeKubernetes. */
export const layer = (
  options: Pick<SimulateOptions, "seed" | "providerName"> & { readonly world?: World | undefined }
) => {
  const world = options.world ?? demoWorld
  // Signs as the world's default account: the in-memory transport acts as the configured key's account.
  const config = Layer.succeed(CloudConfig, simulatedCloudConfig(defaultAccountKeys(world)))
  const simulator = Simulator.layerWithTransport(world, { seed: options.seed }).pipe(Layer.provideMerge(config))
  const base = Layer.mergeAll(simulator, Metrics.layer)
  const client = CloudStackClient.layer.pipe(Layer.provideMerge(base))
  const cloud = LoadBalancers.layer().pipe(
    Layer.provideMerge(Instances.layer(options.providerName)),
    Layer.provideMerge(client)
  )
  return Layer.merge(cloud, FakeKubernetes.layer())
}

/** The simulated cluster and cloud of `layer`, as the CCM's backends (no access reviews: always-allow paths only). */
const simulatedBackends = (
  context: Context.Context<KubernetesLive.KubernetesServices | CloudStackTransport>
): Ccm.Backends<never, never> => ({
  kubernetes: Layer.succeedContext(context),
  cloudStackTransport: Layer.succeedContext(context)
})

/** Prints one line per notable Node change, stamped with the time since the start; `listed` once it watches. */
const progress = (started: number, print: (text: string) => Effect.Effect<void>, listed: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const nodes = yield* NodeApi
    const seen = yield* Ref.make(HashMap.empty<string, NodeView>())
    const say = (name: string, text: string) =>
      Effect.flatMap(
        Effect.clockWith((c) => c.currentTimeMillis),
        (now) => print(`[${((now - started) / 1000).toFixed(1).padStart(5)}s] ${name.padEnd(28)} ${text}`)
      )
    const onChange = (node: NodeView) =>
      Effect.gen(function*() {
        const before = HashMap.get(yield* Ref.get(seen), node.metadata.name)
        yield* Ref.update(seen, HashMap.set(node.metadata.name, node))
        for (const line of NodeTable.describeChange(Option.getOrUndefined(before), node)) {
          yield* say(node.metadata.name, line)
        }
      })
    const snapshot = yield* nodes.list
    yield* Effect.forEach(snapshot.items, onChange, { discard: true })
    // The watch replays everything after the snapshot: from here on no change goes unprinted.
    yield* Deferred.succeed(listed, undefined)
    yield* nodes.watch(snapshot.resourceVersion).pipe(
      Stream.runForEach(WatchEvent.$match({
        Added: ({ object }) => onChange(object),
        Modified: ({ object }) => onChange(object),
        Deleted: ({ object }) =>
          Ref.update(seen, HashMap.remove(object.metadata.name)).pipe(
            Effect.zipRight(say(object.metadata.name, "deleted: its VM no longer exists"))
          ),
        Bookmark: () => Effect.void
      }))
    )
    return { say }
  })

/** The demo scenario; its layers come from `layer`. */
export const simulate = (options: SimulateOptions) =>
  Effect.gen(function*() {
    const print = options.output ?? ((text: string) => Console.log(text))
    const started = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const nodes = yield* NodeApi
    const fake = yield* FakeKubernetes.FakeKubernetes
    const client = yield* CloudStackClient.CloudStackClient
    const simulator = yield* CloudStackSimulator
    const note = (text: string) =>
      Effect.flatMap(Effect.clockWith((c) => c.currentTimeMillis), (now) =>
        print(`[${((now - started) / 1000).toFixed(1).padStart(5)}s] ${"--".padEnd(28)} ${text}`))

    yield* print(
      `cloudstack-ccm simulate: ${options.nodes} nodes, seed ${options.seed}, provider ${options.providerName}; ` +
        "real controllers, simulated CloudStack (demo world) and Kubernetes\n"
    )
    const printing = yield* Deferred.make<void>()
    yield* Effect.forkScoped(Effect.catchAll(progress(started, print, printing), (e) =>
      Effect.logWarning("progress printer stopped", e).pipe(Effect.zipRight(Deferred.succeed(printing, undefined)))))
    yield* Deferred.await(printing)

    // The CCM as the run command starts it (Ccm), on the simulated worlds, with short periods.
    yield* Layer.build(Ccm.layer({
      cloudConfig: Option.some(yield* CloudConfig),
      backends: simulatedBackends(yield* Effect.context<KubernetesLive.KubernetesServices | CloudStackTransport>()),
      settings: {
        cloudProvider: options.providerName,
        leaderElection: { ...Ccm.defaults.leaderElection, enabled: false },
        securePort: 0,
        concurrentNodeSyncs: 4,
        nodeStatusUpdateFrequency: Duration.seconds(3),
        initListingMaxAge: "2 seconds",
        nodeMonitorPeriod: Duration.seconds(1),
        concurrentServiceSyncs: 2,
        nodeSyncDelay: "200 millis"
      }
    }))

    yield* note("kubelets register their Nodes")
    const registered = yield* DemoCluster.setup({ nodes: options.nodes }).pipe(
      Effect.withRandom(Random.make(options.seed))
    )
    // As a real kubelet, each reports Ready right after registering (uninitialised or not).
    yield* Effect.forEach(registered, ({ node }) =>
      fake.setNodeReady(node, "True"), { discard: true })
    const allInitialised = Effect.map(fake.nodes, (ns) =>
      ns.every((n) =>
        !n.spec.taints.some((t) =>
          t.key === TAINT_UNINITIALIZED
        )
      ))
    yield* waitFor("every node initialised", allInitialised, "20 seconds")

    const [stopped, destroyed] = [registered[1], registered[2]]
    if (stopped !== undefined) {
      const shutdownTainted = (present: boolean) =>
        Effect.map(nodes.get(stopped.node), (n) =>
          Option.exists(n, (node) =>
            node.spec.taints.some((t) => t.key === TAINT_SHUTDOWN) === present))
      yield* note(`CloudStack: stopping VM ${stopped.vm.name}; its kubelet stops posting status`)
      yield* client.run(stopVirtualMachine, { id: stopped.vm.id })
      // kube-controller-manager's verdict once heartbeats stop (after 40s in a real cluster).
      yield* fake.setNodeReady(stopped.node, "Unknown")
      yield* waitFor(`shutdown taint on ${stopped.node}`, shutdownTainted(true), "20 seconds")
      yield* note(`CloudStack: starting VM ${stopped.vm.name} again; its kubelet resumes posting status`)
      yield* client.run(startVirtualMachine, { id: stopped.vm.id })
      yield* fake.setNodeReady(stopped.node, "True")
      yield* waitFor(`shutdown taint off ${stopped.node}`, shutdownTainted(false), "20 seconds")
    }
    if (destroyed !== undefined) {
      yield* note(`CloudStack: destroying VM ${destroyed.vm.name} (expunge); its kubelet is gone`)
      yield* client.run(destroyVirtualMachine, { id: destroyed.vm.id, expunge: true })
      yield* fake.setNodeReady(destroyed.node, "Unknown")
      const gone = Effect.map(nodes.get(destroyed.node), Option.isNone)
      yield* waitFor(`deletion of ${destroyed.node}`, gone, "20 seconds")
    }
    yield* serviceStory(note)
    const elapsed = (yield* Effect.clockWith((c) =>
      c.currentTimeMillis
    )) - started
    const rest = Duration.toMillis(options.duration) - elapsed
    if (rest > 0) {
      yield* note(
        `controllers keep running for ${(rest / 1000).toFixed(1)}s more (address sync every 3s, monitor every 1s)`
      )
      yield* Effect.sleep(Duration.millis(rest))
    }

    const counters = yield* simulator.counters
    const calls = [...counters.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, n]) => `${c} ${n}`).join(", ")
    yield* print(`\nNodes after ${((yield* Effect.clockWith((c) => c.currentTimeMillis)) - started) / 1000}s:\n`)
    yield* print(NodeTable.nodesTable(yield* fake.nodes))
    const events = yield* fake.events
    const byReason = new Map<string, number>()
    // In the order they first happened: the store's iteration order depends on the generated names.
    const chronological = [...events].sort((a, b) =>
      (a.firstTimestamp ?? "").localeCompare(b.firstTimestamp ?? "") || a.metadata.name.localeCompare(b.metadata.name)
    )
    for (const e of chronological) byReason.set(e.reason, (byReason.get(e.reason) ?? 0) + e.count)
    yield* print(`\nEvents: ${[...byReason.entries()].map(([r, n]) => `${r} ${n}`).join(", ") || "none"}`)
    yield* print(`CloudStack API calls: ${calls}`)
  }).pipe(
    Effect.scoped,
    Effect.provide(layer(options)),
    options.verbose ? (e) => e : Logger.withMinimumLogLevel(LogLevel.Warning)
  )

const seed = CliOptions.integer("seed", CliOptions.anyInteger).pipe(
  Options.withDefault(1),
  Options.withDescription("seed of the simulated cloud's ids and of which VMs become nodes")
)
const nodes = CliOptions.integer("nodes", { min: 1, max: 5000 }).pipe(
  Options.withDefault(8),
  Options.withDescription("cluster size, 1..5000; VMs beyond the demo world's are deployed through the simulated API")
)
const duration = CliOptions.integer("duration", { min: 0, max: 86400 }).pipe(
  Options.withDefault(6),
  Options.withDescription("seconds the whole simulation runs at least, 0..86400 (controllers use short periods)")
)
const provider = Options.choice("cloud-provider", ["external-cloudstack", "cloudstack"]).pipe(
  Options.withDefault("external-cloudstack" as const),
  Options.withDescription("provider name: decides the providerID format written to Nodes")
)
const verbose = Options.boolean("verbose").pipe(
  Options.withDescription("also print the controllers' info logs (stderr)")
)

export const command = Command.make(
  "simulate",
  { seed, nodes, duration, provider, verbose },
  (o) =>
    simulate({
      seed: o.seed,
      nodes: o.nodes,
      duration: Duration.seconds(o.duration),
      providerName: o.provider,
      verbose: o.verbose
    })
).pipe(Command.withDescription("Run the node controllers against a simulated CloudStack and Kubernetes (npm start)"))
