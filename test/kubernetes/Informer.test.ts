import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Option, Ref, Schedule, Stream } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import * as Informer from "../../src/kubernetes/Informer.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import { WatchEvent } from "../../src/kubernetes/WatchEvent.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { pass, runScoped, settled } from "../fakes/Virtual.js"

/** NodeApi's list/watch, counting lists; `watchTake` ends each watch after that many events. */
const counting = (watchTake?: number) =>
  Effect.gen(function*() {
    const nodes = yield* NodeApi
    const lists = yield* Ref.make(0)
    const source: Informer.ListWatch<NodeView> = {
      list: Effect.zipRight(Ref.update(lists, (n) => n + 1), nodes.list),
      watch: (rv) => watchTake === undefined ? nodes.watch(rv) : Stream.take(nodes.watch(rv), watchTake)
    }
    return { nodes, lists, source }
  })

const names = (objects: ReadonlyArray<NodeView>) => objects.map((n) => n.metadata.name).sort()

/** An informer over Nodes `names`, synced: the fake's NodeApi and the informer. */
const syncedOver = (...names: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { nodes, source } = yield* counting()
    for (const name of names) yield* nodes.create({ name })
    const informer = yield* Informer.make("nodes", source, { backoff })
    yield* informer.awaitSynced
    return { nodes, informer }
  })

const withFake = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, FakeKubernetes.layer())

const backoff = Schedule.exponential("1 second")

