import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Layer, Option, Ref, TestClock } from "effect"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import {
  deployVirtualMachine,
  destroyVirtualMachine,
  listServiceOfferings,
  listTemplates,
  listVirtualMachines,
  startVirtualMachine,
  stopVirtualMachine
} from "../../src/cloudstack/commands/VirtualMachines.js"
import * as NodeController from "../../src/controllers/NodeController.js"
import * as NodeLifecycleController from "../../src/controllers/NodeLifecycleController.js"
import { TAINT_SHUTDOWN, TAINT_UNINITIALIZED } from "../../src/controllers/NodePlan.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import { Instances } from "../../src/provider/Instances.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import * as DemoCluster from "../../src/simulation/DemoCluster.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { collectGarbage } from "../fakes/Garbage.js"
import { pass, runScoped } from "../fakes/Virtual.js"
import { bigWorld, cloudLayer, type CloudOptions } from "./NodeScenariosEnv.js"

const env = (options: CloudOptions = {}) => Layer.merge(cloudLayer(options), FakeKubernetes.layer())

const startControllers = (options: { lifecycle?: boolean } = {}) =>
  Effect.gen(function*() {
    const node = yield* NodeController.make({ statusUpdateFrequency: "5 minutes", workers: 4, drainTimeout: 0 })
    yield* node.run
    if (options.lifecycle !== false) {
      const lifecycle = yield* NodeLifecycleController.make({ monitorPeriod: "5 seconds" })
      yield* Effect.forkScoped(lifecycle.run)
    }
  })

const nodes = Effect.flatMap(FakeKubernetes.FakeKubernetes, (k) => k.nodes)
const events = Effect.flatMap(FakeKubernetes.FakeKubernetes, (k) => k.events)
const nodeNamed = (name: string) => Effect.map(nodes, (ns) => ns.find((n) => n.metadata.name === name))
const tainted = (n: NodeView | undefined, key: string) => n?.spec.taints.some((t) => t.key === key) ?? false
const callsOf = (command: string) =>
  Effect.map(Effect.flatMap(CloudStackSimulator, (s) => s.counters), (c) => c.get(command) ?? 0)

