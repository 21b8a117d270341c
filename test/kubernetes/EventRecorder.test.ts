import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope, TestClock } from "effect"
import { EventApi } from "../../src/kubernetes/EventApi.js"
import * as EventRecorder from "../../src/kubernetes/EventRecorder.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import * as CapturingLogger from "../fakes/CapturingLogger.js"
import { runScoped, settled } from "../fakes/Virtual.js"

const ref = { kind: "Service", namespace: "shop", name: "web", uid: "uid-1", apiVersion: "v1" }
const env = Layer.merge(FakeKubernetes.layer(), Metrics.layer)

const dropped = (reason: string) =>
  Effect.flatMap(Metrics.Metrics, (m) => Effect.promise(() => m.eventsDropped.get())).pipe(
    Effect.map((metric) => metric.values.find((v) => v.labels["reason"] === reason)?.value ?? 0)
  )

/** The fake's EventApi, but every create waits for `gate`: an API server that does not answer yet. */
const gated = (gate: Deferred.Deferred<void>) =>
  Layer.effect(
    EventApi,
    Effect.map(EventApi, (api) =>
      EventApi.of({ ...api, create: (event) => Effect.zipRight(Deferred.await(gate), api.create(event)) }))
  )

const node = (i: number) => ({ kind: "Node", namespace: "", name: `n${i}`, uid: `u${i}` })

/**
 * A recorder with a queue of `capacity` whose API server does not answer until `gate` opens; the
 * sender has taken one Event (node 0) and waits on it, so every later one stays in the queue.
 */
const stalled = (capacity: number) =>
  Effect.gen(function*() {
    const gate = yield* Deferred.make<void>()
    const fake = yield* FakeKubernetes.FakeKubernetes
    const recorder = yield* EventRecorder.make("cloud-node-controller", { queueCapacity: capacity }).pipe(
      Effect.provide(gated(gate))
    )
    yield* recorder.record(node(0), "Normal", "Synced", "ok")
    yield* settled
    return { fake, gate, recorder }
  })

