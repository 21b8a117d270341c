/**
 * The service controller after a restart (a new image, a failover): Services are listed before the
 * Nodes, but no LB may be ensured against an empty node cache, which would take every member off
 * the existing rules until the Nodes arrive (the k8s service controller waits for both caches too).
 */
import { Deferred, Effect, Exit, Scope, Stream } from "effect"
import { assert, describe, it } from "vitest"
import * as Informer from "../../src/kubernetes/Informer.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import { pass, runScoped } from "../fakes/Virtual.js"
import { counters, createService, env, registerNodes, rulesOf, startController } from "./ServiceScenariosEnv.js"

/** The Node informer of a process whose first Node list has not arrived yet: empty and unsynced until `gate`. */
const unsyncedUntil = (gate: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const real = yield* Informer.make("nodes", yield* NodeApi)
    const after = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.zipRight(Deferred.await(gate), effect)
    const informer: Informer.Informer<NodeView> = {
      ...real,
      get: (key) => Effect.flatMap(Deferred.isDone(gate), (open) => (open ? real.get(key) : Effect.succeedNone)),
      list: Effect.flatMap(Deferred.isDone(gate), (open) => (open ? real.list : Effect.succeed([]))),
      awaitSynced: after(real.awaitSynced),
      isSynced: Effect.flatMap(Deferred.isDone(gate), (open) => (open ? real.isSynced : Effect.succeed(false))),
      changes: Stream.unwrap(after(Effect.succeed(real.changes))),
      subscribe: after(real.subscribe)
    }
    return informer
  })

const membersChanged = Effect.map(
  counters,
  (c) => (c.get("assignToLoadBalancerRule") ?? 0) + (c.get("removeFromLoadBalancerRule") ?? 0)
)

describe("service controller restart", () => {
  it("Services listed before the Nodes: existing LBs keep their members until the node cache is synced", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      const first = yield* Scope.make()
      yield* Scope.extend(startController(), first)
      const web = yield* createService({ name: "web" })
      yield* pass("3 seconds")
      assert.strictEqual((yield* rulesOf(web.metadata.uid))[0]?.members.size, 2)
      yield* Scope.close(first, Exit.void)

      // The new process: its Service informer syncs, its Node informer has not listed yet.
      const gate = yield* Deferred.make<void>()
      const nodes = yield* unsyncedUntil(gate)
      const mark = yield* membersChanged
      yield* startController({ nodeInformer: Effect.succeed(nodes) })
      yield* pass("3 seconds")
      assert.strictEqual(
        (yield* rulesOf(web.metadata.uid))[0]?.members.size,
        2,
        "members kept while the Nodes are unknown"
      )
      yield* Deferred.succeed(gate, undefined)
      yield* pass("3 seconds")
      assert.strictEqual((yield* rulesOf(web.metadata.uid))[0]?.members.size, 2)
      assert.strictEqual((yield* membersChanged) - mark, 0, "no member taken off and put back")
    }).pipe(Effect.provide(env()), runScoped))
})
