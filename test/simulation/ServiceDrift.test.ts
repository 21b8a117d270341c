import { type Duration, Effect } from "effect"
import { assert, describe, it } from "vitest"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { associateIpAddress } from "../../src/cloudstack/commands/Addresses.js"
import { deleteFirewallRule } from "../../src/cloudstack/commands/Firewall.js"
import {
  createLoadBalancerRule,
  deleteLoadBalancerRule,
  removeFromLoadBalancerRule
} from "../../src/cloudstack/commands/LoadBalancers.js"
import { deleteNetworkACL } from "../../src/cloudstack/commands/NetworkAcls.js"
import { deleteTags } from "../../src/cloudstack/commands/Tags.js"
import { AclItemId, FirewallRuleId, LbRuleId, NetworkId, VmId } from "../../src/cloudstack/Ids.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as CallCounts from "../../src/simulation/cloudstack/CallCounts.js"
import { pass, runScoped } from "../fakes/Virtual.js"
import {
  cloud,
  counters,
  createService,
  env,
  eventsOf,
  registerNodes,
  rulesOf,
  startController
} from "./ServiceScenariosEnv.js"

const mutatingSince = (mark: ReadonlyMap<string, number>) =>
  Effect.map(counters, (now) => CallCounts.total(CallCounts.since(mark, now), CallCounts.isMutation))
const readsSince = (mark: ReadonlyMap<string, number>) =>
  Effect.map(
    counters,
    (now) =>
      Object.fromEntries(
        [...now].filter(([c, v]) => c.startsWith("list") && v > (mark.get(c) ?? 0)).map((
          [c, v]
        ) => [c, v - (mark.get(c) ?? 0)])
      )
  )
const driftMetric = (kind: string) =>
  Effect.map(
    Effect.flatMap(Metrics.Metrics, Metrics.render),
    (text) =>
      Number(
        text.split("\n").find((l) => l.startsWith(`cloudstack_ccm_lb_drift_repaired_total{kind="${kind}"}`))?.split(
          " "
        )[1] ?? "0"
      )
  )

/** Service `web` (port 80) converged on node-1 and node-2 under a controller with this resync period, and its rule. */
const webOnTwoNodes = (resyncPeriod: Duration.DurationInput) =>
  Effect.gen(function*() {
    yield* registerNodes("node-1", "node-2")
    yield* startController({ resyncPeriod })
    const web = yield* createService({ name: "web" })
    yield* pass("3 seconds")
    const [rule] = yield* rulesOf(web.metadata.uid)
    if (rule === undefined) return yield* Effect.dieMessage("web has no rule")
    return { web, rule }
  })
const deleteRule = (uuid: string) =>
  Effect.flatMap(CloudStackClient, (cs) => cs.run(deleteLoadBalancerRule, { id: LbRuleId.make(uuid) }))