describe("node controllers on the simulator and FakeKubernetes", () => {
  it("nodes join tainted and are initialised: providerID, labels, addresses, Synced event", () =>
    Effect.gen(function*() {
      const registered = yield* DemoCluster.setup({ nodes: 6 })
      yield* startControllers({ lifecycle: false })
      yield* pass("2 seconds")
      const all = yield* nodes
      assert.strictEqual(all.length, 6)
      for (const { node, vm } of registered) {
        const n = all.find((x) => x.metadata.name === node)
        assert.isFalse(tainted(n, TAINT_UNINITIALIZED), node)
        assert.strictEqual(n?.spec.providerID, `external-cloudstack://${vm.id}`)
        assert.strictEqual(n?.metadata.labels["topology.kubernetes.io/zone"], "zone1")
        assert.strictEqual(n?.metadata.labels["failure-domain.beta.kubernetes.io/region"], "zone1")
        assert.strictEqual(n?.metadata.labels["node.kubernetes.io/instance-type"], "SmallInstance")
        assert.deepStrictEqual(n?.status.addresses.at(-1), { type: "Hostname", address: node })
        assert.isTrue(n?.status.addresses.some((a) => a.type === "InternalIP") ?? false)
      }
      // FQDN node names (every third) resolved by their short name
      assert.isTrue(registered.some(({ node }) => node.endsWith(".cluster.example")))
      const synced = (yield* events).filter((e) => e.reason === "Synced")
      assert.strictEqual(synced.length, 6)
      assert.strictEqual(synced[0]?.message, "Node synced successfully")
      assert.strictEqual(synced[0]?.source.component, "cloud-node-controller")
    }).pipe(Effect.provide(env()), runScoped))

  it("taint removal and initial sync delays are observed from each node's creationTimestamp", () =>
    Effect.gen(function*() {
      // Nodes created at t=0 (the API server stamps them); the controllers start 90 s later.
      yield* DemoCluster.setup({ nodes: 6 })
      assert.isTrue((yield* nodes).every((n) => n.metadata.creationTimestamp === "1970-01-01T00:00:00Z"))
      yield* pass("90 seconds")
      yield* startControllers({ lifecycle: false })
      yield* pass("2 seconds")
      assert.isFalse((yield* nodes).some((n) => tainted(n, TAINT_UNINITIALIZED)))
      const text = yield* Effect.flatMap(Metrics.Metrics, Metrics.render)
      const sample = (name: string) => {
        const line = text.split("\n").find((l) => l.startsWith(`cloudstack_ccm_node_controller_${name} `))
        return Number(line?.split(" ")[1])
      }
      for (const histogram of ["cloud_provider_taint_removal_delay_seconds", "initial_node_sync_delay_seconds"]) {
        assert.strictEqual(sample(`${histogram}_count`), 6, histogram)
        // Each node was initialised within the 2 s of settling after the 90 s wait: 90-92 s, bucket 256.
        const mean = sample(`${histogram}_sum`) / 6
        assert.isAtLeast(mean, 90, histogram)
        assert.isAtMost(mean, 92, histogram)
        assert.strictEqual(sample(`${histogram}_bucket{le="64"}`), 0, histogram)
        assert.strictEqual(sample(`${histogram}_bucket{le="256"}`), 6, histogram)
      }
      assert.isAtLeast(
        sample("initial_node_sync_delay_seconds_sum"),
        sample("cloud_provider_taint_removal_delay_seconds_sum")
      )
    }).pipe(Effect.provide(env()), runScoped))

  it("mixed-case VM names match lowercase and FQDN node names; IPv6 addresses reported", () =>
    Effect.gen(function*() {
      const api = yield* NodeApi
      const client = yield* CloudStackClient
      const base = (yield* client.list(listVirtualMachines, { name: "node-1" }))[0]!
      const [offering] = yield* client.list(listServiceOfferings, {})
      const [template] = yield* client.list(listTemplates, { templateFilter: "executable" })
      const mixed = yield* client.run(deployVirtualMachine, {
        serviceOfferingId: offering!.id,
        templateId: template!.id,
        zoneId: base.zoneId,
        networkIds: [base.nics[0]!.networkId],
        name: "Worker-MiXed"
      })
      const taints = [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }]
      yield* api.create({ name: "node-1", taints })
      yield* api.create({ name: "worker-mixed.k8s.example.org", taints })
      yield* startControllers({ lifecycle: false })
      yield* pass("2 seconds")
      const n = yield* nodeNamed("node-1")
      assert.deepStrictEqual(n?.status.addresses, [
        { type: "InternalIP", address: "10.1.1.11" },
        { type: "InternalIP", address: "fd00:1:1::11" }
      ])
      const w = yield* nodeNamed("worker-mixed.k8s.example.org")
      assert.strictEqual(w?.spec.providerID, `external-cloudstack://${mixed.id}`)
      assert.isFalse(tainted(w, TAINT_UNINITIALIZED))
    }).pipe(Effect.provide(env()), runScoped))

  it("an invalid provided-node-ip keeps the taint and records a Warning; a valid one orders addresses", () =>
    Effect.gen(function*() {
      const api = yield* NodeApi
      const taints = [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }]
      yield* api.create({
        name: "node-2",
        taints,
        annotations: { "alpha.kubernetes.io/provided-node-ip": "192.0.2.1" }
      })
      yield* api.create({
        name: "node-1",
        taints,
        annotations: { "alpha.kubernetes.io/provided-node-ip": "fd00:1:1::11" }
      })
      yield* startControllers({ lifecycle: false })
      yield* pass("2 seconds")
      assert.isTrue(tainted(yield* nodeNamed("node-2"), TAINT_UNINITIALIZED))
      const warning = (yield* events).find((e) => e.reason === "SyncNodeFailed")
      assert.strictEqual(warning?.type, "Warning")
      assert.include(warning?.message ?? "", "192.0.2.1")
      const n1 = yield* nodeNamed("node-1")
      assert.isFalse(tainted(n1, TAINT_UNINITIALIZED))
      assert.deepStrictEqual(n1?.status.addresses, [{ type: "InternalIP", address: "fd00:1:1::11" }])
      // retried with backoff: fixing the annotation is not needed to see the retry happen
      const before = yield* callsOf("listVirtualMachines")
      yield* pass("100 seconds")
      assert.isAbove(yield* callsOf("listVirtualMachines"), before)
      assert.isTrue(tainted(yield* nodeNamed("node-2"), TAINT_UNINITIALIZED))
    }).pipe(Effect.provide(env()), runScoped))

  it("a Conflict on update is retried after re-reading the node", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      yield* DemoCluster.setup({ nodes: 2 })
      yield* fake.failNext({ verb: "patch", resource: "nodes", reason: "Conflict", times: 2 })
      yield* startControllers({ lifecycle: false })
      yield* pass("2 seconds")
      for (const n of yield* nodes) assert.isFalse(tainted(n, TAINT_UNINITIALIZED), n.metadata.name)
      assert.strictEqual((yield* events).filter((e) => e.reason === "SyncNodeFailed").length, 0)
    }).pipe(Effect.provide(env()), runScoped))

  it("nodes registered after the watch broke or expired are still initialised (informer relist)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const api = yield* NodeApi
      const taints = [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }]
      yield* startControllers({ lifecycle: false })
      yield* pass("2 seconds")
      yield* fake.breakWatches
      yield* api.create({ name: "node-1", taints })
      yield* pass("10 seconds")
      yield* fake.expireWatches
      yield* api.create({ name: "node-2", taints })
      yield* pass("10 seconds")
      for (const name of ["node-1", "node-2"]) {
        assert.isFalse(tainted(yield* nodeNamed(name), TAINT_UNINITIALIZED), name)
      }
    }).pipe(Effect.provide(env()), runScoped))

  it("initialised nodes get GA labels mirrored from their beta twins, without cloud calls", () =>
    Effect.gen(function*() {
      const api = yield* NodeApi
      yield* api.create({
        name: "legacy",
        providerID: "external-cloudstack://x",
        labels: { "failure-domain.beta.kubernetes.io/region": "r1" }
      })
      const before = yield* callsOf("listVirtualMachines")
      yield* startControllers({ lifecycle: false })
      yield* pass("2 seconds")
      assert.strictEqual((yield* nodeNamed("legacy"))?.metadata.labels["topology.kubernetes.io/region"], "r1")
      assert.strictEqual(yield* callsOf("listVirtualMachines"), before)
    }).pipe(Effect.provide(env()), runScoped))

  it("lifecycle: a stopped VM gets the shutdown taint, a destroyed VM's node is deleted", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const [stopped, destroyed] = yield* DemoCluster.setup({ nodes: 5 })
      yield* startControllers()
      yield* pass("2 seconds")
      yield* client.run(stopVirtualMachine, { id: stopped!.vm.id })
      yield* client.run(destroyVirtualMachine, { id: destroyed!.vm.id, expunge: true })
      yield* pass("20 seconds")
      const all = yield* nodes
      assert.isTrue(tainted(all.find((n) => n.metadata.name === stopped!.node), TAINT_SHUTDOWN))
      assert.isUndefined(all.find((n) => n.metadata.name === destroyed!.node))
      assert.strictEqual(all.length, 4)
      const deleting = (yield* events).filter((e) => e.reason === "DeletingNode")
      assert.strictEqual(deleting.length, 1)
      assert.strictEqual(deleting[0]?.source.component, "cloud-node-lifecycle-controller")
    }).pipe(Effect.provide(env({ world: bigWorld(0) })), runScoped))

  it("lifecycle with kubelets: stopped VM NotReady -> shutdown taint, started again Ready -> taint removed; a Ready node is never deleted", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const fake = yield* FakeKubernetes.FakeKubernetes
      const registered = yield* DemoCluster.setup({ nodes: 4 })
      // kubelet reports Ready right after registering
      for (const { node } of registered) yield* fake.setNodeReady(node, "True")
      yield* startControllers()
      yield* pass("2 seconds")
      for (const n of yield* nodes) assert.deepStrictEqual(n.spec.taints, [], n.metadata.name)
      // Only NotReady Nodes are looked up: with every Node Ready the monitor asks CloudStack nothing.
      const listings = yield* callsOf("listVirtualMachines")
      yield* pass("20 seconds")
      assert.strictEqual(yield* callsOf("listVirtualMachines"), listings)

      const [stopped, gone] = registered
      // The stopped VM's kubelet stops posting status: kube-controller-manager marks it Unknown.
      yield* client.run(stopVirtualMachine, { id: stopped!.vm.id })
      yield* fake.setNodeReady(stopped!.node, "Unknown")
      // The destroyed VM's Node is still Ready (its heartbeats have not timed out yet).
      yield* client.run(destroyVirtualMachine, { id: gone!.vm.id, expunge: true })
      yield* pass("20 seconds")
      const down = yield* nodeNamed(stopped!.node)
      assert.isTrue(tainted(down, TAINT_SHUTDOWN))
      assert.isTrue(tainted(down, "node.kubernetes.io/unreachable"))
      assert.isDefined(yield* nodeNamed(gone!.node), "a Ready node is not deleted, whatever the cloud says")
      assert.strictEqual((yield* events).filter((e) => e.reason === "DeletingNode").length, 0)

      // Started again, kubelet reports Ready: the next monitor round removes the shutdown taint.
      yield* client.run(startVirtualMachine, { id: stopped!.vm.id })
      yield* fake.setNodeReady(stopped!.node, "True")
      yield* pass("10 seconds")
      assert.deepStrictEqual((yield* nodeNamed(stopped!.node))?.spec.taints, [])

      // Once the gone VM's Node is NotReady too, it is deleted.
      yield* fake.setNodeReady(gone!.node, "Unknown")
      yield* pass("10 seconds")
      assert.isUndefined(yield* nodeNamed(gone!.node))
      assert.strictEqual((yield* nodes).length, 3)
    }).pipe(Effect.provide(env({ world: bigWorld(0) })), runScoped))

  // On virtual time (runVirtual), as the two tests below: minutes of controller time at CPU speed.
  it("a 10-minute API outage deletes nothing; the gone VM's node goes once CloudStack answers", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const sim = yield* CloudStackSimulator
      const [gone] = yield* DemoCluster.setup({ nodes: 4 })
      const node = yield* NodeController.make({ drainTimeout: 0 })
      yield* node.run
      yield* pass("2 seconds")
      yield* client.run(destroyVirtualMachine, { id: gone!.vm.id, expunge: true })
      const now = yield* Clock.currentTimeMillis
      yield* sim.setFaults({ apiDown: Option.some({ from: now, until: now + 10 * 60_000, mode: "unavailable" }) })
      const lifecycle = yield* NodeLifecycleController.make({})
      yield* Effect.forkScoped(lifecycle.run)
      for (let minute = 0; minute < 10; minute++) {
        yield* pass("60 seconds")
        if (minute < 9) assert.strictEqual((yield* nodes).length, 4, `minute ${minute}`)
      }
      yield* pass("30 seconds")
      const names = (yield* nodes).map((n) => n.metadata.name)
      assert.strictEqual(names.length, 3)
      assert.notInclude(names, gone!.node)
    }).pipe(Effect.provide(env({ world: bigWorld(0) })), runScoped))

  it("unreachable API (transport errors) deletes nothing", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* DemoCluster.setup({ nodes: 3 })
      const now = yield* Clock.currentTimeMillis
      yield* sim.setFaults({ apiDown: Option.some({ from: now, until: now + 3_600_000, mode: "unreachable" }) })
      yield* startControllers()
      yield* pass("120 seconds")
      assert.strictEqual((yield* nodes).length, 3)
      for (const n of yield* nodes) assert.isTrue(tainted(n, TAINT_UNINITIALIZED))
    }).pipe(Effect.provide(env()), runScoped))

  it("a VM recreated under the same name: the node with the old providerID is deleted, not re-pointed", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const api = yield* NodeApi
      yield* DemoCluster.setup({ nodes: 0 })
      const old = (yield* client.list(listVirtualMachines, { name: "node-2" }))[0]!
      const oldId = old.id
      yield* api.create({ name: "node-2", providerID: `external-cloudstack://${oldId}` })
      yield* client.run(destroyVirtualMachine, { id: oldId, expunge: true })
      const [offering] = yield* client.list(listServiceOfferings, {})
      const [template] = yield* client.list(listTemplates, { templateFilter: "executable" })
      const created = yield* client.run(deployVirtualMachine, {
        serviceOfferingId: offering!.id,
        templateId: template!.id,
        zoneId: old.zoneId,
        networkIds: [old.nics[0]!.networkId],
        name: "node-2"
      })
      assert.notStrictEqual(created.id, oldId)
      yield* startControllers()
      yield* pass("20 seconds")
      assert.isUndefined(yield* nodeNamed("node-2"))
      // the kubelet re-registers: the new node is initialised against the new VM
      yield* api.create({ name: "node-2", taints: [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }] })
      yield* pass("20 seconds")
      assert.strictEqual((yield* nodeNamed("node-2"))?.spec.providerID, `external-cloudstack://${created.id}`)
    }).pipe(Effect.provide(env()), runScoped))

  it("periodic address sync: one list call per round, patches only changed addresses", () =>
    Effect.gen(function*() {
      const api = yield* NodeApi
      yield* DemoCluster.setup({ nodes: 600 })
      const node = yield* NodeController.make({ statusUpdateFrequency: "5 minutes", workers: 4, drainTimeout: 0 })
      yield* node.run
      yield* pass("3 seconds")
      for (const n of yield* nodes) assert.isFalse(tainted(n, TAINT_UNINITIALIZED), n.metadata.name)
      // drift one node's addresses by hand
      const victim = (yield* nodes)[0]!
      yield* api.patchStatusAddresses(victim.metadata.name, [
        { type: "InternalIP", address: "192.0.2.99" },
        ...victim.status.addresses.filter((a) => a.type === "Hostname")
      ])
      const before = yield* callsOf("listVirtualMachines")
      yield* pass("5 minutes")
      yield* pass("500 millis")
      assert.strictEqual((yield* callsOf("listVirtualMachines")) - before, 2)
      const repaired = yield* nodeNamed(victim.metadata.name)
      assert.deepStrictEqual(repaired?.status.addresses, victim.status.addresses)
    }).pipe(Effect.provide(env({ world: bigWorld(600) })), runScoped))

  it.scoped("the address round keeps only its changes while it writes them, not the VM listing", () =>
    Effect.gen(function*() {
      const api = yield* NodeApi
      const fake = yield* FakeKubernetes.FakeKubernetes
      const instances = yield* Instances
      const listed = yield* Ref.make(Option.none<WeakRef<object>>())
      const alive = yield* Ref.make<ReadonlyArray<boolean>>([])
      // Instances and NodeApi as the controller sees them: the first listing's VMs are watched; each
      // address write first replaces the listing (another round, elsewhere) and collects garbage.
      const watched = Instances.of({
        ...instances,
        resolve: (refs, options) =>
          Effect.tap(instances.resolve(refs, options), (lookups) => {
            const first = [...lookups.values()].find((l) => l._tag === "Found")
            return first?._tag === "Found"
              ? Ref.update(listed, (w) => Option.orElse(w, () => Option.some(new WeakRef(first.vm))))
              : Effect.void
          })
      })
      const writing = NodeApi.of({
        ...api,
        patchStatusAddresses: (name, addresses) =>
          Effect.gen(function*() {
            const refs = (yield* fake.nodes).map((n) => ({ name: n.metadata.name, providerID: n.spec.providerID }))
            yield* Effect.orDie(instances.resolve(refs))
            yield* collectGarbage
            const ref = yield* Ref.get(listed)
            yield* Ref.update(alive, (xs) => [...xs, Option.isSome(ref) && ref.value.deref() !== undefined])
            return yield* api.patchStatusAddresses(name, addresses)
          })
      })
      yield* DemoCluster.setup({ nodes: 4 })
      const node = yield* NodeController.make({ statusUpdateFrequency: "5 minutes", workers: 4, drainTimeout: 0 })
      yield* node.run
      // On the TestClock (collectGarbage waits on a real timer, which virtual time cannot): steps of
      // 100 ms until the four Nodes are initialised, their taint gone and their addresses written.
      // The bound only ends a broken run early; the assertions below judge it.
      yield* TestClock.adjust("100 millis").pipe(
        Effect.zipRight(nodes),
        Effect.repeat({
          until: (all) => all.every((n) => !tainted(n, TAINT_UNINITIALIZED) && n.status.addresses.length > 0),
          times: 100
        })
      )
      // drift two nodes' addresses by hand: the round writes them back
      for (const victim of (yield* nodes).slice(0, 2)) {
        yield* api.patchStatusAddresses(victim.metadata.name, [{ type: "InternalIP", address: "192.0.2.99" }])
      }
      const round = yield* NodeController.make({ statusUpdateFrequency: "5 minutes", drainTimeout: 0 }).pipe(
        Effect.provideService(Instances, watched),
        Effect.provideService(NodeApi, writing)
      )
      yield* round.syncAddresses.pipe(
        Effect.provideService(Instances, watched),
        Effect.provideService(NodeApi, writing)
      )
      assert.deepStrictEqual(yield* Ref.get(alive), [false, false])
      for (const n of yield* nodes) {
        assert.notDeepEqual(n.status.addresses, [{ type: "InternalIP", address: "192.0.2.99" }])
      }
    }).pipe(Effect.provide(env())))
})