describe("EventRecorder", () => {
  it.scoped("bumps count and lastTimestamp of a repeated event instead of creating another", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no free IP")
      yield* recorder.flush
      yield* TestClock.adjust("90 seconds")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no free IP")
      yield* recorder.flush
      const events = yield* fake.events
      assert.strictEqual(events.length, 1)
      const [event] = events
      assert.strictEqual(event?.count, 2)
      assert.strictEqual(event?.metadata.namespace, "shop")
      assert.strictEqual(event?.firstTimestamp, "1970-01-01T00:00:00.000Z")
      assert.strictEqual(event?.lastTimestamp, "1970-01-01T00:01:30.000Z")
    }).pipe(Effect.provide(env)))

  it.scoped("keeps distinct events apart: another message, type or object is a new Event", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no free IP")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "quota exceeded")
      yield* recorder.record(ref, "Normal", "SyncLoadBalancerFailed", "no free IP")
      yield* recorder.record({ ...ref, name: "api", uid: "uid-2" }, "Warning", "SyncLoadBalancerFailed", "no free IP")
      yield* recorder.flush
      const events = yield* fake.events
      assert.strictEqual(events.length, 4)
      assert.isTrue(events.every((event) => event.count === 1))
    }).pipe(Effect.provide(env)))

  it.scoped("starts a new Event when the server expired the old one", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* recorder.record(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
      yield* recorder.flush
      yield* fake.failNext({ verb: "patch", resource: "events", reason: "NotFound" })
      yield* recorder.record(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
      yield* recorder.record(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
      yield* recorder.flush
      const counts = (yield* fake.events).map((event) => event.count).sort()
      // The first Event stays at 1; the new one took the later repeat.
      assert.deepStrictEqual(counts, [1, 2])
    }).pipe(Effect.provide(env)))

  it.scoped("never fails its caller when the API refuses the Event", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* fake.failNext({ verb: "create", resource: "events", reason: "Forbidden" })
      yield* recorder.record(ref, "Warning", "X", "y")
      yield* recorder.flush
      assert.strictEqual((yield* fake.events).length, 0)
      // Not remembered as written: the next repeat creates it.
      yield* recorder.record(ref, "Warning", "X", "y")
      yield* recorder.flush
      assert.deepStrictEqual((yield* fake.events).map((event) => event.count), [1])
    }).pipe(Effect.provide(env)))

  it("record returns at once while the API server has not answered; the Events follow in the background", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("cloud-node-controller").pipe(Effect.provide(gated(gate)))
      for (const name of ["n1", "n2", "n3"]) {
        yield* recorder.record(
          { kind: "Node", namespace: "", name, uid: name },
          "Normal",
          "Synced",
          "Node synced successfully"
        )
      }
      const flushed = yield* Effect.fork(recorder.flush)
      // everything that can run without an answer has run
      yield* settled
      assert.isNull(flushed.unsafePoll())
      assert.strictEqual((yield* fake.events).length, 0)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(flushed)
      assert.deepStrictEqual((yield* fake.events).map((e) => e.involvedObject.name).sort(), ["n1", "n2", "n3"])
    }).pipe(Effect.provide(env), runScoped))

  it("a full queue drops new Events and counts them; the queued ones are still written", () =>
    Effect.gen(function*() {
      // The first is taken by the sender (waiting on the API), 4 wait in the queue, 3 find it full.
      const { fake, gate, recorder } = yield* stalled(4)
      for (let i = 1; i <= 7; i++) yield* recorder.record(node(i), "Normal", "Synced", "ok")
      assert.strictEqual(yield* dropped("queue_full"), 3)
      yield* Deferred.succeed(gate, undefined)
      yield* recorder.flush
      assert.strictEqual((yield* fake.events).length, 5)
    }).pipe(Effect.provide(env), runScoped))

  it("the last tenth of the queue is kept for Warnings: Normal Events are dropped before it", () =>
    Effect.gen(function*() {
      // The first is taken by the sender; 18 Normals fill the queue up to its last tenth, 5 more drop.
      const { fake, gate, recorder } = yield* stalled(20)
      for (let i = 1; i <= 23; i++) yield* recorder.record(node(i), "Normal", "Synced", "ok")
      assert.strictEqual(yield* dropped("queue_full"), 5)
      // Warnings still find room: 2 places, then the queue is full for them too
      for (let i = 100; i < 103; i++) yield* recorder.record(node(i), "Warning", "Broken", "no VM")
      assert.strictEqual(yield* dropped("queue_full"), 6)
      yield* Deferred.succeed(gate, undefined)
      yield* recorder.flush
      const events = yield* fake.events
      assert.strictEqual(events.length, 21)
      assert.strictEqual(events.filter((e) => e.type === "Warning").length, 2)
    }).pipe(Effect.provide(env), runScoped))

  it.scoped("spam filter: 25 Events per object, then one per 5 minutes; other objects are not held back", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("cloud-node-controller")
      const node = { kind: "Node", namespace: "", name: "flappy", uid: "u1" }
      for (let i = 0; i < 30; i++) yield* recorder.record(node, "Warning", "SyncNodeFailed", "VM not found")
      yield* recorder.record({ ...node, name: "calm", uid: "u2" }, "Warning", "SyncNodeFailed", "VM not found")
      yield* recorder.flush
      const countOf = (name: string) =>
        Effect.map(fake.events, (events) => events.find((e) => e.involvedObject.name === name)?.count)
      assert.strictEqual(yield* countOf("flappy"), 25)
      assert.strictEqual(yield* countOf("calm"), 1)
      assert.strictEqual(yield* dropped("spam_filter"), 5)
      yield* TestClock.adjust("299 seconds")
      yield* recorder.record(node, "Warning", "SyncNodeFailed", "VM not found")
      yield* recorder.flush
      assert.strictEqual(yield* countOf("flappy"), 25)
      yield* TestClock.adjust("1 second")
      yield* recorder.record(node, "Warning", "SyncNodeFailed", "VM not found")
      yield* recorder.flush
      assert.strictEqual(yield* countOf("flappy"), 26)
      assert.strictEqual(yield* dropped("spam_filter"), 6)
    }).pipe(Effect.provide(env)))

  it.scoped("a hanging API server holds the shutdown up for the flush timeout only", () =>
    Effect.gen(function*() {
      const never = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const recorder = yield* EventRecorder.make("cloud-node-controller", { flushTimeout: "2 seconds" }).pipe(
        Effect.provide(gated(never)),
        Scope.extend(scope)
      )
      yield* recorder.record({ kind: "Node", namespace: "", name: "n1", uid: "u1" }, "Normal", "Synced", "ok")
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("1 second")
      assert.isNull(closing.unsafePoll(), "still flushing")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
    }).pipe(Effect.provide(env)))

  it.scoped("closing the recorder's scope writes what is still queued (best effort, bounded)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const scope = yield* Scope.make()
      const recorder = yield* EventRecorder.make("cloud-node-controller").pipe(Scope.extend(scope))
      for (let i = 0; i < 10; i++) {
        yield* recorder.record({ kind: "Node", namespace: "", name: `n${i}`, uid: `u${i}` }, "Normal", "Synced", "ok")
      }
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* fake.events).length, 10)
    }).pipe(Effect.provide(env)))

  it.scoped("a forbidden create is logged at Error once with the RBAC rule, not as a warning per Event", () => {
    const log = CapturingLogger.make()
    return Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("cloud-node-controller")
      yield* fake.failNext({ verb: "create", resource: "events", reason: "Forbidden", times: 5 })
      for (let i = 0; i < 5; i++) yield* recorder.record(ref, "Warning", "X", `message ${i}`)
      yield* recorder.flush
      assert.deepStrictEqual(
        log.lines.filter((l) => l.level !== "DEBUG").map((l) => [l.level, l.message, l.annotations["check"]]),
        [[
          "ERROR",
          "Kubernetes API server forbids a request (403 Forbidden): RBAC rule missing",
          "RBAC: the CCM's ClusterRole needs \"create,patch,update events\" in the core API group " +
          "(denied: create; see deploy/base/rbac.yaml, ClusterRole system:cloud-controller-manager)"
        ]]
      )
    }).pipe(Effect.provide(env), Effect.provide(log.layer))
  })
})
