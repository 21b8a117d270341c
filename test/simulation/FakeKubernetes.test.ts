import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Option, Stream, TestClock } from "effect"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
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

  // The 1.20 apiserver of the contract suite has no spec.loadBalancerClass (1.21+), so this is the
  // fake's own test of the 1.24+ rules (validateLoadBalancerClassField, dropTypeDependentFields).
  it.effect("sets loadBalancerClass only with a change to LoadBalancer, keeps it immutable, drops it when the type leaves", () =>
    Effect.gen(function*() {
      const services = yield* ServiceApi
      const reason = <A>(
        e: Either.Either<A, { readonly reason: string }>
      ) => (Either.isLeft(e) ? e.left.reason : "success")
      yield* services.create({
        namespace: "default",
        name: "c",
        type: "LoadBalancer",
        loadBalancerClass: "example.com/a",
        ports: [{ port: 80 }]
      })
      assert.strictEqual(
        reason(yield* Effect.either(services.update("default", "c", { loadBalancerClass: "example.com/b" }))),
        "Invalid"
      )
      const same = yield* services.update("default", "c", { loadBalancerClass: "example.com/a" })
      assert.strictEqual(same.spec.loadBalancerClass, "example.com/a")
      const clusterIp = yield* services.update("default", "c", { type: "ClusterIP" })
      assert.isUndefined(clusterIp.spec.loadBalancerClass)
      assert.strictEqual(
        reason(yield* Effect.either(services.update("default", "c", { loadBalancerClass: "example.com/b" }))),
        "Invalid"
      )
      const back = yield* services.update("default", "c", { type: "LoadBalancer", loadBalancerClass: "example.com/b" })
      assert.strictEqual(back.spec.loadBalancerClass, "example.com/b")
      const plain = yield* services.update("default", "c", { type: "ClusterIP" })
      const lb = yield* services.update("default", "c", { type: "LoadBalancer" })
      assert.deepStrictEqual([plain.spec.loadBalancerClass, lb.spec.loadBalancerClass], [undefined, undefined])
    }).pipe(Effect.provide(FakeKubernetes.layer())))

  it.effect("hands out one increasing resourceVersion across resources, and none for no-op writes", () =>
    Effect.gen(function*() {
      const nodes = yield* NodeApi
      const services = yield* ServiceApi
      const node = yield* nodes.create({ name: "n" })
      const service = yield* services.create({
        namespace: "default",
        name: "s",
        type: "ClusterIP",
        ports: [{ port: 80 }]
      })
      assert.strictEqual(Number(service.metadata.resourceVersion), Number(node.metadata.resourceVersion) + 1)
      const same = yield* nodes.update({ name: "n", resourceVersion: node.metadata.resourceVersion, labels: {} })
      assert.strictEqual(same.metadata.resourceVersion, node.metadata.resourceVersion)
      assert.strictEqual(service.spec.ports[0]?.nodePort, 0)
    }).pipe(Effect.provide(FakeKubernetes.layer())))

  // The chaos suite's ClusterIP -> LoadBalancer changes kept node port 0 (the server allocates them),
  // so those Services looked like allocateLoadBalancerNodePorts: false ones.
  it.effect("a type change to NodePort or LoadBalancer allocates node ports; back to ClusterIP drops them", () =>
    Effect.gen(function*() {
      const services = yield* ServiceApi
      yield* services.create({
        namespace: "default",
        name: "s",
        type: "ClusterIP",
        ports: [{ port: 80 }, { port: 443 }]
      })
      const lb = yield* services.update("default", "s", { type: "LoadBalancer" })
      const allocated = lb.spec.ports.map((p) => p.nodePort)
      assert.isTrue(allocated.every((n) => n > 0) && new Set(allocated).size === 2, JSON.stringify(allocated))
      assert.deepStrictEqual(
        (yield* services.update("default", "s", { type: "NodePort" })).spec.ports.map((p) => p.nodePort),
        allocated,
        "kept"
      )
      assert.deepStrictEqual(
        (yield* services.update("default", "s", { type: "ClusterIP" })).spec.ports.map((p) => p.nodePort),
        [0, 0]
      )
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

  it.effect("setNodeReady: kubelet's condition with heartbeats, then kube-controller-manager's not-ready taints", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const nodes = yield* NodeApi
      const created = yield* nodes.create({
        name: "n",
        taints: [{ key: "node.cloudprovider.kubernetes.io/uninitialized", value: "true", effect: "NoSchedule" }]
      })
      const taintKeys = (n: { readonly spec: { readonly taints: ReadonlyArray<{ readonly key: string }> } }) =>
        n.spec.taints.map((t) => t.key)
      // Admission taints a new Node not-ready until kubelet reports.
      assert.deepStrictEqual(taintKeys(created), [
        "node.cloudprovider.kubernetes.io/uninitialized",
        "node.kubernetes.io/not-ready"
      ])
      yield* TestClock.adjust("10 seconds")
      const ready = yield* fake.setNodeReady("n", "True")
      assert.deepStrictEqual(ready.status.conditions.map((c) => [c.type, c.status]), [["Ready", "True"]])
      assert.deepStrictEqual(reported(ready), {
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        lastHeartbeatTime: "1970-01-01T00:00:10Z",
        lastTransitionTime: "1970-01-01T00:00:10Z"
      })
      assert.deepStrictEqual(taintKeys(ready), ["node.cloudprovider.kubernetes.io/uninitialized"])
      // Two writes: the status (spec untouched), then the taint.
      const events = yield* nodes.watch(created.metadata.resourceVersion).pipe(Stream.take(2), Stream.runCollect)
      const [status, taint] = Chunk.toReadonlyArray(events)
      assert.isTrue(status?._tag === "Modified" && sameTaints(status.object.spec.taints, created.spec.taints))
      assert.isTrue(status?._tag === "Modified" && reported(status.object)?.status === "True")
      assert.isTrue(
        taint?._tag === "Modified" && taint.object.metadata.resourceVersion === ready.metadata.resourceVersion
      )
      // A later heartbeat keeps the transition time; no taint change, so one write.
      yield* TestClock.adjust("10 seconds")
      const again = yield* fake.setNodeReady("n", "True")
      assert.strictEqual(Number(again.metadata.resourceVersion), Number(ready.metadata.resourceVersion) + 1)
      assert.strictEqual(reported(again)?.lastHeartbeatTime, "1970-01-01T00:00:20Z")
      assert.strictEqual(reported(again)?.lastTransitionTime, "1970-01-01T00:00:10Z")
      // Heartbeats stop: Unknown keeps the last heartbeat and taints unreachable; False taints not-ready.
      yield* TestClock.adjust("40 seconds")
      const lost = yield* fake.setNodeReady("n", "Unknown")
      assert.strictEqual(reported(lost)?.lastHeartbeatTime, "1970-01-01T00:00:20Z")
      assert.strictEqual(reported(lost)?.lastTransitionTime, "1970-01-01T00:01:00Z")
      assert.deepStrictEqual(taintKeys(lost), [
        "node.cloudprovider.kubernetes.io/uninitialized",
        "node.kubernetes.io/unreachable"
      ])
      const notReady = yield* fake.setNodeReady("n", "False")
      assert.deepStrictEqual(taintKeys(notReady), [
        "node.cloudprovider.kubernetes.io/uninitialized",
        "node.kubernetes.io/not-ready"
      ])
      assert.strictEqual(notReady.status.conditions.length, 1)
      const absent = yield* Effect.either(fake.setNodeReady("absent", "True"))
      assert.isTrue(Either.isLeft(absent) && absent.left.reason === "NotFound")
    }).pipe(Effect.provide(FakeKubernetes.layer())))
})

const reported = (node: NodeView) => Option.getOrUndefined(FakeKubernetes.reportedReady(node))
const sameTaints = (a: ReadonlyArray<unknown>, b: ReadonlyArray<unknown>) => JSON.stringify(a) === JSON.stringify(b)
