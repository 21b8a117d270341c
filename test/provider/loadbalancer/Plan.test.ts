import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import type { FirewallRule } from "../../../src/cloudstack/commands/Firewall.js"
import { NetworkId, VpcId } from "../../../src/cloudstack/Ids.js"
import type { ObservedLb } from "../../../src/provider/loadbalancer/ObservedLb.js"
import * as Ownership from "../../../src/provider/loadbalancer/Ownership.js"
import { type DesiredLb, plan } from "../../../src/provider/loadbalancer/Plan.js"
import {
  acl,
  desired,
  fw,
  ip,
  isolated,
  members,
  observed,
  OTHER_NET,
  port,
  recorded,
  rule,
  show,
  spec,
  tier,
  VPC
} from "./PlanFixtures.js"

/** A firewall rule as listed when CloudStack omits an empty cidrlist. */
const withoutCidrs = ({ cidrList: _, ...rest }: FirewallRule): FirewallRule => rest

const P80 = port("tcp", 80)
const P443 = port("tcp", 443)

/** The LB as this CCM leaves it: the recorded, associated ip-1 with one rule per port, members, firewall rules. */
const steady = (overrides: Partial<ObservedLb> = {}): ObservedLb =>
  observed({
    ips: [ip("ip-1", { recorded: true })],
    rules: [rule("r1", "ip-1", P80)],
    members: members({ r1: ["vm-a", "vm-b"] }),
    firewall: [fw("fw1", "ip-1", "tcp", 80)],
    ...overrides
  })
const steadyDesired = (overrides: Partial<DesiredLb> = {}) => desired({ ownership: recorded("ip-1"), ...overrides })

/** The one-port LB built on `ip` (an id or "(acquired)"): rule, members, firewall rule. */
const builtOn = (ipRef: string) => [
  `CreateRule ${ipRef} tcp-80 80>30080`,
  "AssignMembers (created tcp-80) [vm-a,vm-b]",
  `CreateFirewall ${ipRef} tcp/80 [0.0.0.0/0]`
]
/** The one-port LB built on a newly associated IP. */
const builtOnNew = (address = "(any)") => [`AcquireIp ${address}`, ...builtOn("(acquired)")]

const stepsOf = (d: DesiredLb, o: ObservedLb): ReadonlyArray<string> =>
  Either.match(plan(d, o), {
    onLeft: (e) => [`LbUserError ${e.reason}: ${e.detail}`],
    onRight: (p) => p.steps.map(show)
  })

interface Row {
  readonly title: string
  readonly d: DesiredLb
  readonly o: ObservedLb
  readonly steps: ReadonlyArray<string>
}

const runTable = (rows: ReadonlyArray<Row>) => {
  for (const row of rows) {
    it(row.title, () => {
      assert.deepStrictEqual(stepsOf(row.d, row.o), row.steps)
    })
  }
}

