import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import { deleteLoadBalancerRule } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { LbRuleId } from "../../../src/cloudstack/Ids.js"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import { LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import { aclMarker } from "../../../src/provider/loadbalancer/ObservedLb.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import {
  annotationStore,
  callsSince,
  countersNow,
  env,
  inventory,
  networkId,
  nodesFor,
  request,
  rulesOfUid,
  service,
  simState
} from "./LbTestEnv.js"

const aclItems = (listName: string) =>
  Effect.map(simState, (s) => {
    const list = s.aclLists.find((l) => l.name === listName)
    return s.aclItems.filter((a) => a.aclUuid === list?.uuid)
  })

describe("LoadBalancers on VPC tiers", () => {
  it.effect("an IP of the VPC, the rule on the tier, a marked ACL item with the source ranges; the user's own items are never touched", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("web-1", "web-2")
      const store = yield* annotationStore()
      const userItems = yield* aclItems("web-acl")
      assert.deepStrictEqual(userItems.map((a) => a.number), [10, 20])
      const svc = service({ loadBalancerSourceRanges: ["192.0.2.0/24"] })
      const mark = yield* countersNow
      const result = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      const calls = yield* callsSince(mark)
      assert.isTrue(Option.isSome(result.address))
      assert.deepStrictEqual(result.warnings, [])
      const [rule] = yield* rulesOfUid(svc.uid)
      const state = yield* simState
      const ip = state.publicIps.find((i) => i.uuid === rule?.ipUuid)
      assert.strictEqual(ip?.vpcUuid, state.vpcs.find((v) => v.name === "vpc1")?.uuid)
      assert.strictEqual(rule?.networkUuid, state.networks.find((n) => n.name === "vpc1-web")?.uuid)
      assert.strictEqual(rule?.members.size, 2)
      const ours = (yield* aclItems("web-acl")).filter((a) => a.reason === aclMarker(svc.uid))
      assert.deepStrictEqual(
        ours.map((a) => [a.protocol, a.startport, a.endport, a.cidrlist, a.action, a.traffictype]),
        [
          ["tcp", 80, 80, ["192.0.2.0/24"], "Allow", "Ingress"]
        ]
      )
      // the VM listing and listNetworks (first LB of the tier), the free-IP pick, 4 commands with their jobs (the Go CCM: 13)
      assert.deepStrictEqual(calls.byCommand, {
        listVirtualMachines: 1,
        listNetworks: 1,
        listPublicIpAddresses: 1,
        associateIpAddress: 1,
        createLoadBalancerRule: 1,
        assignToLoadBalancerRule: 1,
        createNetworkACL: 1,
        queryAsyncJobResult: 4,
        createTags: 3
      })

      // A no-op re-sync: rules, the IP (its tags), ACL items, members.
      const mark2 = yield* countersNow
      yield* lbs.ensure(yield* request(svc, nodes, store))
      const resync = yield* callsSince(mark2)
      assert.deepStrictEqual(resync.byCommand, {
        listLoadBalancerRules: 1,
        listPublicIpAddresses: 1,
        listNetworkACLs: 1,
        listLoadBalancerRuleInstances: 1
      })

      yield* lbs.delete(yield* request(svc, nodes, store))
      const after = yield* aclItems("web-acl")
      assert.deepStrictEqual(
        after.map((a) => a.uuid),
        userItems.map((a) => a.uuid),
        "only the CCM's item went; #10 (tcp/80) stays"
      )
      assert.strictEqual(state.publicIps.length, (yield* simState).publicIps.length)
      assert.strictEqual((yield* simState).publicIps.find((i) => i.uuid === ip?.uuid)?.state, "Free")
    }).pipe(Effect.provide(env())))

  it.effect("a tier on default_allow: the LB works, a Warning says the ACL cannot be changed", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("db-1")
      const before = yield* inventory
      const svc = service()
      const result = yield* lbs.ensure(yield* request(svc, nodes, yield* annotationStore(), true))
      assert.isTrue(Option.isSome(result.address))
      assert.deepStrictEqual(result.warnings.map((w) => w.reason), ["DefaultNetworkACL"])
      assert.match(result.warnings[0]!.message, /default_allow.*every source can reach/)
      assert.deepStrictEqual((yield* inventory).acl, before.acl)
      assert.strictEqual((yield* rulesOfUid(svc.uid)).length, 1)
    }).pipe(Effect.provide(env())))

  it.effect("PROXY protocol in a VPC: the ACL item's protocol is tcp (the Go CCM sends tcp-proxy)", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("web-1", "web-2")
      const svc = service({ annotations: { [Annotations.PROXY_PROTOCOL]: "true" } })
      yield* lbs.ensure(yield* request(svc, nodes, yield* annotationStore(), true))
      const ours = (yield* aclItems("web-acl")).filter((a) => a.reason === aclMarker(svc.uid))
      assert.deepStrictEqual(ours.map((a) => a.protocol), ["tcp"])
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid)).map((r) => r.protocol), ["tcp-proxy"])
    }).pipe(Effect.provide(env())))

  // "Fresh" (nothing can exist yet) held for every round of the first ensure: after a failed step
  // the next round skipped the ACL listing and created the items again (chaos suite, seed 3).
  it.effect("a step failing after the ACL items of a new Service were created re-plans without creating them twice", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const sim = yield* CloudStackSimulator
      const nodes = yield* nodesFor("web-1", "web-2")
      const store = yield* annotationStore()
      const svc = service()
      // The tag steps come last: every round fails there, after its access steps ran.
      yield* sim.setFaults({ errorRates: [{ command: "createTags", code: 530, rate: 1 }] })
      yield* Effect.either(lbs.ensure(yield* request(svc, nodes, store, true)))
      yield* sim.setFaults({ errorRates: [] })
      const ours = (yield* aclItems("web-acl")).filter((a) => a.reason === aclMarker(svc.uid))
      assert.deepStrictEqual(ours.map((a) => [a.protocol, a.startport]), [["tcp", 80]])
    }).pipe(Effect.provide(env())))

  // Chaos seed 25: a keep-ip Service moved from an isolated network to a VPC tier; its rule on the
  // kept IP went, the rule's firewall rule stayed (firewall rules were read only when the new network
  // had them). The same for ACL items left on the old tier's list.
  it.effect("a move between networks takes the old IP's firewall rules and the old tier's ACL items along", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2", "web-1", "web-2", "db-1")
      const store = yield* annotationStore()
      const base = service({ loadBalancerSourceRanges: ["192.0.2.0/24"] })
      const on = (network: string) =>
        Effect.gen(function*() {
          const svc = {
            ...base,
            annotations: { [Annotations.KEEP_IP]: "true", [Annotations.NETWORK_ID]: yield* networkId(network) }
          }
          return yield* lbs.ensure(yield* request(svc, nodes, store))
        })
      const ours = Effect.map(simState, (st) => ({
        firewall: st.firewallRules.filter((f) => f.owner !== "alice" && f.cidrlist.includes("192.0.2.0/24")).length,
        acl: st.aclItems.filter((a) => a.reason === aclMarker(base.uid)).length
      }))
      yield* on("isolated1")
      assert.deepStrictEqual(yield* ours, { firewall: 1, acl: 0 })
      yield* on("vpc1-web")
      assert.deepStrictEqual(yield* ours, { firewall: 0, acl: 1 }, "isolated -> tier: the firewall rule went")
      yield* on("isolated1")
      assert.deepStrictEqual(yield* ours, { firewall: 1, acl: 0 }, "tier -> isolated: the ACL item went")
      yield* on("vpc1-web")
      yield* on("vpc1-db")
      assert.deepStrictEqual(yield* ours, { firewall: 0, acl: 0 }, "tier -> tier on default_allow: the ACL item went")
    }).pipe(Effect.provide(env())))

  it.effect("a move off a tier whose IP lost its tier (its rules gone first) still takes the tier's ACL items along", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const cs = yield* CloudStackClient
      const nodes = yield* nodesFor("node-1", "node-2", "web-1", "web-2")
      const store = yield* annotationStore()
      const base = service({ loadBalancerSourceRanges: ["192.0.2.0/24"] })
      const on = (network: string) =>
        Effect.gen(function*() {
          const svc = { ...base, annotations: { [Annotations.NETWORK_ID]: yield* networkId(network) } }
          return yield* lbs.ensure(yield* request(svc, nodes, store))
        })
      const marked = Effect.map(simState, (st) => st.aclItems.filter((a) => a.reason === aclMarker(base.uid)).length)
      yield* on("vpc1-web")
      assert.strictEqual(yield* marked, 1)
      // Its rules deleted (by hand, or by an attempt of another process cut short after): the VPC IP has no tier.
      for (const rule of yield* rulesOfUid(base.uid)) {
        yield* cs.run(deleteLoadBalancerRule, { id: LbRuleId.make(rule.uuid) })
      }
      const recorded = (yield* Ref.get(store.ref))[Annotations.IP_ID]
      const ip = (yield* simState).publicIps.find((i) => i.uuid === recorded)
      assert.isDefined(ip)
      assert.isUndefined(ip?.associatedNetworkUuid)
      yield* on("isolated1")
      assert.strictEqual(yield* marked, 0, "the ACL item on the tier went with the move")
      assert.isUndefined((yield* simState).publicIps.find((i) => i.uuid === ip?.uuid && i.state !== "Free"))
    }).pipe(Effect.provide(env())))
})
