/**
 * The in-memory layer: fault injection (error rates, latency, API-down windows), the call log and
 * counters, the CloudStackTransport it provides, determinism per seed and world validation.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, TestClock } from "effect"
import { CloudStackTransport } from "../../../src/cloudstack/CloudStackTransport.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../../src/simulation/cloudstack/Simulator.js"
import { World, WorldNetwork } from "../../../src/simulation/cloudstack/World.js"
import { call, items, simLayer } from "./SimHarness.js"

describe("fault injection", () => {
  it.effect("an error rate of 1 answers the configured code for that command only; '*' hits all", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* sim.setFaults({ errorRates: [{ command: "listZones", code: 534, rate: 1 }] })
      const r = yield* call("listZones")
      assert.deepStrictEqual(r.body, {
        listzonesresponse: {
          uuidList: [],
          errorcode: 534,
          cserrorcode: 4380,
          errortext: "Internal error executing command, please contact your system administrator"
        }
      })
      assert.strictEqual((yield* call("listVPCs")).status, 200)
      yield* sim.setFaults({ errorRates: [{ command: "*", code: 429, rate: 1 }] })
      assert.strictEqual((yield* call("listVPCs")).status, 429)
      yield* sim.setFaults({ errorRates: [{ command: "*", code: 429, rate: 0 }] })
      assert.strictEqual((yield* call("listVPCs")).status, 200)
    }).pipe(Effect.provide(simLayer())))

  it.effect("an injected 431 is InvalidParameterValue's envelope; 502/503/504 are the proxy's plain-text page", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* sim.setFaults({ errorRates: [{ command: "listZones", code: 431, rate: 1 }] })
      assert.deepStrictEqual((yield* call("listZones")).body, {
        listzonesresponse: {
          uuidList: [],
          errorcode: 431,
          cserrorcode: 4350,
          errortext: "Invalid parameter value (injected fault)"
        }
      })
      for (
        const [code, text] of [[502, "502 Bad Gateway"], [503, "503 Service Unavailable"], [
          504,
          "504 Gateway Timeout"
        ]] as const
      ) {
        yield* sim.setFaults({ errorRates: [{ command: "listZones", code, rate: 1 }] })
        const r = yield* sim.handle({ command: "listZones", params: {}, apiKey: undefined })
        assert.deepStrictEqual([r.status, r.body, r.text], [code, undefined, text])
      }
    }).pipe(Effect.provide(simLayer())))

  it.effect("a fractional error rate is drawn from the seeded Random: same seed, same sequence", () =>
    Effect.gen(function*() {
      const sequence = Effect.gen(function*() {
        const sim = yield* CloudStackSimulator
        yield* sim.setFaults({ errorRates: [{ command: "listZones", code: 530, rate: 0.5 }] })
        const out: Array<number> = []
        for (let i = 0; i < 40; i++) out.push((yield* call("listZones")).status)
        return out
      })
      const a = yield* Effect.provide(sequence, simLayer())
      const b = yield* Effect.provide(sequence, simLayer())
      assert.deepStrictEqual(a, b)
      const failures = a.filter((s) => s === 530).length
      assert.isAbove(failures, 5)
      assert.isBelow(failures, 35)
    }))

  it.effect("latency delays the answer on the Clock", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* sim.setFaults({ latency: "2 seconds" })
      const fiber = yield* Effect.fork(call("listZones"))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
    }).pipe(Effect.provide(simLayer())))

  it.effect("an API-down window answers 503 text or is unreachable, only inside the window", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const transport = yield* CloudStackTransport
      yield* sim.setFaults({ apiDown: Option.some({ from: 1000, until: 2000, mode: "unavailable" }) })
      assert.strictEqual((yield* call("listZones")).status, 200)
      yield* TestClock.adjust(1000)
      const down = yield* sim.handle({ command: "listZones", params: {}, apiKey: undefined })
      assert.deepStrictEqual([down.status, down.text], [503, "503 Service Unavailable"])
      const raw = yield* transport.send({ command: "listZones", params: {}, method: "GET" })
      assert.deepStrictEqual(raw, {
        status: 503,
        contentType: "text/plain; charset=UTF-8",
        body: "503 Service Unavailable"
      })
      yield* sim.setFaults({ apiDown: Option.some({ from: 1000, until: 2000, mode: "unreachable" }) })
      const refused = yield* Effect.exit(transport.send({ command: "listZones", params: {}, method: "GET" }))
      assert.strictEqual(
        Exit.isFailure(refused) && refused.cause._tag === "Fail" ? refused.cause.error._tag : "",
        "CloudStackTransportError"
      )
      yield* TestClock.adjust(1000)
      assert.strictEqual((yield* call("listZones")).status, 200)
    }).pipe(Effect.provide(simLayer())))
})

describe("call log, counters, transport", () => {
  it.effect("records every call with its time and status, and counts per command", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* call("listZones")
      yield* TestClock.adjust(500)
      yield* call("listZones", { name: "x" })
      yield* call("nope")
      const log = yield* sim.callLog
      assert.deepStrictEqual(log.map((e) => [e.at, e.command, e.status]), [[0, "listZones", 200], [
        500,
        "listZones",
        200
      ], [500, "nope", 401]])
      assert.deepStrictEqual(log[1]?.params, { name: "x" })
      assert.deepStrictEqual([...(yield* sim.counters)], [["listZones", 2], ["nope", 1]])
    }).pipe(Effect.provide(simLayer())))

  it.effect("the in-memory transport returns the JSON envelope as the HTTP face would", () =>
    Effect.gen(function*() {
      const transport = yield* CloudStackTransport
      const r = yield* transport.send({ command: "listZones", params: { name: "zone1" }, method: "GET" })
      assert.strictEqual(r.status, 200)
      assert.strictEqual(r.contentType, "application/json; charset=UTF-8")
      const body: unknown = JSON.parse(r.body)
      assert.strictEqual(typeof body === "object" && body !== null && "listzonesresponse" in body, true)
      const err = yield* transport.send({ command: "listLoadBalancerRuleInstances", params: {}, method: "GET" })
      assert.strictEqual(err.status, 431)
    }).pipe(Effect.provide(simLayer())))

  it.effect("credentials resolve api keys to their secret and account", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      assert.deepStrictEqual(
        yield* sim.credentials("demo-alice-api-key"),
        Option.some({
          apiKey: "demo-alice-api-key",
          secretKey: "demo-alice-secret-key",
          account: "alice",
          role: "user",
          deniedApis: []
        })
      )
      assert.isTrue(Option.isNone(yield* sim.credentials("nope")))
    }).pipe(Effect.provide(simLayer())))
})

describe("seeding", () => {
  const zoneIdWith = (seed: number) =>
    Effect.provide(
      Effect.map(call("listZones"), (a) => items(a, "zone")[0]?.id),
      Simulator.layer(demoWorld, { seed }).pipe(Layer.orDie)
    )

  it.effect("ids are deterministic per seed and differ between seeds", () =>
    Effect.gen(function*() {
      const a = yield* zoneIdWith(7)
      assert.strictEqual(a, yield* zoneIdWith(7))
      assert.notStrictEqual(a, yield* zoneIdWith(8))
      assert.match(String(a), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }))

  it.effect("a world with dangling references fails the layer with every problem listed", () =>
    Effect.gen(function*() {
      const broken = new World({
        ...demoWorld,
        networks: [
          ...demoWorld.networks,
          new WorldNetwork({ name: "bad", zone: "mars", offering: "nope", owner: "nobody", cidr: "10.0.0.0/24" }),
          new WorldNetwork({
            name: "isolated1",
            zone: "zone1",
            offering: "DefaultSharedNetworkOffering",
            owner: "admin",
            cidr: "10.7.0.0/24"
          })
        ]
      })
      const exit = yield* Effect.exit(Effect.provide(CloudStackSimulator, Simulator.layer(broken)))
      assert.isTrue(Exit.isFailure(exit) && exit.cause._tag === "Fail")
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        assert.deepStrictEqual(exit.cause.error.problems, [
          "duplicate network isolated1",
          "network bad: unknown zone mars",
          "network bad: unknown offering nope",
          "network bad: unknown account nobody"
        ])
      }
    }))
})