describe("Plan: create, no-op and members", () => {
  runTable([
    {
      title: "fresh: acquire an IP, the rule, its members, the firewall rule, then the record",
      d: desired(),
      o: observed(),
      steps: [
        ...builtOnNew(),
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "fresh with two ports: rules and their members first, then the firewall rules",
      d: desired({ spec: spec({ ports: [P80, port("udp", 53)], sourceRanges: ["10.0.0.0/8"] }) }),
      o: observed(),
      steps: [
        "AcquireIp (any)",
        "CreateRule (acquired) tcp-80 80>30080",
        "AssignMembers (created tcp-80) [vm-a,vm-b]",
        "CreateRule (acquired) udp-53 53>30053",
        "AssignMembers (created udp-53) [vm-a,vm-b]",
        "CreateFirewall (acquired) tcp/80 [10.0.0.0/8]",
        "CreateFirewall (acquired) udp/53 [10.0.0.0/8]",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "fresh without members: no empty assignment",
      d: desired({ members: [] }),
      o: observed(),
      steps: [
        "AcquireIp (any)",
        "CreateRule (acquired) tcp-80 80>30080",
        "CreateFirewall (acquired) tcp/80 [0.0.0.0/0]",
        "Persist (acquired) associated=true"
      ]
    },
    { title: "steady state: no step at all", d: steadyDesired(), o: steady(), steps: [] },
    {
      title: "the server spells the algorithm in another case: no step",
      d: steadyDesired(),
      o: steady({ rules: [rule("r1", "ip-1", P80, { algorithm: "RoundRobin" })] }),
      steps: []
    },
    {
      title: "a firewall rule without a cidrlist means everyone: no step",
      d: steadyDesired(),
      o: steady({ firewall: [withoutCidrs(fw("fw1", "ip-1", "TCP", 80))] }),
      steps: []
    },
    {
      title:
        "the Go CCM's LB with a nodePort change: recorded before its only rule goes (a failure after it must not lose the IP)",
      d: desired({ spec: spec({ ports: [port("tcp", 80, 30099)] }) }),
      o: steady({ ips: [ip("ip-1")] }),
      steps: [
        "Persist ip-1 associated=true",
        "DeleteRule r1 tcp-80",
        "CreateRule ip-1 tcp-80 80>30099",
        "AssignMembers (created tcp-80) [vm-a,vm-b]"
      ]
    },
    {
      title: "the Go CCM's rules on two IPs: the record would hide the other one, so it is written last",
      d: desired({ spec: spec({ ports: [port("tcp", 80, 30099)] }) }),
      o: steady({ ips: [ip("ip-1"), ip("ip-2")], rules: [rule("r1", "ip-1", P80), rule("r2", "ip-2", P443)] }),
      steps: [
        "DeleteRule r1 tcp-80",
        "CreateRule ip-1 tcp-80 80>30099",
        "AssignMembers (created tcp-80) [vm-a,vm-b]",
        "ReleaseIp ip-2 203.0.113.2",
        "Persist ip-1 associated=true"
      ]
    },
    {
      title: "the Go CCM's LB (rules by name, no record): adopted with the record only",
      d: desired(),
      o: steady({ ips: [ip("ip-1")] }),
      steps: ["Persist ip-1 associated=true"]
    },
    {
      title: "members: the new ones are assigned before the old ones are removed",
      d: steadyDesired(),
      o: steady({ members: members({ r1: ["vm-a", "vm-old"] }) }),
      steps: ["AssignMembers r1 [vm-b]", "RemoveMembers r1 [vm-old]"]
    },
    {
      title: "members of two rules: every assignment before any removal",
      d: steadyDesired({ spec: spec({ ports: [P80, P443] }), members: [] }),
      o: steady({
        rules: [rule("r1", "ip-1", P80), rule("r2", "ip-1", P443)],
        members: members({ r1: ["vm-a"], r2: ["vm-b"] }),
        firewall: [fw("fw1", "ip-1", "tcp", 80), fw("fw2", "ip-1", "tcp", 443)]
      }),
      steps: ["RemoveMembers r2 [vm-b]", "RemoveMembers r1 [vm-a]"]
    },
    {
      title: "members of two rules, both changing",
      d: steadyDesired({ spec: spec({ ports: [P80, P443] }) }),
      o: steady({
        rules: [rule("r1", "ip-1", P80), rule("r2", "ip-1", P443)],
        members: members({ r1: ["vm-a", "vm-old"], r2: ["vm-old"] }),
        firewall: [fw("fw1", "ip-1", "tcp", 80), fw("fw2", "ip-1", "tcp", 443)]
      }),
      steps: [
        "AssignMembers r1 [vm-b]",
        "AssignMembers r2 [vm-a,vm-b]",
        "RemoveMembers r2 [vm-old]",
        "RemoveMembers r1 [vm-old]"
      ]
    },
    {
      title: "a rule whose members were not listed gets them all",
      d: steadyDesired(),
      o: steady({ members: new Map() }),
      steps: ["AssignMembers r1 [vm-a,vm-b]"]
    }
  ])
})

describe("Plan: rules change", () => {
  runTable([
    {
      title: "algorithm: updated in place",
      d: steadyDesired({ spec: spec({ algorithm: "source" }) }),
      o: steady(),
      steps: ["UpdateRule r1 tcp-80 tcp-80 80>30080"]
    },
    {
      title: "rule cidrs set, in place",
      d: steadyDesired({ spec: spec({ ruleCidrs: Option.some(["10.0.0.0/8"]) }) }),
      o: steady(),
      steps: ["UpdateRule r1 tcp-80 tcp-80 80>30080"]
    },
    {
      title: "rule cidrs changed, in place",
      d: steadyDesired({ spec: spec({ ruleCidrs: Option.some(["10.0.0.0/8", "192.0.2.0/24"]) }) }),
      o: steady({ rules: [rule("r1", "ip-1", P80, { cidrs: ["10.0.0.0/8"] })] }),
      steps: ["UpdateRule r1 tcp-80 tcp-80 80>30080"]
    },
    {
      title: "rule cidrs the same, spelt otherwise: no step",
      d: steadyDesired({ spec: spec({ ruleCidrs: Option.some(["10.0.0.0/8", "192.0.2.7"]) }) }),
      o: steady({ rules: [rule("r1", "ip-1", P80, { cidrs: ["192.0.2.7/32", "10.0.0.0/8"] })] }),
      steps: []
    },
    {
      title: "no rule cidrs wanted and the Go CCM's 0.0.0.0/0 (or 0.0.0.0/0 + ::/0): no step",
      d: steadyDesired({ recreateForCidrs: true }),
      o: steady({ rules: [rule("r1", "ip-1", P80, { cidrs: ["0.0.0.0/0", "::/0"] })] }),
      steps: []
    },
    {
      title: "rule cidrs changed on a server that ignores cidrlist updates: delete first (same port), then create",
      d: steadyDesired({ spec: spec({ ruleCidrs: Option.some(["10.0.0.0/8"]) }), recreateForCidrs: true }),
      o: steady(),
      steps: ["DeleteRule r1 tcp-80", "CreateRule ip-1 tcp-80 80>30080", "AssignMembers (created tcp-80) [vm-a,vm-b]"]
    },
    {
      title: "rule cidrs removed: an update cannot clear a cidrlist, so the rule is recreated",
      d: steadyDesired(),
      o: steady({ rules: [rule("r1", "ip-1", P80, { cidrs: ["10.0.0.0/8"] })] }),
      steps: ["DeleteRule r1 tcp-80", "CreateRule ip-1 tcp-80 80>30080", "AssignMembers (created tcp-80) [vm-a,vm-b]"]
    },
    {
      title: "algorithm and rule cidrs change on an old server: one recreate, no update",
      d: steadyDesired({
        spec: spec({ algorithm: "leastconn", ruleCidrs: Option.some(["10.0.0.0/8"]) }),
        recreateForCidrs: true
      }),
      o: steady(),
      steps: ["DeleteRule r1 tcp-80", "CreateRule ip-1 tcp-80 80>30080", "AssignMembers (created tcp-80) [vm-a,vm-b]"]
    },
    {
      title: "nodePort change: the old rule blocks the public port, goes first; the firewall rule stays",
      d: steadyDesired({ spec: spec({ ports: [port("tcp", 80, 30099)] }) }),
      o: steady(),
      steps: ["DeleteRule r1 tcp-80", "CreateRule ip-1 tcp-80 80>30099", "AssignMembers (created tcp-80) [vm-a,vm-b]"]
    },
    {
      title: "public port change: the new rule and its firewall rule first, then the old firewall rule and rule",
      d: steadyDesired({ spec: spec({ ports: [port("tcp", 8080, 30080)] }) }),
      o: steady(),
      steps: [
        "CreateRule ip-1 tcp-8080 8080>30080",
        "AssignMembers (created tcp-8080) [vm-a,vm-b]",
        "CreateFirewall ip-1 tcp/8080 [0.0.0.0/0]",
        "DeleteFirewall fw1 80",
        "DeleteRule r1 tcp-80"
      ]
    },
    {
      title: "TCP → PROXY protocol on the same port: the old rule first; the tcp firewall rule is kept",
      d: steadyDesired({ spec: spec({ ports: [port("tcp-proxy", 80)], proxyProtocol: true }) }),
      o: steady(),
      steps: [
        "DeleteRule r1 tcp-80",
        "CreateRule ip-1 tcp-proxy-80 80>30080",
        "AssignMembers (created tcp-proxy-80) [vm-a,vm-b]"
      ]
    },
    {
      title: "TCP → UDP on the same port: the tcp firewall rule and the rule go first, a udp firewall rule comes",
      d: steadyDesired({ spec: spec({ ports: [port("udp", 80)] }) }),
      o: steady(),
      steps: [
        "DeleteFirewall fw1 80",
        "DeleteRule r1 tcp-80",
        "CreateRule ip-1 udp-80 80>30080",
        "AssignMembers (created udp-80) [vm-a,vm-b]",
        "CreateFirewall ip-1 udp/80 [0.0.0.0/0]"
      ]
    },
    {
      title: "a port removed: its firewall rule, then its rule; the other port untouched",
      d: steadyDesired(),
      o: steady({
        rules: [rule("r1", "ip-1", P80), rule("r2", "ip-1", P443)],
        members: members({ r1: ["vm-a", "vm-b"], r2: ["vm-a", "vm-b"] }),
        firewall: [fw("fw1", "ip-1", "tcp", 80), fw("fw2", "ip-1", "tcp", 443)]
      }),
      steps: ["DeleteFirewall fw2 443", "DeleteRule r2 tcp-443"]
    },
    {
      title: "a duplicate of a kept rule (same name and port) is deleted, its firewall rule kept",
      d: steadyDesired(),
      o: steady({ rules: [rule("r1", "ip-1", P80), rule("r1-dup", "ip-1", P80)] }),
      steps: ["DeleteRule r1-dup tcp-80"]
    },
    {
      title: "the firewall rules of other ports, port ranges and other protocols on the IP are never touched",
      d: steadyDesired(),
      o: steady({
        firewall: [
          fw("fw1", "ip-1", "tcp", 80),
          fw("user-ssh", "ip-1", "tcp", 22, ["192.0.2.0/24"]),
          { ...fw("user-range", "ip-1", "tcp", 80, ["192.0.2.0/24"]), endPort: 90 },
          fw("user-icmp", "ip-1", "icmp", 80, ["192.0.2.0/24"]),
          fw("elsewhere", "ip-9", "tcp", 80, ["192.0.2.0/24"])
        ]
      }),
      steps: []
    }
  ])
})

describe("Plan: firewall source ranges", () => {
  runTable([
    {
      title: "overlapping new ranges: the old firewall rule goes first (CloudStack 537 otherwise)",
      d: steadyDesired({ spec: spec({ sourceRanges: ["10.0.0.0/8"] }) }),
      o: steady(),
      steps: ["DeleteFirewall fw1 80", "CreateFirewall ip-1 tcp/80 [10.0.0.0/8]"]
    },
    {
      title: "disjoint new ranges: the new firewall rule first, so the port is never closed",
      d: steadyDesired({ spec: spec({ sourceRanges: ["10.0.0.0/8"] }) }),
      o: steady({ firewall: [fw("fw1", "ip-1", "tcp", 80, ["192.0.2.0/24"])] }),
      steps: ["CreateFirewall ip-1 tcp/80 [10.0.0.0/8]", "DeleteFirewall fw1 80"]
    },
    {
      title: "one of two firewall rules matches: the other goes, after",
      d: steadyDesired({ spec: spec({ sourceRanges: ["10.0.0.0/8"] }) }),
      o: steady({
        firewall: [fw("fw-old", "ip-1", "tcp", 80, ["192.0.2.0/24"]), fw("fw1", "ip-1", "tcp", 80, ["10.0.0.0/8"])]
      }),
      steps: ["DeleteFirewall fw-old 80"]
    },
    {
      title: "the same ranges in another order and spelling: no step",
      d: steadyDesired({ spec: spec({ sourceRanges: ["192.0.2.7", "10.0.0.0/8"] }) }),
      o: steady({ firewall: [fw("fw1", "ip-1", "tcp", 80, ["10.0.0.0/8", "192.0.2.7/32"])] }),
      steps: []
    },
    {
      title: "a missing firewall rule is recreated",
      d: steadyDesired(),
      o: steady({ firewall: [] }),
      steps: ["CreateFirewall ip-1 tcp/80 [0.0.0.0/0]"]
    },
    {
      title: "PROXY protocol ports open tcp",
      d: steadyDesired({ spec: spec({ ports: [port("tcp-proxy", 80)], proxyProtocol: true }) }),
      o: steady({ rules: [rule("r1", "ip-1", port("tcp-proxy", 80))] }),
      steps: []
    }
  ])
})

describe("Plan: the public IP", () => {
  const REQ = "198.51.100.5"
  const requestedSpec = spec({ requestedIp: Option.some(REQ) })
  const userIp = ip("ip-7", { address: REQ, owned: false })
  runTable([
    {
      title: "a free requested IP is associated",
      d: desired({ spec: requestedSpec }),
      o: observed({ requested: Option.some({ _tag: "Free", address: REQ }) }),
      steps: [
        ...builtOnNew(REQ),
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "an available requested IP (the user's) is used as it is, recorded (as not ours) before its first rule",
      d: desired({ spec: requestedSpec }),
      o: observed({ requested: Option.some({ _tag: "Available", ip: userIp }) }),
      steps: [
        "Persist ip-7 associated=false",
        ...builtOn("ip-7")
      ]
    },
    {
      title: "an unavailable requested IP is the user's error, and nothing is done",
      d: desired({ spec: requestedSpec }),
      o: observed({ requested: Option.some({ _tag: "Unavailable", address: REQ, why: "it is Reserved" }) }),
      steps: [`LbUserError LoadBalancerIPNotAvailable: IP ${REQ} cannot be used: it is Reserved`]
    },
    {
      title: "a requested IP nobody looked up is not guessed at",
      d: desired({ spec: requestedSpec }),
      o: observed(),
      steps: [`LbUserError LoadBalancerIPNotAvailable: IP ${REQ} cannot be used: it could not be looked up`]
    },
    {
      title: "a requested IP the LB already has: no lookup needed, no step",
      d: steadyDesired({ spec: requestedSpec }),
      o: steady({ ips: [ip("ip-1", { address: REQ, recorded: true })] }),
      steps: []
    },
    {
      title: "a move to a free IP: new rules first, the old owned IP released at the end (its rules go with it)",
      d: steadyDesired({ spec: requestedSpec }),
      o: steady({ requested: Option.some({ _tag: "Free", address: REQ }) }),
      steps: [
        ...builtOnNew(REQ),
        "ReleaseIp ip-1 203.0.113.1",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "a move to the user's IP: the old owned IP released after the new rules",
      d: steadyDesired({ spec: requestedSpec }),
      o: steady({ requested: Option.some({ _tag: "Available", ip: userIp }) }),
      steps: [
        ...builtOn("ip-7"),
        "ReleaseIp ip-1 203.0.113.1",
        "Persist ip-7 associated=false"
      ]
    },
    {
      title: "a move away from an IP that is not ours: its firewall rules and rules are deleted, the IP kept",
      d: steadyDesired({ spec: requestedSpec, ownership: recorded("ip-1", false) }),
      o: steady({
        ips: [ip("ip-1", { recorded: true, owned: false })],
        requested: Option.some({ _tag: "Free", address: REQ })
      }),
      steps: [
        ...builtOnNew(REQ),
        "DeleteFirewall fw1 80",
        "DeleteRule r1 tcp-80",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "a move with keep-ip: the old IP's rules are deleted, the IP kept",
      d: steadyDesired({ spec: spec({ requestedIp: Option.some(REQ), keepIp: true }) }),
      o: steady({ requested: Option.some({ _tag: "Free", address: REQ }) }),
      steps: [
        ...builtOnNew(REQ),
        "DeleteFirewall fw1 80",
        "DeleteRule r1 tcp-80",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "a move away from an IP with another Service's rules: ours are deleted, the IP kept",
      d: steadyDesired({ spec: requestedSpec }),
      o: steady({
        ips: [ip("ip-1", { recorded: true, foreignRules: 2 })],
        requested: Option.some({ _tag: "Free", address: REQ })
      }),
      steps: [
        ...builtOnNew(REQ),
        "DeleteFirewall fw1 80",
        "DeleteRule r1 tcp-80",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "an IP bound to another network is not reused: a new one on the LB's network, the old released",
      d: steadyDesired(),
      o: steady({
        ips: [ip("ip-1", { recorded: true, associatedNetworkId: Option.some(OTHER_NET) })],
        rules: [rule("r1", "ip-1", P80, { networkId: Option.some(OTHER_NET) })]
      }),
      steps: [
        ...builtOnNew(),
        "ReleaseIp ip-1 203.0.113.1",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title:
        "a move cut short after its association, and the LB moves again: the IP adopted by `allocating` is released before the next is recorded in its place",
      d: steadyDesired({ ownership: { ...recorded("ip-1"), allocating: Option.some("203.0.113.5") } }),
      o: steady({
        ips: [
          ip("ip-1", { recorded: true, associatedNetworkId: Option.some(OTHER_NET) }),
          ip("ip-5", { associatedNetworkId: Option.some(OTHER_NET) })
        ],
        rules: [rule("r1", "ip-1", P80, { networkId: Option.some(OTHER_NET) })]
      }),
      steps: [
        "ReleaseIp ip-5 203.0.113.5",
        ...builtOnNew(),
        "ReleaseIp ip-1 203.0.113.1",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title:
        "keep-ip keeps the recorded IP, not an address adopted by `allocating` that the LB does not use: that one is released",
      d: steadyDesired({
        spec: spec({ ports: [], keepIp: true }),
        members: [],
        ownership: { ...recorded("ip-1"), allocating: Option.some("203.0.113.5") }
      }),
      o: observed({ ips: [ip("ip-1", { recorded: true }), ip("ip-5")] }),
      steps: ["ReleaseIp ip-5 203.0.113.5", "Persist ip-1 associated=true"]
    },
    {
      title:
        "no address asked for, the recorded IP carries none of its rules and another Service's rule holds its port: a new IP, the shared one left to the others",
      d: steadyDesired(),
      o: observed({ ips: [ip("ip-1", { recorded: true, foreignRules: 1, foreignPorts: [80] })] }),
      steps: [...builtOnNew(), "Persist (acquired) associated=true"]
    },
    {
      title: "a requested address held on another network (Observe does not look it up again) is refused, saying why",
      d: steadyDesired({ spec: requestedSpec }),
      o: steady({
        ips: [ip("ip-1", { recorded: true, address: REQ, associatedNetworkId: Option.some(OTHER_NET) })],
        rules: [rule("r1", "ip-1", P80, { networkId: Option.some(OTHER_NET) })]
      }),
      steps: [
        `LbUserError LoadBalancerIPNotAvailable: IP ${REQ} cannot be used: it is bound to another network than net-1`
      ]
    },
    {
      title: "an IP without a network yet is usable; an IP with rules wins over the recorded one without",
      d: steadyDesired(),
      o: steady({
        ips: [ip("ip-1", { recorded: true, associatedNetworkId: Option.none() }), ip("ip-2")],
        rules: [rule("r1", "ip-2", P80)],
        firewall: [fw("fw1", "ip-2", "tcp", 80)]
      }),
      steps: ["ReleaseIp ip-1 203.0.113.1", "Persist ip-2 associated=true"]
    },
    {
      title: "an address adopted after a crash between recording and associating: recorded, then built on",
      d: desired({ ownership: { ...Ownership.empty, allocating: Option.some("203.0.113.5") } }),
      o: observed({ ips: [ip("ip-5")] }),
      steps: [
        "Persist ip-5 associated=true",
        ...builtOn("ip-5")
      ]
    },
    {
      title: "the association never happened: a fresh one, the stale allocating record replaced",
      d: desired({ ownership: { ...Ownership.empty, allocating: Option.some("203.0.113.5") } }),
      o: observed(),
      steps: [
        ...builtOnNew(),
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "the record says not ours but the IP is: the record is corrected",
      d: steadyDesired({ ownership: recorded("ip-1", false) }),
      o: steady(),
      steps: ["Persist ip-1 associated=true"]
    },
    {
      title: "the recorded IP is gone: a new one",
      d: steadyDesired(),
      o: observed(),
      steps: [
        ...builtOnNew(),
        "Persist (acquired) associated=true"
      ]
    }
  ])
})

describe("Plan: no ports (delete, or nothing left to balance)", () => {
  runTable([
    {
      title: "an owned IP is released whole: no rule, member or firewall rule deleted one by one",
      d: steadyDesired({ spec: spec({ ports: [] }), members: [] }),
      o: steady(),
      steps: ["ReleaseIp ip-1 203.0.113.1", "Persist (none) associated=false"]
    },
    {
      title: "keep-ip: the firewall rules and rules go, the IP stays recorded",
      d: steadyDesired({ spec: spec({ ports: [], keepIp: true }), members: [] }),
      o: steady(),
      steps: ["DeleteFirewall fw1 80", "DeleteRule r1 tcp-80"]
    },
    {
      title: "another Service's rules on the IP: ours go, the IP stays",
      d: steadyDesired({ spec: spec({ ports: [] }), members: [] }),
      o: steady({ ips: [ip("ip-1", { recorded: true, foreignRules: 1 })] }),
      steps: ["DeleteFirewall fw1 80", "DeleteRule r1 tcp-80"]
    },
    {
      title: "the user's IP: our rules go, the IP stays, the record is dropped",
      d: steadyDesired({ spec: spec({ ports: [] }), members: [], ownership: recorded("ip-1", false) }),
      o: steady({ ips: [ip("ip-1", { recorded: true, owned: false })] }),
      steps: ["DeleteFirewall fw1 80", "DeleteRule r1 tcp-80", "Persist (none) associated=false"]
    },
    {
      title: "a VPC tier: the marked ACL items are deleted, then the IP released",
      d: steadyDesired({ spec: spec({ ports: [] }), members: [], network: tier() }),
      o: steady({
        ips: [ip("ip-1", { recorded: true, vpcId: Option.some(VPC) })],
        firewall: [],
        acl: [acl("acl-1", "tcp", 80), acl("acl-2", "udp", 53)]
      }),
      steps: [
        "DeleteAcl acl-1 80",
        "DeleteAcl acl-2 53",
        "ReleaseIp ip-1 203.0.113.1",
        "Persist (none) associated=false"
      ]
    },
    {
      title: "the network is unknown (no rules left): leftover ACL items still go",
      d: desired({
        spec: spec({ ports: [] }),
        members: [],
        network: { ...isolated(NetworkId.make("")), access: { _tag: "None" } }
      }),
      o: observed({ acl: [acl("acl-1", "tcp", 80)] }),
      steps: ["DeleteAcl acl-1 80"]
    },
    {
      title: "nothing recorded, nothing found: no step",
      d: desired({ spec: spec({ ports: [] }), members: [] }),
      o: observed(),
      steps: []
    },
    {
      title: "a record of an IP that is gone: only the record is cleared",
      d: desired({ spec: spec({ ports: [] }), members: [], ownership: recorded("ip-1") }),
      o: observed(),
      steps: ["Persist (none) associated=false"]
    },
    {
      title: "rules left on several IPs: each owned one released, the user's cleaned",
      d: steadyDesired({ spec: spec({ ports: [] }), members: [] }),
      o: observed({
        ips: [ip("ip-1", { recorded: true }), ip("ip-2", { owned: false })],
        rules: [rule("r1", "ip-1", P80), rule("r2", "ip-2", P80)],
        firewall: [fw("fw1", "ip-1", "tcp", 80), fw("fw2", "ip-2", "tcp", 80)]
      }),
      steps: [
        "DeleteFirewall fw2 80",
        "DeleteRule r2 tcp-80",
        "ReleaseIp ip-1 203.0.113.1",
        "Persist (none) associated=false"
      ]
    }
  ])
})

describe("Plan: VPC tiers", () => {
  const vpcIp = (id: string, overrides = {}) => ip(id, { vpcId: Option.some(VPC), ...overrides })
  runTable([
    {
      title: "a custom ACL list: one marked item per port, with the source ranges",
      d: desired({ network: tier(), spec: spec({ ports: [P80, port("udp", 53)], sourceRanges: ["10.0.0.0/8"] }) }),
      o: observed(),
      steps: [
        "AcquireIp (any)",
        "CreateRule (acquired) tcp-80 80>30080",
        "AssignMembers (created tcp-80) [vm-a,vm-b]",
        "CreateRule (acquired) udp-53 53>30053",
        "AssignMembers (created udp-53) [vm-a,vm-b]",
        "CreateAcl tcp/80 [10.0.0.0/8]",
        "CreateAcl udp/53 [10.0.0.0/8]",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "steady on a custom list: no step",
      d: steadyDesired({ network: tier() }),
      o: steady({ ips: [vpcIp("ip-1", { recorded: true })], firewall: [], acl: [acl("acl-1", "TCP", 80)] }),
      steps: []
    },
    {
      title: "source ranges change: the new item first (ACL items never conflict), then the old",
      d: steadyDesired({ network: tier(), spec: spec({ sourceRanges: ["10.0.0.0/8"] }) }),
      o: steady({ ips: [vpcIp("ip-1", { recorded: true })], firewall: [], acl: [acl("acl-1", "tcp", 80)] }),
      steps: ["CreateAcl tcp/80 [10.0.0.0/8]", "DeleteAcl acl-1 80"]
    },
    {
      title: "PROXY protocol: the item's protocol is tcp; items of removed ports and duplicates go",
      d: steadyDesired({ network: tier(), spec: spec({ ports: [port("tcp-proxy", 80)], proxyProtocol: true }) }),
      o: steady({
        ips: [vpcIp("ip-1", { recorded: true })],
        rules: [rule("r1", "ip-1", port("tcp-proxy", 80))],
        firewall: [],
        acl: [acl("acl-1", "tcp", 80), acl("acl-dup", "tcp", 80), acl("acl-443", "tcp", 443)]
      }),
      steps: ["DeleteAcl acl-dup 80", "DeleteAcl acl-443 443"]
    },
    {
      title: "default_allow: no ACL step (a Warning instead), the LB still built",
      d: desired({ network: tier("default_allow") }),
      o: observed(),
      steps: [
        "AcquireIp (any)",
        "CreateRule (acquired) tcp-80 80>30080",
        "AssignMembers (created tcp-80) [vm-a,vm-b]",
        "Persist (acquired) associated=true"
      ]
    },
    {
      title: "an unassociated IP of the tier's VPC is usable; one of another VPC is not",
      d: steadyDesired({ network: tier("default_deny") }),
      o: observed({
        ips: [
          vpcIp("ip-1", { recorded: true, associatedNetworkId: Option.none() }),
          ip("ip-2", { owned: false, associatedNetworkId: Option.none(), vpcId: Option.some(VpcId.make("vpc-9")) })
        ],
        rules: [rule("r1", "ip-1", P80)],
        members: members({ r1: ["vm-a", "vm-b"] })
      }),
      steps: []
    },
    {
      title: "firewall rules are never planned on a tier, leftover ACL items on an isolated network are deleted",
      d: steadyDesired(),
      o: steady({ acl: [acl("acl-1", "tcp", 80)] }),
      steps: ["DeleteAcl acl-1 80"]
    }
  ])

  it("default_allow and default_deny: one Warning each, saying what it means; none without ports", () => {
    const warn = (listName: string, ports = [P80]) =>
      Either.getOrThrow(plan(desired({ network: tier(listName), spec: spec({ ports }) }), observed())).warnings
    assert.deepStrictEqual(warn("default_allow").map((w) => w.reason), ["DefaultNetworkACL"])
    assert.match(warn("default_allow")[0]?.message ?? "", /every source can reach the load balancer/)
    assert.match(warn("default_deny")[0]?.message ?? "", /unreachable until the tier gets a custom ACL list/)
    assert.deepStrictEqual(warn("default_deny", []), [])
    assert.deepStrictEqual(warn("lb-acl"), [])
  })
})

describe("Plan: the target", () => {
  it("is the IP the LB ends on: existing, to acquire (with the address), or none without ports", () => {
    const target = (d: DesiredLb, o: ObservedLb) => Either.getOrThrow(plan(d, o)).target
    assert.deepStrictEqual(
      target(steadyDesired(), steady()),
      Option.some({ _tag: "Existing", ip: ip("ip-1", { recorded: true }) })
    )
    assert.deepStrictEqual(target(desired(), observed()), Option.some({ _tag: "Acquire", address: Option.none() }))
    assert.deepStrictEqual(
      target(
        desired({ spec: spec({ requestedIp: Option.some("198.51.100.5") }) }),
        observed({ requested: Option.some({ _tag: "Free", address: "198.51.100.5" }) })
      ),
      Option.some({ _tag: "Acquire", address: Option.some("198.51.100.5") })
    )
    assert.deepStrictEqual(target(steadyDesired({ spec: spec({ ports: [] }) }), steady()), Option.none())
  })
  it("all firewall rules created for an IP reference it (isolated network, fresh)", () => {
    const steps = Either.getOrThrow(plan(desired({ spec: spec({ ports: [P80, P443] }) }), observed())).steps
    for (const s of steps) {
      if (s._tag === "CreateFirewall" || s._tag === "CreateRule") assert.strictEqual(s.ip._tag, "Acquired")
    }
  })
})
