import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema, TestClock } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import type { CloudStackRequest } from "../../../src/cloudstack/CloudStackTransport.js"
import { PublicIpAddress } from "../../../src/cloudstack/commands/Addresses.js"
import { FirewallRule } from "../../../src/cloudstack/commands/Firewall.js"
import { LoadBalancerRule } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { LbRuleId, VmId } from "../../../src/cloudstack/Ids.js"
import { fetchFleet, fleetCompactor, type LbReads, memberGate } from "../../../src/provider/loadbalancer/Reads.js"
import { clientLayer } from "../../fakes/CloudStackTestEnv.js"
import { unreadable } from "../../fakes/Reads.js"
import { ok } from "../../fakes/ScriptedTransport.js"

const tags = [
  { key: "cloudstack-ccm/cluster", value: "kubernetes", resourcetype: "LoadBalancer", resourceid: "r1" },
  { key: "cloudstack-ccm/service", value: "default/web" },
  { key: "cloudstack-ccm/service-uid", value: "0e6a7b2c-5e1c-4000-a000-0000c0de0001" }
]
/** An LB rule as listLoadBalancerRules answers it. */
const wire = (id: string) => ({
  id,
  name: `a0e6a7b2c5e1c4000a0000000c0de0001-tcp-80`,
  algorithm: "roundrobin",
  publicip: "203.0.113.7",
  publicipid: "ip-1",
  publicport: "80",
  privateport: "30080",
  state: "Active",
  tags
})
const rule = (id: string, extra: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(LoadBalancerRule)({ ...wire(id), ...extra })
const firewall = (id: string, extra: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(FirewallRule)({ id, protocol: "tcp", ipaddressid: "ip-1", state: "Active", tags, ...extra })
const ip = (id: string, extra: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(PublicIpAddress)({
    id,
    ipaddress: "203.0.113.7",
    state: "Allocated",
    zoneid: "z1",
    issourcenat: false,
    isstaticnat: false,
    tags,
    ...extra
  })

describe("Reads.fleetCompactor", () => {
  it("a compacted fleet entry equals the decoded one, with or without its optional fields", () => {
    const compact = fleetCompactor()
    const full = {
      protocol: "tcp",
      cidrlist: "10.0.0.0/8,192.0.2.0/24",
      networkid: "net-1",
      zoneid: "z1",
      description: "web"
    }
    for (const r of [rule("r1"), rule("r2", full)]) assert.deepStrictEqual(compact.rule(r), r)
    const fw = { startport: 80, endport: 80, ipaddress: "203.0.113.7", networkid: "net-1", cidrlist: "0.0.0.0/0" }
    for (const f of [firewall("f1"), firewall("f2", fw)]) assert.deepStrictEqual(compact.firewall(f), f)
    const assoc = { associatednetworkid: "net-1", vpcid: "vpc-1", networkid: "public", virtualmachineid: "vm-1" }
    for (const i of [ip("ip-1"), ip("ip-2", assoc)]) assert.deepStrictEqual(compact.ip(i), i)
  })

  it("embedded tags keep their key and value only (their resource is the entity itself)", () => {
    assert.deepStrictEqual(rule("r1").tags[0], { key: "cloudstack-ccm/cluster", value: "kubernetes" })
  })
})

describe("Reads.fetchFleet", () => {
  const log: Array<string> = []
  const handler = (request: CloudStackRequest) => {
    const command = request.command
    const page = request.params["page"] ?? ""
    log.push(`${command} page ${page}`)
    if (command === "listLoadBalancerRules") {
      return Effect.succeed(
        ok(command, { count: 3, loadbalancerrule: page === "1" ? [wire("r1"), wire("r2")] : [wire("r3")] })
      )
    }
    return Effect.succeed(ok(command, {}))
  }

  it.effect("compacts each page of a listing before it asks for the next", () =>
    Effect.gen(function*() {
      const cs = yield* CloudStackClient
      const compactor = () => {
        const inner = fleetCompactor()
        return {
          ...inner,
          rule: (r: LoadBalancerRule) => {
            log.push(`compact ${r.id}`)
            return inner.rule(r)
          }
        }
      }
      const fleet = yield* fetchFleet(cs, compactor)
      assert.deepStrictEqual(
        log.filter((line) => line.startsWith("listLoadBalancerRules") || line.startsWith("compact")),
        [
          "listLoadBalancerRules page 1",
          "compact r1",
          "compact r2",
          "listLoadBalancerRules page 2",
          "compact r3"
        ]
      )
      assert.deepStrictEqual(fleet.rules, [rule("r1"), rule("r2"), rule("r3")])
      assert.deepStrictEqual([fleet.firewall, fleet.ips], [[], []])
    }).pipe(Effect.provide(clientLayer(handler))))
})

describe("Reads.memberGate", () => {
  /** Reads whose member listing takes a second and answers `answer` ids, counting those in flight. */
  const slow = (answer: number) => {
    const seen = { now: 0, max: 0 }
    const reads = unreadable("not read", {
      members: () =>
        Effect.sync(() => {
          seen.now++
          seen.max = Math.max(seen.max, seen.now)
        }).pipe(
          Effect.zipRight(Effect.sleep("1 second")),
          Effect.as(Array.from({ length: answer }, (_, i) => VmId.make(`vm-${i}`))),
          Effect.ensuring(Effect.sync(() => void seen.now--))
        )
    })
    return { reads, seen }
  }
  const tenAtOnce = (reads: LbReads) =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 10 }, (_, i) => LbRuleId.make(`r${i}`)), (id) => reads.members(id), {
          concurrency: "unbounded"
        })
      )
      yield* TestClock.adjust("1 minute")
      return yield* Fiber.join(fiber)
    })

  it.effect("a page of member VMs in flight: as many listings as fit by the members each may answer", () =>
    Effect.gen(function*() {
      const gate = memberGate(yield* Effect.makeSemaphore(500), 500)
      const small = slow(2)
      yield* tenAtOnce(gate(small.reads, 2))
      assert.strictEqual(small.seen.max, 10)
      const large = slow(100)
      yield* tenAtOnce(gate(large.reads, 250))
      assert.strictEqual(large.seen.max, 2)
      const huge = slow(100)
      yield* tenAtOnce(gate(huge.reads, 5000))
      assert.strictEqual(huge.seen.max, 1, "never more than a page: one at a time")
    }))

  it.effect("a listing that answered more members than the nodes asked for makes every later one count that many", () =>
    Effect.gen(function*() {
      const gate = memberGate(yield* Effect.makeSemaphore(500), 500)
      // A rule with 300 members (stale ones, after a mass removal of nodes) though 2 nodes are asked for.
      const stale = slow(300)
      yield* tenAtOnce(gate(stale.reads, 2))
      const after = slow(2)
      yield* tenAtOnce(gate(after.reads, 2))
      assert.strictEqual(after.seen.max, 1)
    }))
})
