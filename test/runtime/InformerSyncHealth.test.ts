/**
 * A controller whose informer cannot list (RBAC forbids it): the informer logs the missing rule at
 * Error once, not per retry, and the controller's `/healthz/<name>` check fails once the informer
 * has not synced within the grace period; after the fix it syncs and the check recovers. TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, Ref, Schedule, Scope, TestClock } from "effect"
import * as NodeLifecycleController from "../../src/controllers/NodeLifecycleController.js"
import * as Informer from "../../src/kubernetes/Informer.js"
import { KubeApiError } from "../../src/kubernetes/KubeError.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as Instances from "../../src/provider/Instances.js"
import * as ControllerManager from "../../src/runtime/ControllerManager.js"
import * as HealthChecks from "../../src/runtime/HealthChecks.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import * as CapturingLogger from "../fakes/CapturingLogger.js"

const forbidden = new KubeApiError({
  verb: "list",
  resource: "nodes",
  reason: "Forbidden",
  status: 403,
  detail: "nodes is forbidden"
})

/** NodeApi's list/watch, with the list denied while `denied` is true. */
const gatedSource = (denied: Ref.Ref<boolean>) =>
  Effect.map(NodeApi, (nodes): Informer.ListWatch<NodeView> => ({
    list: Effect.flatMap(Ref.get(denied), (d) => (d ? Effect.fail(forbidden) : nodes.list)),
    watch: nodes.watch
  }))

const step = (seconds: number) =>
  Effect.forEach(Array.from({ length: seconds }), () => TestClock.adjust(Duration.seconds(1)), { discard: true })

describe("informer sync health", () => {
  it.scoped("a forbidden list: one Error line with the RBAC rule, the controller's check fails after the grace, then recovers", () => {
    const log = CapturingLogger.make()
    return Effect.gen(function*() {
      const checks = yield* HealthChecks.HealthChecks
      const denied = yield* Ref.make(true)
      const source = yield* gatedSource(denied)
      const sync = yield* Informer.makeSyncProbe
      const controller: ControllerManager.Controller = {
        name: "cloud-node-lifecycle-controller",
        run: Effect.flatMap(Informer.make("nodes", source, { backoff: Schedule.spaced("5 seconds") }), sync.track),
        informerSync: sync.status
      }
      const manager = yield* Effect.fork(ControllerManager.run([controller], { informerSyncGrace: "1 minute" }))

      yield* step(60)
      const early = Option.getOrThrow(yield* checks.runOne("cloud-node-lifecycle-controller"))
      assert.isTrue(early.healthy, "within the grace period")
      yield* step(30)
      const late = Option.getOrThrow(yield* checks.runOne("cloud-node-lifecycle-controller"))
      assert.isFalse(late.healthy)
      assert.deepStrictEqual(
        late.reason,
        Option.some("informer not synced 90s after start: list nodes: Forbidden (HTTP 403)")
      )
      assert.isFalse((yield* checks.runAll).every((r) => r.healthy), "/healthz fails with it")

      // 18 list attempts so far, one Error line; no Warning per retry either.
      const errors = log.lines.filter((l) => l.level === "ERROR")
      assert.deepStrictEqual(
        errors.map((l) => [l.message, l.annotations["component"], l.annotations["verb"], l.annotations["resource"]]),
        [
          [
            "Kubernetes API server forbids a request (403 Forbidden): RBAC rule missing",
            "Informer nodes",
            "list",
            "nodes"
          ]
        ]
      )
      assert.include(
        String(errors[0]?.annotations["check"]),
        "\"get,list,watch,update,patch,delete nodes\" in the core API group"
      )
      assert.deepStrictEqual(log.lines.filter((l) => l.level === "WARN"), [])

      yield* Ref.set(denied, false)
      yield* step(6)
      assert.isTrue(Option.getOrThrow(yield* checks.runOne("cloud-node-lifecycle-controller")).healthy)
      assert.isTrue(
        log.lines.some((l) =>
          l.message === "Kubernetes API access restored" && l.annotations["component"] === "Informer nodes"
        )
      )
      yield* Fiber.interrupt(manager)
    }).pipe(Effect.provide(HealthChecks.layer), Effect.provide(FakeKubernetes.layer()), Effect.provide(log.layer))
  })

  it.scoped("the node controllers report the sync state of the informer they run on", () =>
    Effect.gen(function*() {
      const denied = yield* Ref.make(true)
      const source = yield* gatedSource(denied)
      // As RunCommand shares it: started by the first controller that asks, in the test's scope.
      const scope = yield* Effect.scope
      const informer = yield* Effect.cached(
        Scope.extend(Informer.make("nodes", source, { backoff: Schedule.spaced("1 second") }), scope)
      )
      const lifecycle = yield* NodeLifecycleController.make({ informer })
      const status = lifecycle.informerSync
      if (status === undefined) return assert.fail("no informerSync")
      assert.deepStrictEqual(yield* status, { synced: false, problem: Option.none() }, "not started yet")
      yield* Effect.forkScoped(lifecycle.run)
      yield* step(2)
      assert.deepStrictEqual(yield* status, { synced: false, problem: Option.some("list nodes: Forbidden (HTTP 403)") })
      yield* Ref.set(denied, false)
      yield* step(2)
      assert.deepStrictEqual(yield* status, { synced: true, problem: Option.none() })
    }).pipe(
      Effect.provide(FakeKubernetes.layer()),
      Effect.provide(Metrics.layer),
      // No Node is ever NotReady here: the controller never asks CloudStack.
      Effect.provide(
        Layer.mock(Instances.Instances, {
          options: { providerName: "external-cloudstack", zone: undefined, region: undefined }
        })
      ),
      Effect.provide(CapturingLogger.make().layer)
    ))
})
