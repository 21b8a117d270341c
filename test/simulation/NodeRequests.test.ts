/**
 * What the node controllers ask of the API server besides the informer's list and watch: the
 * Kubernetes requests per Node initialisation (the Go CCM's three: update, addresses, Synced Event)
 * and that no sync waits for an Event to be written.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, FiberRef, Layer, Ref } from "effect"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { stopVirtualMachine } from "../../src/cloudstack/commands/VirtualMachines.js"
import * as NodeController from "../../src/controllers/NodeController.js"
import * as NodeLifecycleController from "../../src/controllers/NodeLifecycleController.js"
import { TAINT_SHUTDOWN, TAINT_UNINITIALIZED } from "../../src/controllers/NodePlan.js"
import { EventApi } from "../../src/kubernetes/EventApi.js"
import * as Informer from "../../src/kubernetes/Informer.js"
import { listPageObserver, NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import * as DemoCluster from "../../src/simulation/DemoCluster.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { pass, runScoped } from "../fakes/Virtual.js"
import { bigWorld, cloudLayer } from "./NodeScenariosEnv.js"

type Requests = Ref.Ref<ReadonlyArray<string>>

/**
 * The fake API server's NodeApi and EventApi with every request but list and watch written down
 * ("verb resource"); `eventGate`, when given, holds every Event write until it is opened.
 */
const recording = (requests: Requests, eventGate?: Deferred.Deferred<void>) => {
  const note = (request: string) => Ref.update(requests, (all) => [...all, request])
  const nodes = Layer.effect(
    NodeApi,
    Effect.map(NodeApi, (api) =>
      NodeApi.of({
        ...api,
        get: (name) => Effect.zipRight(note("get nodes"), api.get(name)),
        update: (update) => Effect.zipRight(note("patch nodes"), api.update(update)),
        patchStatusAddresses: (name, addresses) =>
          Effect.zipRight(note("patch nodes/status"), api.patchStatusAddresses(name, addresses)),
        delete: (name, uid) => Effect.zipRight(note("delete nodes"), api.delete(name, uid))
      }))
  )
  const held = <A, E>(write: Effect.Effect<A, E>) =>
    eventGate === undefined ? write : Effect.zipRight(Deferred.await(eventGate), write)
  const events = Layer.effect(
    EventApi,
    Effect.map(EventApi, (api) =>
      EventApi.of({
        ...api,
        create: (event) => held(Effect.zipRight(note("create events"), api.create(event))),
        bump: (namespace, name, count, at) =>
          held(Effect.zipRight(note("patch events"), api.bump(namespace, name, count, at)))
      }))
  )
  return Layer.mergeAll(nodes, events).pipe(Layer.provideMerge(FakeKubernetes.layer()))
}

const env = (requests: Requests, eventGate?: Deferred.Deferred<void>) =>
  Layer.merge(cloudLayer({ world: bigWorld(40) }), recording(requests, eventGate))

const taintedNodes = Effect.flatMap(FakeKubernetes.FakeKubernetes, (k) => k.nodes).pipe(
  Effect.map((nodes) => nodes.filter((n) => n.spec.taints.some((t) => t.key === TAINT_UNINITIALIZED)).length)
)

