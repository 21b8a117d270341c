/**
 * Leader election against a Lease API that rejects us (401) or forbids a verb (403): the cause is
 * logged at Error once with what to check, and `/healthz/leaderElection` fails once no attempt got
 * through for longer than the lease duration. TestClock throughout.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Ref, TestClock } from "effect"
import { KubeApiError } from "../../src/kubernetes/KubeError.js"
import { LeaseApi } from "../../src/kubernetes/LeaseApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as LeaderElection from "../../src/runtime/LeaderElection.js"
import * as CapturingLogger from "../fakes/CapturingLogger.js"
import * as InMemoryLeaseApi from "../fakes/InMemoryLeaseApi.js"

type Fault = "none" | "unauthorized" | "forbidden-update" | "forbidden-get"

/** The in-memory Lease API behind a switchable fault: 401 on every call, or 403 on one verb. */
const faulty = (leases: InMemoryLeaseApi.InMemoryLeases, fault: Ref.Ref<Fault>): LeaseApi["Type"] => {
  const gate = (verb: KubeApiError["verb"]) =>
    Effect.flatMap(Ref.get(fault), (f) => {
      if (f === "unauthorized") {
        return Effect.fail(
          new KubeApiError({ verb, resource: "leases", reason: "Unauthorized", status: 401, detail: "Unauthorized" })
        )
      }
      if ((f === "forbidden-update" && verb === "update") || (f === "forbidden-get" && verb === "get")) {
        return Effect.fail(
          new KubeApiError({ verb, resource: "leases", reason: "Forbidden", status: 403, detail: "forbidden" })
        )
      }
      return Effect.void
    })
  const inner = leases.client()
  return {
    get: (namespace, name) => Effect.zipRight(gate("get"), inner.get(namespace, name)),
    create: (lease) => Effect.zipRight(gate("create"), inner.create(lease)),
    update: (lease) => Effect.zipRight(gate("update"), inner.update(lease))
  }
}

const step = (seconds: number) =>
  Effect.forEach(Array.from({ length: seconds * 2 }), () => TestClock.adjust(Duration.millis(500)), { discard: true })

const errors = (lines: ReadonlyArray<CapturingLogger.LogLine>) => lines.filter((l) => l.level === "ERROR")

describe("LeaderElection access problems", () => {
  it.scoped("a rejected token: one Error line naming what to check, /healthz fails after the lease duration, recovery is seen", () => {
    const log = CapturingLogger.make()
    return Effect.gen(function*() {
      const leases = yield* InMemoryLeaseApi.make
      const fault = yield* Ref.make<Fault>("unauthorized")
      const election = yield* LeaderElection.make({ ...LeaderElection.defaults, identity: "a" }).pipe(
        Effect.provideService(LeaseApi, faulty(leases, fault))
      )
      yield* Effect.forkScoped(election.withLeadership(Effect.never))

      yield* step(14)
      assert.isTrue(Either.isRight(yield* Effect.either(election.healthCheck)), "healthy within the lease duration")
      yield* step(2)
      const unhealthy = yield* Effect.flip(election.healthCheck)
      assert.match(
        unhealthy.reason,
        /^no successful Kubernetes API call for 16s \(lease duration 15s\): get leases: Unauthorized \(HTTP 401\)$/
      )
      yield* step(60)
      // Dozens of attempts, one line.
      const rejected = errors(log.lines)
      assert.strictEqual(rejected.length, 1, JSON.stringify(rejected))
      assert.strictEqual(rejected[0]?.message, "Kubernetes API server rejected the credentials (401 Unauthorized)")
      assert.match(String(rejected[0]?.annotations["check"]), /token.*--kubeconfig/)
      assert.strictEqual(rejected[0]?.annotations["component"], "LeaderElection")

      yield* Ref.set(fault, "none")
      yield* step(5)
      assert.isTrue(yield* election.isLeader)
      yield* election.healthCheck
      assert.isTrue(log.lines.some((l) => l.level === "INFO" && l.message === "Kubernetes API access restored"))
    }).pipe(Effect.provide(log.layer), Effect.provide(Metrics.layer))
  })

  it.scoped("a 403 is reported once per verb and resource with the RBAC rule; a new cause, or the same after a recovery, again", () => {
    const log = CapturingLogger.make()
    return Effect.gen(function*() {
      const leases = yield* InMemoryLeaseApi.make
      const fault = yield* Ref.make<Fault>("forbidden-update")
      // A Lease held by someone who left it expired: taking it over needs `update`.
      const seeder = yield* LeaderElection.make({ ...LeaderElection.defaults, identity: "gone" }).pipe(
        Effect.provideService(LeaseApi, leases.client())
      )
      const seeded = yield* Effect.fork(seeder.withLeadership(Effect.never))
      yield* step(1)
      yield* Fiber.interrupt(seeded)
      const election = yield* LeaderElection.make({ ...LeaderElection.defaults, identity: "a" }).pipe(
        Effect.provideService(LeaseApi, faulty(leases, fault))
      )
      yield* Effect.forkScoped(election.withLeadership(Effect.never))
      yield* step(30)
      const forbidden = errors(log.lines)
      assert.deepStrictEqual(forbidden.map((l) => [l.message, l.annotations["verb"], l.annotations["resource"]]), [
        ["Kubernetes API server forbids a request (403 Forbidden): RBAC rule missing", "update", "leases"]
      ])
      assert.strictEqual(
        forbidden[0]?.annotations["check"],
        "RBAC: the CCM's ClusterRole needs \"get,create,update,list,watch leases\" in coordination.k8s.io " +
          "(denied: update; see deploy/base/rbac.yaml, ClusterRole system:cloud-controller-manager)"
      )
      assert.isFalse(yield* election.isLeader)
      const unhealthy = yield* Effect.flip(election.healthCheck)
      assert.include(unhealthy.reason, "update leases: Forbidden (HTTP 403)")

      yield* Ref.set(fault, "forbidden-get")
      yield* step(10)
      assert.deepStrictEqual(
        errors(log.lines).map((l) => l.annotations["verb"]),
        ["update", "get"],
        "a new cause is reported"
      )

      yield* Ref.set(fault, "none")
      yield* step(5)
      assert.isTrue(yield* election.isLeader)
      yield* Ref.set(fault, "forbidden-get")
      yield* step(5)
      assert.deepStrictEqual(
        errors(log.lines).map((l) => l.annotations["verb"]),
        ["update", "get", "get"],
        "the same cause after a recovery"
      )
    }).pipe(Effect.provide(log.layer), Effect.provide(Metrics.layer))
  })
})