describe("Informer", () => {
  it("relists after 410 Gone, only once the backoff elapsed, and reports what changed meanwhile", () =>
    runScoped(withFake(Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const { lists, nodes, source } = yield* counting()
      yield* nodes.create({ name: "n1" })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      const changes = yield* informer.subscribe
      const collected = yield* changes.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      assert.strictEqual(yield* Ref.get(lists), 1)
      yield* settled // the informer's watch is open

      yield* fake.expireWatches
      yield* settled
      const n2 = yield* nodes.create({ name: "n2" })
      const n1 = yield* Effect.flatMap(
        nodes.get("n1"),
        Option.match({ onNone: () => Effect.dieMessage("n1"), onSome: Effect.succeed })
      )
      yield* nodes.delete("n1", n1.metadata.uid)
      yield* settled
      // The watch is gone and no relist happened yet: the cache still shows the old world.
      assert.deepStrictEqual(names(yield* informer.list), ["n1"])

      yield* pass("999 millis")
      assert.strictEqual(yield* Ref.get(lists), 1)
      yield* pass("1 millis")
      assert.strictEqual(yield* Ref.get(lists), 2)
      assert.deepStrictEqual(names(yield* informer.list), ["n2"])
      // Resumes from the relist's snapshot, which is at least the last write before it.
      assert.isAtLeast(Number(yield* informer.resourceVersion), Number(n2.metadata.resourceVersion))

      // After the relist the new watch works again.
      yield* nodes.create({ name: "n3" })
      yield* settled
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(
        seen.map((c) => `${c._tag} ${c.object.metadata.name}`).sort(),
        ["Added n1", "Added n2", "Deleted n1"].sort()
      )
      assert.deepStrictEqual(names(yield* informer.list), ["n2", "n3"])
    }))))

  it("backs off exponentially while listing fails, then syncs", () =>
    runScoped(withFake(Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const { lists, source } = yield* counting()
      yield* fake.failNext({ verb: "list", resource: "nodes", reason: "Unavailable", times: 2 })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* settled
      assert.strictEqual(yield* Ref.get(lists), 1)
      assert.isFalse(yield* informer.isSynced)
      yield* pass("1 second")
      assert.strictEqual(yield* Ref.get(lists), 2)
      yield* pass("1999 millis")
      assert.strictEqual(yield* Ref.get(lists), 2)
      assert.isFalse(yield* informer.isSynced)
      yield* pass("1 millis")
      assert.strictEqual(yield* Ref.get(lists), 3)
      assert.isTrue(yield* informer.isSynced)
    }))))

  it("relists after a broken connection too", () =>
    runScoped(withFake(Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const { lists, nodes, source } = yield* counting()
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      yield* settled // the informer's watch is open
      yield* fake.breakWatches
      yield* settled
      yield* nodes.create({ name: "missed" })
      yield* pass("1 second")
      assert.strictEqual(yield* Ref.get(lists), 2)
      assert.deepStrictEqual(names(yield* informer.list), ["missed"])
    }))))

  it("resumes a watch the server ended from the last version seen, without relisting", () =>
    runScoped(withFake(Effect.gen(function*() {
      const { lists, nodes, source } = yield* counting(1)
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      // Each watch ends after one event; nothing may be lost between watches.
      yield* nodes.create({ name: "a" })
      yield* nodes.create({ name: "b" })
      yield* nodes.create({ name: "c" })
      yield* settled
      assert.deepStrictEqual(names(yield* informer.list), ["a", "b", "c"])
      assert.strictEqual(yield* Ref.get(lists), 1)
    }))))

  it("keeps what `keep` makes of each listed and watched object: in the cache and in the changes", () =>
    runScoped(withFake(Effect.gen(function*() {
      const { nodes, source } = yield* counting()
      yield* nodes.create({ name: "n1", labels: { a: "1", b: "2" } })
      const keep = (node: NodeView): NodeView => ({
        ...node,
        metadata: { ...node.metadata, labels: node.metadata.labels["a"] === undefined ? {} : { a: "kept" } }
      })
      const informer = yield* Informer.make("nodes", source, { backoff, keep })
      yield* informer.awaitSynced
      const changes = yield* informer.subscribe
      const collected = yield* changes.pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      yield* settled
      yield* nodes.create({ name: "n2", labels: { b: "3" } })
      yield* settled
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(seen.map((c) => [c.object.metadata.name, c.object.metadata.labels]), [
        ["n1", { a: "kept" }],
        ["n2", {}]
      ])
      assert.deepStrictEqual(
        (yield* informer.list).map((n) => [n.metadata.name, n.metadata.labels]).sort(),
        [["n1", { a: "kept" }], ["n2", {}]]
      )
      // reads through the API still answer the whole object
      assert.deepStrictEqual(
        Option.map(yield* nodes.get("n1"), (n) => n.metadata.labels),
        Option.some({ a: "1", b: "2" })
      )
    }))))

  it("lists the same array while the cache is unchanged, a new one after a change", () =>
    runScoped(withFake(Effect.gen(function*() {
      const { informer, nodes } = yield* syncedOver("n1")
      const first = yield* informer.list
      assert.strictEqual(yield* informer.list, first)
      yield* nodes.create({ name: "n2" })
      yield* settled
      const second = yield* informer.list
      assert.notStrictEqual(second, first)
      assert.deepStrictEqual(names(second), ["n1", "n2"])
      assert.deepStrictEqual(names(first), ["n1"])
      assert.strictEqual(yield* informer.list, second)
    }))))

  it("replays cached objects to a late subscriber as Added", () =>
    runScoped(withFake(Effect.gen(function*() {
      const { informer } = yield* syncedOver("x", "y")
      const first = yield* informer.changes.pipe(Stream.take(2), Stream.runCollect)
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(first).map((c) => `${c._tag} ${c.object.metadata.name}`).sort(),
        ["Added x", "Added y"]
      )
      assert.isTrue(Option.isSome(yield* informer.get("x")))
    }))))

  it("a subscriber sees the cache as it was when it subscribed, then each later change once", () =>
    runScoped(withFake(Effect.gen(function*() {
      const { informer, nodes } = yield* syncedOver("x")
      yield* settled
      const stream = yield* informer.subscribe
      // changes after the subscription, before its stream is read
      yield* nodes.create({ name: "y" })
      const x = yield* Effect.flatMap(
        nodes.get("x"),
        (n) => Effect.orDie(Option.match(n, { onNone: () => Effect.dieMessage("x"), onSome: Effect.succeed }))
      )
      yield* nodes.delete("x", x.metadata.uid)
      yield* settled
      const seen = yield* stream.pipe(Stream.take(3), Stream.runCollect)
      assert.deepStrictEqual(Chunk.toReadonlyArray(seen).map((c) => `${c._tag} ${c.object.metadata.name}`), [
        "Added x",
        "Added y",
        "Deleted x"
      ])
    }))))

  it.scoped("moves its resourceVersion forward on bookmarks", () =>
    Effect.gen(function*() {
      const watched = yield* Ref.make<ReadonlyArray<string>>([])
      const source: Informer.ListWatch<NodeView> = {
        list: Effect.succeed({ items: [], resourceVersion: "10" }),
        watch: (rv) =>
          Stream.concat(
            Stream.fromEffect(Ref.update(watched, (all) => [...all, rv])).pipe(Stream.drain),
            Stream.make(WatchEvent.Bookmark({ resourceVersion: "42" }))
          )
      }
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      // Each watch ends at once and the next starts (never settled): wait for the second watch. The
      // bound only makes a broken informer fail fast; the assertions below judge what it did.
      yield* Effect.zipRight(Effect.yieldNow(), Ref.get(watched)).pipe(
        Effect.repeat({ until: (all) => all.length >= 2, times: 10_000 })
      )
      assert.strictEqual(yield* informer.resourceVersion, "42")
      // The second watch resumed from the bookmark, not from the list.
      assert.deepStrictEqual((yield* Ref.get(watched)).slice(0, 2), ["10", "42"])
    }))

  it("stops watching when its scope closes", () =>
    runScoped(
      Effect.gen(function*() {
        const { nodes, source } = yield* counting()
        const informer = yield* Effect.scoped(
          Effect.tap(Informer.make("nodes", source, { backoff }), (i) => i.awaitSynced)
        )
        yield* nodes.create({ name: "after-close" })
        yield* settled
        assert.deepStrictEqual(names(yield* informer.list), [])
      }).pipe(Effect.provide(Layer.fresh(FakeKubernetes.layer())))
    ))
  it.live("does not keep the listed page while it watches (only the cache holds the objects)", () =>
    Effect.scoped(withFake(Effect.gen(function*() {
      setFlagsFromString("--expose-gc")
      const gc: unknown = runInNewContext("gc")
      if (typeof gc !== "function") return assert.fail("no gc")
      const { nodes } = yield* counting()
      for (let i = 0; i < 20; i++) yield* nodes.create({ name: `n${i}` })
      const pages: Array<WeakRef<ReadonlyArray<NodeView>>> = []
      const watching = yield* Deferred.make<void>()
      const source: Informer.ListWatch<NodeView> = {
        list: Effect.map(nodes.list, (listed) => {
          const items = [...listed.items]
          pages.push(new WeakRef(items))
          return { items, resourceVersion: listed.resourceVersion }
        }),
        watch: (rv) =>
          Stream.concat(Stream.fromEffect(Deferred.succeed(watching, undefined)).pipe(Stream.drain), nodes.watch(rv))
      }
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* Deferred.await(watching)
      // A WeakRef's target lives at least until the current job ends.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
      gc()
      assert.strictEqual(pages.length, 1)
      assert.isUndefined(pages[0]?.deref(), "the listed page is garbage once in the cache")
      assert.strictEqual((yield* informer.list).length, 20)
    }))))
})
