/**
 * listApis per role, listManagementServersMetrics for the root admin only (a user gets the role
 * checker's 432), listCapabilities for everyone, and the 432 of commands a custom role denies.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ruleMatches } from "../../../src/simulation/cloudstack/ApiCatalogue.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import { World, WorldAccount } from "../../../src/simulation/cloudstack/World.js"
import { call, items, obj, simLayer, str } from "./SimHarness.js"

const ALICE = "demo-alice-api-key"
const ADMIN = "demo-admin-api-key"

/** The demo world at `version`, with a user `lb-less` whose role is denied the LB mutations. */
const world = (version = "4.20.1.0") =>
  new World({
    ...Schema.decodeSync(World)({ ...Schema.encodeSync(World)(demoWorld), version }),
    accounts: [
      ...demoWorld.accounts,
      new WorldAccount({
        name: "lb-less",
        role: "user",
        apiKey: "lb-less-key",
        secretKey: "lb-less-secret",
        deniedApis: ["createLoadBalancerRule", "*LoadBalancerRule", "associateIpAddress"]
      })
    ]
  })

const apiNames = (apiKey: string) =>
  Effect.map(call("listApis", {}, apiKey), (a) => {
    assert.strictEqual(a.status, 200)
    assert.strictEqual(a.key, "listapisresponse")
    const names = items(a, "api").map((api) => str(api.name))
    assert.strictEqual(a.inner.count, names.length)
    return names
  })

describe("listApis", () => {
  it.effect("the root admin sees every command, a user none of the admin-only ones", () =>
    Effect.gen(function*() {
      const admin = yield* apiNames(ADMIN)
      const alice = yield* apiNames(ALICE)
      assert.include(admin, "listManagementServersMetrics")
      assert.notInclude(alice, "listManagementServersMetrics")
      assert.deepStrictEqual(admin.filter((n) => !alice.includes(n)), ["listManagementServersMetrics"])
      assert.include(alice, "createLoadBalancerRule")
      assert.include(alice, "listApis")
    }).pipe(Effect.provide(simLayer(world()))))

  it.effect("items carry the real keys: name, description, isasync (and since when the annotation has one)", () =>
    Effect.gen(function*() {
      const a = yield* call("listApis", {}, ALICE)
      const byName = new Map(items(a, "api").map((api) => [str(api.name), api]))
      assert.deepStrictEqual(byName.get("listApis"), {
        name: "listApis",
        description: "Lists all available APIs on the server, provided by the API Discovery plugin",
        isasync: false,
        since: "4.1.0"
      })
      assert.deepStrictEqual(byName.get("createLoadBalancerRule"), {
        name: "createLoadBalancerRule",
        description: "Creates a load balancer rule",
        isasync: true
      })
      assert.strictEqual(byName.get("enableStaticNat")?.isasync, false)
      assert.strictEqual(byName.get("createTags")?.isasync, true)
    }).pipe(Effect.provide(simLayer(world()))))

  it.effect("a custom role's denied commands (names and patterns) are missing and answer 432 under errorresponse", () =>
    Effect.gen(function*() {
      const names = yield* apiNames("lb-less-key")
      for (
        const gone of [
          "createLoadBalancerRule",
          "updateLoadBalancerRule",
          "assignToLoadBalancerRule",
          "associateIpAddress"
        ]
      ) {
        assert.notInclude(names, gone)
      }
      assert.include(names, "listLoadBalancerRules") // `*LoadBalancerRule` matches whole names only
      assert.include(names, "listLoadBalancerRuleInstances")
      const refused = yield* call("associateIpAddress", { zoneid: "x" }, "lb-less-key")
      assert.strictEqual(refused.status, 432)
      assert.deepStrictEqual(refused.body, {
        errorresponse: {
          uuidList: [],
          errorcode: 432,
          cserrorcode: 9999,
          errortext: "The API [associateIpAddress] does not exist or is not available for the account lb-less."
        }
      })
    }).pipe(Effect.provide(simLayer(world()))))

  it.effect("name=X answers that one API, or the plugin's 530 when the role may not run it", () =>
    Effect.gen(function*() {
      const one = yield* call("listApis", { name: "listZones" }, ALICE)
      assert.deepStrictEqual(items(one, "api").map((api) => api.name), ["listZones"])
      assert.strictEqual(one.inner.count, 1)
      for (const name of ["listManagementServersMetrics", "listUnicorns"]) {
        const no = yield* call("listApis", { name }, ALICE)
        assert.deepStrictEqual([no.status, no.key, no.inner.cserrorcode, no.inner.errortext], [
          530,
          "listapisresponse",
          9999,
          "Api Discovery plugin was unable to find an api by that name or process any apis"
        ])
      }
    }).pipe(Effect.provide(simLayer(world()))))

  it("role rules: case-insensitive, `*` for any run of word characters, whole names only", () => {
    assert.isTrue(ruleMatches("create*", "createLoadBalancerRule"))
    assert.isTrue(ruleMatches("LISTZONES", "listZones"))
    assert.isTrue(ruleMatches("*", "listZones"))
    assert.isFalse(ruleMatches("create", "createTags"))
    assert.isFalse(ruleMatches("*Rule", "listLoadBalancerRules"))
  })
})

describe("listManagementServersMetrics and listCapabilities", () => {
  it.effect("the root admin gets one Up server with the world's version under `managementserver`", () =>
    Effect.gen(function*() {
      const a = yield* call("listManagementServersMetrics", {}, ADMIN)
      assert.strictEqual(a.status, 200)
      assert.strictEqual(a.key, "listmanagementserversmetricsresponse")
      assert.strictEqual(a.inner.count, 1)
      const [server] = items(a, "managementserver")
      assert.deepStrictEqual([server?.state, server?.version], ["Up", "4.20.1.0"])
    }).pipe(Effect.provide(simLayer(world()))))

  it.effect("a user gets HTTP 432, errorresponse, cserrorcode 9999 and the role checker's text", () =>
    Effect.gen(function*() {
      const a = yield* call("listManagementServersMetrics", {}, ALICE)
      assert.strictEqual(a.status, 432)
      assert.deepStrictEqual(a.body, {
        errorresponse: {
          uuidList: [],
          errorcode: 432,
          cserrorcode: 9999,
          errortext: "The API [listManagementServersMetrics] does not exist or is not available for the account alice."
        }
      })
    }).pipe(Effect.provide(simLayer(world()))))

  it.effect("listCapabilities tells any caller the version (default 4.22.0.0)", () =>
    Effect.gen(function*() {
      const a = yield* call("listCapabilities", {}, ALICE)
      assert.strictEqual(a.status, 200)
      assert.strictEqual(obj(a.inner.capability).cloudstackversion, "4.22.0.0")
    }).pipe(Effect.provide(simLayer())))
})
