/**
 * The envelope rules of reference 1.7 and 2: response keys, 401 bodies, missing-parameter and
 * UUID texts, case-insensitive parameter names, malformed map parameters.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { API_CATALOGUE } from "../../../src/simulation/cloudstack/ApiCatalogue.js"
import { commands, isCommand } from "../../../src/simulation/cloudstack/Engine.js"
import { call, simLayer } from "./SimHarness.js"

describe("envelopes", () => {
  it.effect("an unknown command is 401 under errorresponse without cserrorcode", () =>
    Effect.gen(function*() {
      const r = yield* call("listUnicorns")
      assert.strictEqual(r.status, 401)
      assert.deepStrictEqual(r.body, {
        errorresponse: {
          uuidList: [],
          errorcode: 401,
          errortext: "unable to verify user credentials and/or request signature"
        }
      })
      // command names are case-sensitive like the registered API names
      assert.strictEqual((yield* call("listzones")).status, 401)
    }).pipe(Effect.provide(simLayer())))

  it.effect("a missing required parameter is 431/9999 with the lowercased command name", () =>
    Effect.gen(function*() {
      const r = yield* call("listLoadBalancerRuleInstances")
      assert.deepStrictEqual(r.body, {
        listloadbalancerruleinstancesresponse: {
          uuidList: [],
          errorcode: 431,
          cserrorcode: 9999,
          errortext: "Unable to execute API command listloadbalancerruleinstances due to missing parameter id"
        }
      })
    }).pipe(Effect.provide(simLayer())))

  it.effect("parameter names are case-insensitive", () =>
    Effect.gen(function*() {
      const r = yield* call("listZones", { NAME: "zone1" })
      assert.strictEqual(r.inner.count, 1)
    }).pipe(Effect.provide(simLayer())))

  it.effect("a malformed map parameter is 430", () =>
    Effect.gen(function*() {
      const r = yield* call("listVirtualMachines", { "tags.key": "x" })
      assert.strictEqual(r.status, 430)
    }).pipe(Effect.provide(simLayer())))

  it.effect("success bodies sit under <command lowercased>response; create-style jobs answer {id, jobid}", () =>
    Effect.gen(function*() {
      const zones = yield* call("listZones")
      assert.strictEqual(zones.key, "listzonesresponse")
      assert.strictEqual(zones.status, 200)
    }).pipe(Effect.provide(simLayer())))

  it.effect("createLBStickinessPolicy answers under its literal class-defined key, errors too", () =>
    Effect.gen(function*() {
      const r = yield* call("createLBStickinessPolicy")
      assert.strictEqual(r.status, 431)
      assert.strictEqual(r.key, "createLBStickinessPolicy")
    }).pipe(Effect.provide(simLayer())))

  it("implements every command of the CCM subset plus the scenario commands", () => {
    const expected = [
      "listVirtualMachines",
      "listZones",
      "listNetworks",
      "listProjects",
      "listPublicIpAddresses",
      "associateIpAddress",
      "disassociateIpAddress",
      "listLoadBalancerRules",
      "createLoadBalancerRule",
      "updateLoadBalancerRule",
      "deleteLoadBalancerRule",
      "assignToLoadBalancerRule",
      "removeFromLoadBalancerRule",
      "listLoadBalancerRuleInstances",
      "createLBHealthCheckPolicy",
      "createLBStickinessPolicy",
      "createFirewallRule",
      "listFirewallRules",
      "deleteFirewallRule",
      "createTags",
      "listTags",
      "deleteTags",
      "createNetworkACL",
      "listNetworkACLs",
      "deleteNetworkACL",
      "queryAsyncJobResult",
      "listNetworkACLLists",
      "listVPCs",
      "listTemplates",
      "listServiceOfferings",
      "deployVirtualMachine",
      "startVirtualMachine",
      "stopVirtualMachine",
      "destroyVirtualMachine",
      "enableStaticNat",
      "disableStaticNat",
      "updateNetworkACLItem",
      "listLBHealthCheckPolicies",
      "listLBStickinessPolicies",
      "deleteLBHealthCheckPolicy",
      "deleteLBStickinessPolicy",
      "listApis",
      "listCapabilities",
      "listManagementServersMetrics"
    ]
    for (const c of expected) assert.isTrue(isCommand(c), c)
    assert.deepStrictEqual([...commands].sort(), [...expected].sort())
    // listApis describes exactly what the simulator answers
    assert.deepStrictEqual(API_CATALOGUE.map((e) => e.name).sort(), [...expected].sort())
  })
})
