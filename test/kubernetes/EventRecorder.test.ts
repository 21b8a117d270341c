import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as EventRecorder from "../../src/kubernetes/EventRecorder.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import * as CapturingLogger from "../fakes/CapturingLogger.js"

const ref = { kind: "Service", namespace: "shop", name: "web", uid: "uid-1", apiVersion: "v1" }

describe("EventRecorder", () => {
  it.effect("bumps count and lastTimestamp of a repeated event instead of creating another", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no free IP")
      yield* TestClock.adjust("90 seconds")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no free IP")
      const events = yield* fake.events
      assert.strictEqual(events.length, 1)
      const [event] = events
      assert.strictEqual(event?.count, 2)
      assert.strictEqual(event?.metadata.namespace, "shop")
      assert.strictEqual(event?.firstTimestamp, "1970-01-01T00:00:00.000Z")
      assert.strictEqual(event?.lastTimestamp, "1970-01-01T00:01:30.000Z")
    }).pipe(Effect.provide(FakeKubernetes.layer())))

  it.effect("keeps distinct events apart: another message, type or object is a new Event", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no free IP")
      yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "quota exceeded")
      yield* recorder.record(ref, "Normal", "SyncLoadBalancerFailed", "no free IP")
      yield* recorder.record({ ...ref, name: "api", uid: "uid-2" }, "Warning", "SyncLoadBalancerFailed", "no free IP")
      const events = yield* fake.events
      assert.strictEqual(events.length, 4)
      assert.isTrue(events.every((event) => event.count === 1))
    }).pipe(Effect.provide(FakeKubernetes.layer())))

  it.effect("starts a new Event when the server expired the old one", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* recorder.record(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
      yield* fake.failNext({ verb: "patch", resource: "events", reason: "NotFound" })
      yield* recorder.record(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
      yield* recorder.record(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
      const counts = (yield* fake.events).map((event) => event.count).sort()
      // The first Event stays at 1; the new one took the later repeat.
      assert.deepStrictEqual(counts, [1, 2])
    }).pipe(Effect.provide(FakeKubernetes.layer())))

  it.effect("never fails its caller when the API refuses the Event", () =>
    Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("service-controller")
      yield* fake.failNext({ verb: "create", resource: "events", reason: "Forbidden" })
      yield* recorder.record(ref, "Warning", "X", "y")
      assert.strictEqual((yield* fake.events).length, 0)
      // Not remembered as written: the next repeat creates it.
      yield* recorder.record(ref, "Warning", "X", "y")
      assert.deepStrictEqual((yield* fake.events).map((event) => event.count), [1])
    }).pipe(Effect.provide(FakeKubernetes.layer())))

  it.effect("a forbidden create is logged at Error once with the RBAC rule, not as a warning per Event", () => {
    const log = CapturingLogger.make()
    return Effect.gen(function*() {
      const fake = yield* FakeKubernetes.FakeKubernetes
      const recorder = yield* EventRecorder.make("cloud-node-controller")
      yield* fake.failNext({ verb: "create", resource: "events", reason: "Forbidden", times: 5 })
      for (let i = 0; i < 5; i++) yield* recorder.record(ref, "Warning", "X", `message ${i}`)
      assert.deepStrictEqual(log.lines.filter((l) => l.level !== "DEBUG").map((l) => [l.level, l.message, l.annotations["check"]]), [[
        "ERROR",
        "Kubernetes API server forbids a request (403 Forbidden): RBAC rule missing",
        "RBAC: the CCM's ClusterRole needs \"create,patch,update events\" in the core API group " +
        "(denied: create; see deploy/base/rbac.yaml, ClusterRole system:cloud-controller-manager)"
      ]])
    }).pipe(Effect.provide(FakeKubernetes.layer()), Effect.provide(log.layer))
  })
})
