/**
 * A cluster with load balancers and leftovers for the orphan command tests: FakeKubernetes and the
 * CloudStack simulator (demo world), the real LoadBalancers provider ensuring LBs for Services the
 * way the service controller does (finalizer, record on the Service, status), and helpers to delete
 * a Service without cleanup and to snapshot what the account has in CloudStack.
 */
import { Context, Effect, Layer, Option } from "effect"
import * as CloudStackClient from "../../src/cloudstack/CloudStackClient.js"
import { CloudConfig, type CloudConfigShape } from "../../src/config/CloudConfig.js"
import * as NodePlan from "../../src/controllers/NodePlan.js"
import * as ServicePlan from "../../src/controllers/ServicePlan.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi, type ServiceCreate } from "../../src/kubernetes/ServiceApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as Instances from "../../src/provider/Instances.js"
import { layer as loadBalancersLayer, LoadBalancers } from "../../src/provider/loadbalancer/LoadBalancers.js"
import * as Ownership from "../../src/provider/loadbalancer/Ownership.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { cloudConfig } from "../simulation/NodeScenariosEnv.js"

/** The in-memory CloudStack client acting as the account whose keys `config` has. */
export const clientOver = (simulator: Context.Context<CloudStackSimulator>, config: CloudConfigShape) =>
  CloudStackClient.layer.pipe(
    Layer.provide(Simulator.layerTransport),
    Layer.provide(Layer.mergeAll(Layer.succeedContext(simulator), Layer.succeed(CloudConfig, config), Metrics.layer))
  )

/** The provider (for `cluster`) over the client acting as `config`'s account. */
export const providerOver = (
  simulator: Context.Context<CloudStackSimulator>,
  config: CloudConfigShape,
  cluster = "kubernetes"
) =>
  loadBalancersLayer({ clusterName: cluster }).pipe(
    Layer.provideMerge(Instances.layer("external-cloudstack")),
    Layer.provideMerge(Layer.merge(clientOver(simulator, config), Layer.succeed(CloudConfig, config)))
  )

/** FakeKubernetes, the simulator, and the admin's client and provider, all in one context. */
export const world = Effect.gen(function*() {
  const kube = yield* Layer.build(FakeKubernetes.layer())
  const simulator = yield* Layer.build(Simulator.layer(demoWorld, { seed: 7 }))
  const config = cloudConfig()
  const admin = yield* Layer.build(providerOver(simulator, config))
  /** The same account's CCM of another cluster (`--cluster-name=other`). */
  const other = yield* Layer.build(providerOver(simulator, config, "other"))
  return { kube, simulator, config, other, context: Context.merge(Context.merge(kube, simulator), admin) }
})

/**
 * Creates a LoadBalancer Service and ensures its LB as the controller would: finalizer first, the
 * record written on the Service by the provider, the address in the status.
 */
export const lbService = (input: Partial<ServiceCreate> & { readonly name: string }) =>
  Effect.gen(function*() {
    const api = yield* ServiceApi
    const lbs = yield* LoadBalancers
    yield* api.create({ namespace: "default", type: "LoadBalancer", ports: [{ name: "http", port: 80 }], ...input })
    const view = Option.getOrThrow(yield* api.setFinalizer("default", input.name, ServicePlan.FINALIZER, true))
    const nodes = (yield* (yield* NodeApi).list).items.map(NodePlan.nodeRef)
    const claims = ServicePlan.claimsOf((yield* api.list).items, ServicePlan.serviceKey(view))
    const result = yield* lbs.ensure({
      service: ServicePlan.toLbService(view),
      nodes,
      fresh: true,
      claimedElsewhere: (v) => claims.recorded.has(v),
      // the addresses the tests ask for (203.0.113.50-69) are never picked as a free one
      requestedElsewhere: (v) => claims.requested.has(v) || /^203\.0\.113\.[56]\d$/.test(v),
      associatingElsewhere: (v) => claims.associating.has(v),
      persist: (o) => Effect.asVoid(api.patchAnnotations("default", input.name, Ownership.toAnnotations(o)))
    })
    const address = Option.getOrThrow(result.address)
    yield* api.patchStatus("default", input.name, [{ ip: address, ipMode: "VIP" }])
    return { uid: view.metadata.uid, address }
  })

/** `kubectl delete` while no controller runs, then the finalizer removed by hand: the LB stays behind. */
export const deleteWithoutCleanup = (name: string) =>
  Effect.gen(function*() {
    const api = yield* ServiceApi
    yield* api.delete("default", name)
    yield* api.setFinalizer("default", name, ServicePlan.FINALIZER, false)
  })

/** The ids of everything the account has that the command could touch. */
export const inventory = Effect.map(Effect.flatMap(CloudStackSimulator, (s) => s.state), (s) => ({
  ips: s.publicIps.filter((ip) => ip.state !== "Free").map((ip) => ip.uuid).sort(),
  rules: s.lbRules.map((r) => r.uuid).sort(),
  firewall: s.firewallRules.map((f) => f.uuid).sort(),
  acl: s.aclItems.map((a) => a.uuid).sort()
}))