describe("service controller: drift repair every --lb-resync-period", () => {
  it("nothing drifted: a pass reads the account's rules, firewall rules and IPs once and changes nothing", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      yield* startController({ resyncPeriod: "1 minute" })
      for (const name of ["a", "b", "c", "d"]) yield* createService({ name })
      yield* pass("3 seconds")
      const mark = yield* counters
      // exactly one pass (at 60 s) and its minute of member audits
      yield* pass("60 seconds")
      assert.strictEqual(yield* mutatingSince(mark), 0)
      const reads = yield* readsSince(mark)
      // one page each for every Service together; members rule by rule (4 audits spread over the minute)
      assert.strictEqual(reads["listLoadBalancerRules"], 1, JSON.stringify(reads))
      assert.strictEqual(reads["listFirewallRules"], 1, JSON.stringify(reads))
      assert.strictEqual(reads["listPublicIpAddresses"], 1, JSON.stringify(reads))
      assert.isAtMost(reads["listLoadBalancerRuleInstances"] ?? 0, 4)
    }).pipe(Effect.provide(env()), runScoped))

  it("a rule and a firewall rule removed by hand come back; the metric counts each kind", () =>
    Effect.gen(function*() {
      yield* registerNodes("node-1", "node-2")
      yield* startController({ resyncPeriod: "1 minute" })
      const web = yield* createService({
        name: "web",
        ports: [{ name: "http", port: 80 }, { name: "https", port: 443 }]
      })
      yield* pass("3 seconds")
      const cs = yield* CloudStackClient
      const rules = yield* rulesOf(web.metadata.uid)
      const https = rules.find((r) => r.publicPort === 443)!
      const http = rules.find((r) => r.publicPort === 80)!
      const fw = (yield* cloud).firewallRules.find((f) => f.ipUuid === http.ipUuid && f.startport === 80)!
      // by hand: the 443 rule deleted, the 80 firewall rule deleted
      yield* cs.run(deleteLoadBalancerRule, { id: LbRuleId.make(https.uuid) })
      yield* cs.run(deleteFirewallRule, { id: FirewallRuleId.make(fw.uuid) })
      yield* pass("70 seconds")
      const after = yield* rulesOf(web.metadata.uid)
      assert.deepStrictEqual(after.map((r) => [r.publicPort, r.members.size]).sort(), [[443, 2], [80, 2]])
      assert.deepStrictEqual(
        (yield* cloud).firewallRules.filter((f) => f.ipUuid === http.ipUuid).map((f) => f.startport).sort(),
        [443, 80]
      )
      assert.isAtLeast(yield* driftMetric("rule"), 1)
      assert.isAtLeast(yield* driftMetric("firewall"), 1)
      // the recreated rule and firewall rule get their tags, but no tag had drifted
      assert.strictEqual(yield* driftMetric("tag"), 0)
    }).pipe(Effect.provide(env()), runScoped))

  it("an ownership tag deleted by hand comes back, counted as a tag repair only", () =>
    Effect.gen(function*() {
      const { rule, web } = yield* webOnTwoNodes("1 minute")
      const uidTag = (s: Effect.Effect.Success<typeof cloud>) =>
        s.tags.find((t) => t.resourceUuid === rule.uuid && t.key === "cloudstack-ccm/service-uid")
      assert.isDefined(uidTag(yield* cloud))
      yield* Effect.flatMap(CloudStackClient, (cs) =>
        cs.run(deleteTags, {
          resourceType: "LoadBalancer",
          resourceIds: [rule.uuid],
          tags: [{ key: "cloudstack-ccm/service-uid", value: web.metadata.uid }]
        }))
      assert.isUndefined(uidTag(yield* cloud))
      yield* pass("70 seconds")
      assert.strictEqual(uidTag(yield* cloud)?.value, web.metadata.uid)
      assert.strictEqual(yield* driftMetric("tag"), 1)
      for (const kind of ["rule", "firewall", "ip"]) assert.strictEqual(yield* driftMetric(kind), 0, kind)
    }).pipe(Effect.provide(env()), runScoped))

  it("a rule deleted by hand and found by a node change's member update is counted as a rule repair", () =>
    Effect.gen(function*() {
      // no drift pass in this test: the member update finds the rule gone
      const { rule, web } = yield* webOnTwoNodes("1 hour")
      yield* deleteRule(rule.uuid)
      yield* registerNodes("node-3")
      yield* pass("3 seconds")
      assert.deepStrictEqual((yield* rulesOf(web.metadata.uid)).map((r) => [r.name, r.members.size]), [[rule.name, 3]])
      assert.strictEqual(yield* driftMetric("rule"), 1)
    }).pipe(Effect.provide(env()), runScoped))

  it("a rule deleted by hand while a member audit and a structural pass both look is counted once", () =>
    Effect.gen(function*() {
      const { rule, web } = yield* webOnTwoNodes("1 minute")
      // past the first pass (60 s), into the audit's wait: at 120 s the audit and the next pass run together
      yield* pass("62 seconds")
      yield* deleteRule(rule.uuid)
      yield* pass("70 seconds")
      assert.deepStrictEqual((yield* rulesOf(web.metadata.uid)).map((r) => [r.name, r.members.size]), [[rule.name, 2]])
      assert.strictEqual(yield* driftMetric("rule"), 1)
    }).pipe(Effect.provide(env()), runScoped))

  it("a member taken off a rule by hand comes back with the next audit", () =>
    Effect.gen(function*() {
      const { rule, web } = yield* webOnTwoNodes("1 minute")
      const [member] = [...rule.members.keys()]
      yield* Effect.flatMap(CloudStackClient, (cs) =>
        cs.run(removeFromLoadBalancerRule, {
          id: LbRuleId.make(rule.uuid),
          virtualMachineIds: [VmId.make(member ?? "")]
        }))
      assert.strictEqual((yield* rulesOf(web.metadata.uid))[0]?.members.size, 1)
      yield* pass("130 seconds")
      assert.strictEqual((yield* rulesOf(web.metadata.uid))[0]?.members.size, 2)
      assert.isAtLeast(yield* driftMetric("member"), 1)
    }).pipe(Effect.provide(env()), runScoped))

  it("a VPC ACL item deleted by hand comes back", () =>
    Effect.gen(function*() {
      yield* registerNodes("web-1", "web-2")
      yield* startController({ resyncPeriod: "1 minute" })
      const web = yield* createService({ name: "web" })
      yield* pass("3 seconds")
      const marker = `cloudstack-ccm:${web.metadata.uid}`
      const item = (yield* cloud).aclItems.find((a) => a.reason === marker)!
      yield* Effect.flatMap(CloudStackClient, (cs) => cs.run(deleteNetworkACL, { id: AclItemId.make(item.uuid) }))
      assert.isUndefined((yield* cloud).aclItems.find((a) => a.reason === marker))
      yield* pass("70 seconds")
      assert.isDefined((yield* cloud).aclItems.find((a) => a.reason === marker))
      assert.isAtLeast(yield* driftMetric("acl"), 1)
    }).pipe(Effect.provide(env()), runScoped))

  // Chaos seed 54: a Service converged without a rule (its only port held on the address it asks
  // for) follows its nodes' network; when they moved, the drift check found that the address is now
  // on another network than the nodes (a user error) and dropped the finding, so nobody told the user.
  it("a converged Service that can no longer be built as asked is ensured again: the user is told", () =>
    Effect.gen(function*() {
      const cs = yield* CloudStackClient
      const state = yield* cloud
      const net = NetworkId.make(state.networks.find((n) => n.name === "isolated1")?.uuid ?? "")
      const users = yield* cs.run(associateIpAddress, { networkId: net, ipAddress: "203.0.113.61" })
      yield* cs.run(createLoadBalancerRule, {
        name: "users-web",
        algorithm: "roundrobin",
        privatePort: 8080,
        publicPort: 80,
        publicIpId: users.id,
        networkId: net,
        protocol: "tcp",
        openFirewall: false
      })
      yield* registerNodes("node-1")
      yield* startController({ resyncPeriod: "1 minute" })
      yield* createService({ name: "web", loadBalancerIP: "203.0.113.61" })
      yield* pass("10 seconds")
      const reasons = Effect.map(eventsOf("web"), (events) => events.map((e) => e.reason))
      assert.include(yield* reasons, "PortConflict", "converged on the address, without a rule")
      assert.notInclude(yield* reasons, "LoadBalancerIPNotAvailable")
      // the nodes move to isolated-ns
      yield* registerNodes("ns-node-1", "ns-node-2")
      const nodes = yield* NodeApi
      const leaving = yield* nodes.get("node-1")
      yield* nodes.delete("node-1", leaving._tag === "Some" ? leaving.value.metadata.uid : "")
      yield* pass("70 seconds")
      assert.include(yield* reasons, "LoadBalancerIPNotAvailable")
    }).pipe(Effect.provide(env()), runScoped))
})