describe("node controllers: Kubernetes requests", () => {
  it("initialising a Node takes 3 requests: the update from the informer's copy, the addresses, the Synced Event; no read", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        yield* DemoCluster.setup({ nodes: 30 })
        yield* Ref.set(requests, [])
        const controller = yield* NodeController.make({ workers: 4, drainTimeout: 0 })
        yield* controller.run
        yield* pass("3 seconds")
        assert.strictEqual(yield* taintedNodes, 0)
        const made = yield* Ref.get(requests)
        const count = (request: string) => made.filter((r) => r === request).length
        assert.strictEqual(count("patch nodes"), 30)
        assert.strictEqual(count("patch nodes/status"), 30)
        assert.strictEqual(count("create events"), 30)
        assert.strictEqual(count("get nodes"), 0)
        assert.strictEqual(made.length, 90, made.join(", "))
      }).pipe(Effect.provide(env(requests)))
    }).pipe(runScoped))

  it("Nodes joining within a minute share one VM listing (a long initialisation does not list every VM every 10 s)", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const api = yield* NodeApi
        const sim = yield* CloudStackSimulator
        const listings = Effect.map(sim.counters, (c) => c.get("listVirtualMachines") ?? 0)
        const taints = [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }]
        const controller = yield* NodeController.make({ workers: 1, drainTimeout: 0 })
        yield* controller.run
        yield* api.create({ name: "big-1", taints })
        yield* pass("1 second")
        const first = yield* listings
        for (const [i, wait] of [[2, "20 seconds"], [3, "25 seconds"]] as const) {
          yield* pass(wait)
          yield* api.create({ name: `big-${i}`, taints })
          yield* pass("1 second")
        }
        assert.strictEqual(yield* taintedNodes, 0)
        assert.strictEqual(yield* listings, first, "the listing of 48 s ago still answers")
        yield* pass("15 seconds")
        yield* api.create({ name: "big-4", taints })
        yield* pass("1 second")
        assert.strictEqual((yield* listings) - first, 1, "older than a minute: listed afresh")
      }).pipe(Effect.provide(env(requests)))
    }).pipe(runScoped))

  it("the VM listing starts at the first page of the Node list that shows an uninitialised Node, and the initialisations reuse it", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<string>>([])
      const rest = yield* Deferred.make<void>()
      // The Node list in two pages, as the API server's: the first page at once, the rest once `rest` opens.
      const paged = Layer.effect(
        NodeApi,
        Effect.map(NodeApi, (api) =>
          NodeApi.of({
            ...api,
            list: Effect.gen(function*() {
              const onPage = yield* FiberRef.get(listPageObserver)
              const all = yield* Effect.locally(api.list, listPageObserver, () => Effect.void)
              yield* onPage(all.items.slice(0, 1))
              yield* Deferred.await(rest)
              yield* onPage(all.items.slice(1))
              return all
            })
          }))
      )
      yield* Effect.gen(function*() {
        const sim = yield* CloudStackSimulator
        const listings = Effect.map(sim.counters, (c) => c.get("listVirtualMachines") ?? 0)
        yield* DemoCluster.setup({ nodes: 3 })
        const before = yield* listings
        const controller = yield* NodeController.make({ workers: 1, drainTimeout: 0 })
        yield* controller.run
        yield* pass("500 millis")
        assert.strictEqual((yield* listings) - before, 1, "listed while the rest of the Node list is outstanding")
        assert.strictEqual(yield* taintedNodes, 3)
        yield* Deferred.succeed(rest, undefined)
        yield* pass("2 seconds")
        assert.strictEqual(yield* taintedNodes, 0)
        assert.strictEqual((yield* listings) - before, 1, "the three initialisations reused it")
      }).pipe(Effect.provide(paged.pipe(Layer.provideMerge(env(requests)))))
    }).pipe(runScoped))

  it("a sync never waits for its Event: Nodes are initialised while the Events API does not answer", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<string>>([])
      const gate = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        yield* DemoCluster.setup({ nodes: 10 })
        const controller = yield* NodeController.make({ workers: 1, drainTimeout: 0 })
        yield* controller.run
        yield* pass("3 seconds")
        assert.strictEqual(yield* taintedNodes, 0)
        assert.strictEqual((yield* Effect.flatMap(FakeKubernetes.FakeKubernetes, (k) => k.events)).length, 0)
        yield* Deferred.succeed(gate, undefined)
        yield* pass("500 millis")
        const synced = (yield* Effect.flatMap(FakeKubernetes.FakeKubernetes, (k) => k.events)).filter((e) =>
          e.reason === "Synced"
        )
        assert.strictEqual(synced.length, 10)
      }).pipe(Effect.provide(env(requests, gate)))
    }).pipe(runScoped))

  it("a Conflict costs one read: the Node is read from the API server only then", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const fake = yield* FakeKubernetes.FakeKubernetes
        yield* DemoCluster.setup({ nodes: 1 })
        yield* Ref.set(requests, [])
        yield* fake.failNext({ verb: "patch", resource: "nodes", reason: "Conflict", times: 1 })
        const controller = yield* NodeController.make({ workers: 1, drainTimeout: 0 })
        yield* controller.run
        yield* pass("2 seconds")
        assert.strictEqual(yield* taintedNodes, 0)
        assert.deepStrictEqual(yield* Ref.get(requests), [
          "patch nodes",
          "get nodes",
          "patch nodes",
          "patch nodes/status",
          "create events"
        ])
      }).pipe(Effect.provide(env(requests)))
    }).pipe(runScoped))

  it("a quiet lifecycle round reads no Node: only NotReady or shutdown-tainted Nodes are looked at", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const fake = yield* FakeKubernetes.FakeKubernetes
        const registered = yield* DemoCluster.setup({ nodes: 20 })
        for (const { node } of registered) yield* fake.setNodeReady(node, "True")
        const reads = yield* Ref.make({ lists: 0, gets: 0 })
        const informer = yield* Informer.make("nodes", yield* NodeApi)
        const counted: Informer.Informer<NodeView> = {
          ...informer,
          list: Effect.zipRight(Ref.update(reads, (r) => ({ ...r, lists: r.lists + 1 })), informer.list),
          get: (key) => Effect.zipRight(Ref.update(reads, (r) => ({ ...r, gets: r.gets + 1 })), informer.get(key))
        }
        const lifecycle = yield* NodeLifecycleController.make({
          monitorPeriod: "1 second",
          informer: Effect.succeed(counted)
        })
        yield* Effect.forkScoped(lifecycle.run)
        yield* pass("30 seconds")
        assert.deepStrictEqual(yield* Ref.get(reads), { lists: 0, gets: 0 }, "30 rounds over 20 Ready Nodes")
        // One Node turns NotReady: from then on each round reads that one Node.
        const [down] = registered
        yield* fake.setNodeReady(down!.node, "Unknown")
        yield* pass("5 seconds")
        const after = yield* Ref.get(reads)
        assert.strictEqual(after.lists, 0)
        assert.isAtLeast(after.gets, 3)
        assert.isAtMost(after.gets, 6)
      }).pipe(Effect.provide(env(requests)))
    }).pipe(runScoped))

  it("the lifecycle monitor taints from the informer's copy: one request per change, none per quiet round", () =>
    Effect.gen(function*() {
      const requests = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const fake = yield* FakeKubernetes.FakeKubernetes
        const client = yield* CloudStackClient
        const registered = yield* DemoCluster.setup({ nodes: 3 })
        for (const { node } of registered) yield* fake.setNodeReady(node, "True")
        const controller = yield* NodeController.make({ workers: 1, drainTimeout: 0 })
        yield* controller.run
        yield* pass("2 seconds")
        const lifecycle = yield* NodeLifecycleController.make({ monitorPeriod: "1 second" })
        yield* Effect.forkScoped(lifecycle.run)
        yield* Ref.set(requests, [])
        yield* pass("30 seconds")
        assert.deepStrictEqual(yield* Ref.get(requests), [], "quiet rounds ask nothing")
        const [stopped] = registered
        yield* client.run(stopVirtualMachine, { id: stopped!.vm.id })
        yield* fake.setNodeReady(stopped!.node, "Unknown")
        yield* pass("10 seconds")
        const node = (yield* fake.nodes).find((n) => n.metadata.name === stopped!.node)
        assert.isTrue(node?.spec.taints.some((t) => t.key === TAINT_SHUTDOWN))
        assert.deepStrictEqual(yield* Ref.get(requests), ["patch nodes"])
      }).pipe(Effect.provide(env(requests)))
    }).pipe(runScoped))
})
