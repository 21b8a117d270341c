import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"

const tags = (events: Chunk.Chunk<{ readonly _tag: string }>) => Chunk.toReadonlyArray(events).map((e) => e._tag)

describe("FakeKubernetes", () => {
  it.effect("replays watch events from a past resourceVersion, within the retained history", () =>
    Effect.gen(function*() {
      const nodes = yield* NodeApi
      const start = yield* nodes.list
      const a = yield* nodes.create({ name: "a" })
      yield* nodes.update({ name: "a", resourceVersion: a.metadata.resourceVersion, labels: { x: "1" } })
      yield* nodes.create({ name: "b" })
      yield* nodes.create({ name: "c" })
      const fromStart = yield* nodes.watch(start.resourceVersion).pipe(Stream.take(4), Stream.runCollect)
      assert.deepStrictEqual(tags(fromStart), ["Added", "Modified", "Added", "Added"])
      // Only four events are retained: one more makes the list's version too old.
      yield* nodes.create({ name: "d" })
      const tooOld = yield* Effect.either(nodes.watch(start.resourceVersion).pipe(Stream.take(1), Stream.runDrain))
      assert.isTrue(Either.isLeft(tooOld) && tooOld.left.reason === "Gone" && tooOld.left.status === 410)
      const fromA = yield* nodes.watch(a.metadata.resourceVersion).pipe(Stream.take(4), Stream.runCollect)
      assert.deepStrictEqual(tags(fromA), ["Modified", "Added", "Added", "Added"])
    }).pipe(Effect.provide(FakeKubernetes.layer({ historyLimit: 4 }))))

  it.effect("hands out one increasing resourceVersion across resources, and none for no-op writes", () =>
    Effect.gen(function*() {
      const nodes = yield* NodeApi
      const services = yield* ServiceApi
      const node = yield* nodes.create({ name: "n" })
      const service = yield* services.create({ namespace: "default", name: "s", type: "ClusterIP", ports: [{ port: 80 }] })
      assert.strictEqual(Number(service.metadata.resourceVersion), Number(node.metadata.resourceVersion) + 1)
      const same = yield* nodes.update({ name: "n", resourceVersion: node.metadata.resourceVersion, labels: {} })
      assert.strictEqual(same.metadata.resourceVersion, node.metadata.resourceVersion)
      assert.strictEqual(service.spec.ports[0]?.nodePort, 0)
    }).pipe(Effect.provide(FakeKubernetes.layer())))

  it.effect("injects failures for the next calls only", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const nodes = yield* NodeApi
      yield* fake.failNext({ verb: "create", resource: "nodes", reason: "Unavailable", times: 2 })
      const first = yield* Effect.either(nodes.create({ name: "n" }))
      const second = yield* Effect.either(nodes.create({ name: "n" }))
      assert.isTrue(Either.isLeft(first) && first.left.reason === "Unavailable" && first.left.status === 503)
      assert.isTrue(Either.isLeft(second))
      assert.strictEqual((yield* nodes.create({ name: "n" })).metadata.name, "n")
      assert.deepStrictEqual((yield* fake.nodes).map((n) => n.metadata.name), ["n"])
    }).pipe(Effect.provide(FakeKubernetes.layer())))
})
