/**
 * An ensure or a member update in flight keeps what it needs of the VM lookups (the network, the
 * member ids), never the lookups themselves: those hold the whole VM listing, and a round waiting on
 * its cloud calls would keep a listing alive that the next listing replaced (two listings of every
 * VM in memory at once, the process's peak). Member listings (whole VMs, a page of them megabytes
 * before it is cut to ids) share one page of VMs in flight, whatever the number of workers asking.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import type { NodeRef } from "../../../src/provider/InstanceLookup.js"
import { Instances } from "../../../src/provider/Instances.js"
import { layer as lbLayer, type LbSnapshot, LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import type * as Ownership from "../../../src/provider/loadbalancer/Ownership.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { collectGarbage } from "../../fakes/Garbage.js"
import { cloudLayer } from "../../simulation/NodeScenariosEnv.js"
import { annotationStore, countersNow, env, nodesFor, request, service, someOrFail } from "./LbTestEnv.js"

/**
 * A weak reference to the VM the current listing has for `nodes[0]`. Only the reference leaves this
 * effect: the answer itself (a map holding the listing) is not kept by the caller.
 */
const weakVmOf = (nodes: ReadonlyArray<NodeRef>) =>
  Effect.flatMap(
    Instances,
    (instances) =>
      Effect.flatMap(instances.resolve(nodes, { maxAge: "10 minutes" }), (lookups) => {
        const lookup = lookups.get(nodes[0]?.name ?? "")
        return lookup?._tag === "Found" ? Effect.succeed(new WeakRef(lookup.vm)) : Effect.dieMessage("no VM")
      })
  )

/** Lists the VMs afresh (as the node controller's address round does), replacing the cached listing. */
const relist = (instances: Instances["Type"], nodes: ReadonlyArray<NodeRef>) => Effect.asVoid(instances.resolve(nodes))

describe("LoadBalancers and the VM listing", () => {
  it.effect("an ensure waiting on its cloud calls does not keep a replaced listing alive", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const instances = yield* Instances
      const nodes = yield* nodesFor("node-1", "node-2")
      const old = yield* weakVmOf(nodes)
      const store = yield* annotationStore()
      const alive: Array<boolean> = []
      // The IP's record is written mid-ensure, after the members were worked out and before they are assigned.
      const persist = (o: Ownership.Ownership) =>
        Effect.zipRight(
          store.persist(o),
          relist(instances, nodes).pipe(
            Effect.zipRight(collectGarbage),
            Effect.zipRight(Effect.sync(() => void alive.push(old.deref() !== undefined)))
          )
        )
      const result = yield* lbs.ensure({ ...(yield* request(service(), nodes, store, true)), persist })
      assert.isTrue(Option.isSome(result.address))
      assert.isTrue(alive.length > 0)
      assert.deepStrictEqual(alive, alive.map(() => false))
    }).pipe(Effect.provide(env())))

  it.effect("a member update waiting on its job does not keep a replaced listing alive", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const instances = yield* Instances
      const sim = yield* CloudStackSimulator
      const one = yield* nodesFor("node-1")
      const result = yield* lbs.ensure(yield* request(service(), one, yield* annotationStore(), true))
      const snapshot = yield* someOrFail(result.snapshot, "a snapshot")
      const two = yield* nodesFor("node-2", "node-1")
      const old = yield* weakVmOf(two)
      // The assignment of node-2 waits on its job (the clock does not move): the update is suspended.
      yield* sim.setFaults({ jobDuration: "1 minute" })
      const assigned = (yield* countersNow).get("assignToLoadBalancerRule") ?? 0
      const update = yield* Effect.fork(lbs.updateMembers(snapshot, two))
      for (
        let turn = 0;
        turn < 10_000 && ((yield* countersNow).get("assignToLoadBalancerRule") ?? 0) === assigned;
        turn++
      ) {
        yield* Effect.yieldNow()
      }
      assert.strictEqual((yield* countersNow).get("assignToLoadBalancerRule"), assigned + 1)
      yield* relist(instances, two)
      yield* collectGarbage
      assert.isUndefined(old.deref())
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual((yield* Fiber.join(update)).added, 1)
    }).pipe(Effect.provide(env())))

  it.effect("member listings of a small cluster are read all at once", () => {
    const reads = { now: 0, max: 0, total: 0 }
    // The client LoadBalancers sees, counting the member listings in flight.
    const counting = Layer.effect(
      CloudStackClient,
      Effect.map(CloudStackClient, (cs) => ({
        ...cs,
        list: (command, params) =>
          command.name !== "listLoadBalancerRuleInstances" ? cs.list(command, params) : Effect.sync(() => {
            reads.now++
            reads.total++
            reads.max = Math.max(reads.max, reads.now)
          }).pipe(Effect.zipRight(cs.list(command, params)), Effect.ensuring(Effect.sync(() => void reads.now--)))
      }))
    )
    const layer = lbLayer().pipe(Layer.provide(counting), Layer.provideMerge(cloudLayer()))
    return Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const sim = yield* CloudStackSimulator
      const one = yield* nodesFor("node-1")
      const snapshots: Array<LbSnapshot> = []
      for (let i = 0; i < 10; i++) {
        const result = yield* lbs.ensure(yield* request(service(), one, yield* annotationStore(), true))
        snapshots.push(yield* someOrFail(result.snapshot, "a snapshot"))
      }
      const two = yield* nodesFor("node-2", "node-1")
      // Every call takes a second of the clock: the updates' member listings overlap unless held back.
      yield* sim.setFaults({ latency: "1 second" })
      const before = reads.total
      reads.max = 0
      const updates = yield* Effect.forEach(snapshots, (s) => Effect.fork(lbs.updateMembers(s, two)))
      for (let second = 0; second < 60 && reads.total - before < 10; second++) yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 minute")
      yield* Effect.forEach(updates, Fiber.join)
      assert.strictEqual(reads.total - before, 10)
      // Two nodes: each listing may answer two members, all ten fit in a page (the bound: Reads.test).
      assert.strictEqual(reads.max, 10)
    }).pipe(Effect.provide(layer))
  })
})
