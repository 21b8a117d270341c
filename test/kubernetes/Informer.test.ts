import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Option, Ref, Schedule, Stream, TestClock } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import * as Informer from "../../src/kubernetes/Informer.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import { WatchEvent } from "../../src/kubernetes/WatchEvent.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"

/** Lets forked fibers (the informer loop) run to their next suspension. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

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

const withFake = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, FakeKubernetes.layer())

const backoff = Schedule.exponential("1 second")

describe("Informer", () => {
  it.scoped("relists after 410 Gone, only once the backoff elapsed, and reports what changed meanwhile", () =>
    withFake(Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const { lists, nodes, source } = yield* counting()
      yield* nodes.create({ name: "n1" })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      const changes = yield* informer.subscribe
      const collected = yield* changes.pipe(Stream.take(3), Stream.runCollect, Effect.fork)
      assert.strictEqual(yield* Ref.get(lists), 1)
      yield* settle // the informer's watch is open

      yield* fake.expireWatches
      yield* settle
      const n2 = yield* nodes.create({ name: "n2" })
      const n1 = yield* Effect.flatMap(
        nodes.get("n1"),
        Option.match({ onNone: () => Effect.dieMessage("n1"), onSome: Effect.succeed })
      )
      yield* nodes.delete("n1", n1.metadata.uid)
      yield* settle
      // The watch is gone and no relist happened yet: the cache still shows the old world.
      assert.deepStrictEqual(names(yield* informer.list), ["n1"])

      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.strictEqual(yield* Ref.get(lists), 1)
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.strictEqual(yield* Ref.get(lists), 2)
      assert.deepStrictEqual(names(yield* informer.list), ["n2"])
      // Resumes from the relist's snapshot, which is at least the last write before it.
      assert.isAtLeast(Number(yield* informer.resourceVersion), Number(n2.metadata.resourceVersion))

      // After the relist the new watch works again.
      yield* nodes.create({ name: "n3" })
      yield* settle
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(collected))
      assert.deepStrictEqual(
        seen.map((c) => `${c._tag} ${c.object.metadata.name}`).sort(),
        ["Added n1", "Added n2", "Deleted n1"].sort()
      )
      assert.deepStrictEqual(names(yield* informer.list), ["n2", "n3"])
    })))

  it.scoped("backs off exponentially while listing fails, then syncs", () =>
    withFake(Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const { lists, source } = yield* counting()
      yield* fake.failNext({ verb: "list", resource: "nodes", reason: "Unavailable", times: 2 })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* settle
      assert.strictEqual(yield* Ref.get(lists), 1)
      assert.isFalse(yield* informer.isSynced)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(yield* Ref.get(lists), 2)
      yield* TestClock.adjust("1999 millis")
      yield* settle
      assert.strictEqual(yield* Ref.get(lists), 2)
      assert.isFalse(yield* informer.isSynced)
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.strictEqual(yield* Ref.get(lists), 3)
      assert.isTrue(yield* informer.isSynced)
    })))

  it.scoped("relists after a broken connection too", () =>
    withFake(Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const { lists, nodes, source } = yield* counting()
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      yield* settle // the informer's watch is open
      yield* fake.breakWatches
      yield* settle
      yield* nodes.create({ name: "missed" })
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(yield* Ref.get(lists), 2)
      assert.deepStrictEqual(names(yield* informer.list), ["missed"])
    })))

  it.scoped("resumes a watch the server ended from the last version seen, without relisting", () =>
    withFake(Effect.gen(function*() {
      const { lists, nodes, source } = yield* counting(1)
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      // Each watch ends after one event; nothing may be lost between watches.
      yield* nodes.create({ name: "a" })
      yield* nodes.create({ name: "b" })
      yield* nodes.create({ name: "c" })
      yield* settle
      assert.deepStrictEqual(names(yield* informer.list), ["a", "b", "c"])
      assert.strictEqual(yield* Ref.get(lists), 1)
    })))

  it.scoped("keeps what `keep` makes of each listed and watched object: in the cache and in the changes", () =>
    withFake(Effect.gen(function*() {
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
      yield* settle
      yield* nodes.create({ name: "n2", labels: { b: "3" } })
      yield* settle
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
    })))

  it.scoped("lists the same array while the cache is unchanged, a new one after a change", () =>
    withFake(Effect.gen(function*() {
      const { nodes, source } = yield* counting()
      yield* nodes.create({ name: "n1" })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      const first = yield* informer.list
      assert.strictEqual(yield* informer.list, first)
      yield* nodes.create({ name: "n2" })
      yield* settle
      const second = yield* informer.list
      assert.notStrictEqual(second, first)
      assert.deepStrictEqual(names(second), ["n1", "n2"])
      assert.deepStrictEqual(names(first), ["n1"])
      assert.strictEqual(yield* informer.list, second)
    })))

  it.scoped("replays cached objects to a late subscriber as Added", () =>
    withFake(Effect.gen(function*() {
      const { nodes, source } = yield* counting()
      yield* nodes.create({ name: "x" })
      yield* nodes.create({ name: "y" })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      const first = yield* informer.changes.pipe(Stream.take(2), Stream.runCollect)
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(first).map((c) => `${c._tag} ${c.object.metadata.name}`).sort(),
        ["Added x", "Added y"]
      )
      assert.isTrue(Option.isSome(yield* informer.get("x")))
    })))

  it.scoped("list answers the same array until the cache changes (what controllers key derived indexes on)", () =>
    withFake(Effect.gen(function*() {
      const { nodes, source } = yield* counting()
      yield* nodes.create({ name: "x" })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      yield* settle
      const first = yield* informer.list
      assert.strictEqual(yield* informer.list, first)
      yield* nodes.create({ name: "y" })
      yield* settle
      const second = yield* informer.list
      assert.notStrictEqual(second, first)
      assert.deepStrictEqual(names(first), ["x"])
      assert.deepStrictEqual(names(second), ["x", "y"])
      assert.strictEqual(yield* informer.list, second)
    })))

  it.scoped("a subscriber sees the cache as it was when it subscribed, then each later change once", () =>
    withFake(Effect.gen(function*() {
      const { nodes, source } = yield* counting()
      yield* nodes.create({ name: "x" })
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      yield* settle
      const stream = yield* informer.subscribe
      // changes after the subscription, before its stream is read
      yield* nodes.create({ name: "y" })
      const x = yield* Effect.flatMap(
        nodes.get("x"),
        (n) => Effect.orDie(Option.match(n, { onNone: () => Effect.dieMessage("x"), onSome: Effect.succeed }))
      )
      yield* nodes.delete("x", x.metadata.uid)
      yield* settle
      const seen = yield* stream.pipe(Stream.take(3), Stream.runCollect)
      assert.deepStrictEqual(Chunk.toReadonlyArray(seen).map((c) => `${c._tag} ${c.object.metadata.name}`), [
        "Added x",
        "Added y",
        "Deleted x"
      ])
    })))

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
      yield* settle
      assert.strictEqual(yield* informer.resourceVersion, "42")
      // The second watch resumed from the bookmark, not from the list.
      assert.deepStrictEqual((yield* Ref.get(watched)).slice(0, 2), ["10", "42"])
    }))

  it.effect("stops watching when its scope closes", () =>
    Effect.gen(function*() {
      const { nodes, source } = yield* counting()
      const informer = yield* Effect.scoped(
        Effect.tap(Informer.make("nodes", source, { backoff }), (i) => i.awaitSynced)
      )
      yield* nodes.create({ name: "after-close" })
      yield* settle
      assert.deepStrictEqual(names(yield* informer.list), [])
    }).pipe(Effect.provide(Layer.fresh(FakeKubernetes.layer()))))
  it.live("does not keep the listed page while it watches (only the cache holds the objects)", () =>
    Effect.scoped(withFake(Effect.gen(function*() {
      setFlagsFromString("--expose-gc")
      const gc: unknown = runInNewContext("gc")
      if (typeof gc !== "function") return assert.fail("no gc")
      const { nodes } = yield* counting()
      for (let i = 0; i < 20; i++) yield* nodes.create({ name: `n${i}` })
      const pages: Array<WeakRef<ReadonlyArray<NodeView>>> = []
      const source: Informer.ListWatch<NodeView> = {
        list: Effect.map(nodes.list, (listed) => {
          const items = [...listed.items]
          pages.push(new WeakRef(items))
          return { items, resourceVersion: listed.resourceVersion }
        }),
        watch: nodes.watch
      }
      const informer = yield* Informer.make("nodes", source, { backoff })
      yield* informer.awaitSynced
      yield* settle // watching now
      // A WeakRef's target lives at least until the current job ends.
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
      gc()
      assert.strictEqual(pages.length, 1)
      assert.isUndefined(pages[0]?.deref(), "the listed page is garbage once in the cache")
      assert.strictEqual((yield* informer.list).length, 20)
    }))))
})
