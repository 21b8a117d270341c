import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Option, TestClock } from "effect"
import * as ServiceDrift from "../../src/controllers/ServiceDrift.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import type { NodeRef } from "../../src/provider/InstanceLookup.js"
import type { LbRequest, LoadBalancers } from "../../src/provider/loadbalancer/LoadBalancers.js"
import { unreadable } from "../fakes/Reads.js"

const request = (name: string, nodes: ReadonlyArray<NodeRef>): LbRequest<never> => ({
  service: {
    namespace: "default",
    name,
    uid: `uid-${name}`,
    annotations: {},
    ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }],
    loadBalancerIP: undefined,
    loadBalancerSourceRanges: [],
    sessionAffinity: undefined
  },
  nodes,
  fresh: false,
  claimedElsewhere: () => false,
  requestedElsewhere: () => false,
  associatingElsewhere: () => false,
  persist: () => Effect.void
})

const unused = Effect.dieMessage("not used by a drift pass")
const reads = unreadable("not used by a drift pass")

describe("ServiceDrift.pass", () => {
  it.effect("builds each Service's request only when its turn comes, and skips one no longer converged", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const nodes = Array.from({ length: 3 }, (_, i) => ({ name: `node-${i}`, providerID: "" }))
      const lbs: LoadBalancers["Type"] = {
        ensure: () => unused,
        updateMembers: () => unused,
        delete: () => unused,
        fleet: Effect.sync(() => {
          log.push("fleet")
          return reads
        }),
        drift: (r) =>
          Effect.sync(() => {
            log.push(`drift ${r.service.name}`)
            return r.service.name === "b" ? ["rule" as const] : []
          })
      }
      const repaired: Array<string> = []
      const drifted = yield* ServiceDrift.pass({
        period: Duration.minutes(10),
        lbs,
        converged: Effect.succeed(["default/a", "default/b", "default/gone", "default/c"]),
        requestOf: (key) =>
          Effect.sync(() => {
            log.push(`request ${key}`)
            const name = key.slice("default/".length)
            return name === "gone" ? Option.none() : Option.some(request(name, nodes))
          }),
        repair: (key, mark) => Effect.sync(() => repaired.push(`${key} before ${mark}`) > 0),
        mark: Effect.sync(() => {
          log.push("mark")
          return 7
        }),
        audit: () => Effect.void,
        busy: Effect.succeed(false)
      })
      // One request at a time: never every Service's nodes and claims held at once. The mark is
      // taken before the listing: an ensure remembered after it saw a newer cloud.
      assert.deepStrictEqual(log, [
        "mark",
        "fleet",
        "request default/a",
        "drift a",
        "request default/b",
        "drift b",
        "request default/gone",
        "request default/c",
        "drift c"
      ])
      assert.deepStrictEqual(drifted, ["default/b"])
      assert.deepStrictEqual(repaired, ["default/b before 7"])
    }).pipe(Effect.provide(Metrics.layer)))

  it.effect("a pass with nothing converged lists nothing", () =>
    Effect.gen(function*() {
      let listed = 0
      const lbs: LoadBalancers["Type"] = {
        ensure: () => unused,
        updateMembers: () => unused,
        delete: () => unused,
        fleet: Effect.sync(() => {
          listed++
          return reads
        }),
        drift: () => unused
      }
      const drifted = yield* ServiceDrift.pass({
        period: Duration.minutes(10),
        lbs,
        converged: Effect.succeed([]),
        requestOf: () => unused,
        repair: () => unused,
        mark: Effect.succeed(0),
        audit: () => unused,
        busy: unused
      })
      assert.deepStrictEqual(drifted, [])
      assert.strictEqual(listed, 0)
    }).pipe(Effect.provide(Metrics.layer)))
})

describe("ServiceDrift.run", () => {
  it.effect("member audits are spread over the period and wait while the workers are busy", () =>
    Effect.gen(function*() {
      const lbs: LoadBalancers["Type"] = {
        ensure: () => unused,
        updateMembers: () => unused,
        delete: () => unused,
        fleet: Effect.succeed(reads),
        drift: () => unused
      }
      let busy = true
      const audited: Array<string> = []
      const fiber = yield* Effect.fork(ServiceDrift.run({
        period: Duration.seconds(10),
        lbs,
        converged: Effect.succeed(["default/a", "default/b", "default/c"]),
        requestOf: () => Effect.succeed(Option.none()),
        repair: () => unused,
        mark: Effect.succeed(0),
        audit: (key) => Effect.map(Clock.currentTimeMillis, (now) => void audited.push(`${key}@${now / 1000}`)),
        busy: Effect.sync(() => busy)
      }))
      // The pass at 10 s; then an audit every 10/3 s, but none while the workers are busy.
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(audited, [])
      busy = false
      yield* TestClock.adjust("10500 millis")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(audited.map((a) => a.split("@")[0]), ["default/a", "default/b", "default/c"])
      const times = audited.map((a) => Number(a.split("@")[1]))
      assert.isTrue((times[0] ?? 0) > 30 && (times[0] ?? 0) <= 34, `first audit at ${times[0]}`)
      assert.closeTo((times[1] ?? 0) - (times[0] ?? 0), 10 / 3, 0.01)
      assert.closeTo((times[2] ?? 0) - (times[1] ?? 0), 10 / 3, 0.01)
    }).pipe(Effect.provide(Metrics.layer)))
})
