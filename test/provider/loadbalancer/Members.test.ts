import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Option } from "effect"
import type { VirtualMachine } from "../../../src/cloudstack/commands/VirtualMachines.js"
import { NetworkId, NicId, VmId, ZoneId } from "../../../src/cloudstack/Ids.js"
import { type Lookup, Match } from "../../../src/provider/InstanceLookup.js"
import { chooseNetwork, membership, membershipMemo, membersIn } from "../../../src/provider/loadbalancer/Members.js"
import { ProviderIdError } from "../../../src/provider/ProviderId.js"
import { ip, port, rule } from "./PlanFixtures.js"

const net = (id: string) => NetworkId.make(id)

/** A VM with NICs in the given networks, the first (or the `*`-marked one) its default. */
const vm = (id: string, networks: ReadonlyArray<string>, state = "Running"): VirtualMachine => {
  const marked = networks.findIndex((n) => n.startsWith("*"))
  return {
    id: VmId.make(id),
    name: id,
    state,
    zoneId: ZoneId.make("zone-1"),
    nics: networks.map((n, i) => ({
      id: NicId.make(`${id}-nic-${i}`),
      networkId: net(n.replace("*", "")),
      isDefault: marked < 0 ? i === 0 : i === marked,
      secondaryIps: []
    })),
    tags: []
  }
}
const found = (v: VirtualMachine): Lookup => Match.Found({ vm: v, by: "providerID" })
const lookups = (entries: Record<string, Lookup>) => new Map(Object.entries(entries))
const noBase = { ips: [], rules: [] }
/** Plain strings of branded ids, for comparisons with literals. */
const ids = (xs: ReadonlyArray<string>): ReadonlyArray<string> => xs

describe("Members.chooseNetwork", () => {
  const nodes = lookups({
    n1: found(vm("v1", ["net-a"])),
    n2: found(vm("v2", ["net-b"])),
    n3: found(vm("v3", ["net-b"]))
  })

  it("the user's choice wins over everything", () => {
    const base = { ips: [ip("ip-1", { recorded: true })], rules: [rule("r1", "ip-1", port("tcp", 80))] }
    assert.deepStrictEqual(chooseNetwork(base, nodes, Option.some(net("net-z"))), Option.some("net-z"))
  })
  it("else the network of the rules on the recorded IP", () => {
    const base = {
      ips: [ip("ip-1"), ip("ip-2", { recorded: true })],
      rules: [
        rule("r1", "ip-1", port("tcp", 80), { networkId: Option.some(net("net-old")) }),
        rule("r2", "ip-2", port("tcp", 80), { networkId: Option.some(net("net-rec")) })
      ]
    }
    assert.deepStrictEqual(chooseNetwork(base, nodes), Option.some("net-rec"))
  })
  it("else any rule's network (the first with one)", () => {
    const base = {
      ips: [ip("ip-1")],
      rules: [
        rule("r0", "ip-1", port("tcp", 81), { networkId: Option.none() }),
        rule("r1", "ip-1", port("tcp", 80), { networkId: Option.some(net("net-r")) })
      ]
    }
    assert.deepStrictEqual(chooseNetwork(base, nodes), Option.some("net-r"))
  })
  // Chaos seed 12: a Service whose only IP (recorded, no rule on it) was on another network than all
  // its nodes got an LB there without a single member, instead of being told its IP is elsewhere.
  it("an IP without rules decides nothing: where most nodes are", () => {
    const base = {
      ips: [
        ip("ip-0", { associatedNetworkId: Option.none() }),
        ip("ip-1", { associatedNetworkId: Option.some(net("net-ip")), recorded: true })
      ],
      rules: []
    }
    assert.deepStrictEqual(chooseNetwork(base, nodes), Option.some("net-b"))
  })
  it("else the network most nodes' default NICs are on", () => {
    assert.deepStrictEqual(chooseNetwork(noBase, nodes), Option.some("net-b"))
  })
  it("only default NICs count; a VM without a default NIC counts its first", () => {
    const l = lookups({
      n1: found(vm("v1", ["net-b", "*net-a"])),
      n2: found(vm("v2", ["net-b", "*net-a"])),
      n3: found(vm("v3", ["net-b"]))
    })
    assert.deepStrictEqual(chooseNetwork(noBase, l), Option.some("net-a"))
    const noDefault: VirtualMachine = {
      ...vm("v4", ["net-c"]),
      nics: [{ ...vm("v4", ["net-c"]).nics[0]!, isDefault: false }]
    }
    assert.deepStrictEqual(chooseNetwork(noBase, lookups({ n: found(noDefault) })), Option.some("net-c"))
  })
  it("a tie goes to the smallest id, whatever the order of the nodes", () => {
    const a = lookups({ n1: found(vm("v1", ["net-z"])), n2: found(vm("v2", ["net-m"])) })
    const b = lookups({ n2: found(vm("v2", ["net-m"])), n1: found(vm("v1", ["net-z"])) })
    assert.deepStrictEqual(chooseNetwork(noBase, a), Option.some("net-m"))
    assert.deepStrictEqual(chooseNetwork(noBase, b), Option.some("net-m"))
  })
  it("gone, missing, ambiguous and unparsable nodes do not vote; nobody left: None", () => {
    const l = lookups({
      gone: found(vm("v1", ["net-x"], "Destroyed")),
      expunging: found(vm("v2", ["net-x"], "Expunging")),
      stopped: found(vm("v3", ["net-y"], "Stopped")),
      missing: Match.Missing(),
      ambiguous: Match.Ambiguous({ vmIds: ["a", "b"] }),
      bad: Match.BadProviderId({ error: new ProviderIdError({ providerId: "aws:///i-1", reason: "ForeignProvider" }) })
    })
    assert.deepStrictEqual(chooseNetwork(noBase, l), Option.some("net-y"))
    l.delete("stopped")
    assert.deepStrictEqual(chooseNetwork(noBase, l), Option.none())
    assert.deepStrictEqual(chooseNetwork(noBase, new Map()), Option.none())
  })
})

describe("Members.membersIn", () => {
  const l = lookups({
    n1: found(vm("v1", ["net-a"])),
    n2: found(vm("v2", ["net-b", "*net-a"])),
    n3: found(vm("v3", ["net-b"])),
    gone: found(vm("v4", ["net-a"], "Destroyed")),
    missing: Match.Missing()
  })

  it("VMs with a NIC in the network (default or not), sorted; the rest are warnings by kind", () => {
    const m = membersIn(net("net-a"), "guest", ["n3", "n2", "n1", "gone", "missing", "unknown"], l)
    assert.deepStrictEqual(ids(m.vms), ["v1", "v2"])
    assert.deepStrictEqual(m.warnings, [
      {
        reason: "NodesOnSeveralNetworks",
        message: "nodes without a NIC in the load balancer's network guest are not members: n3"
      },
      {
        reason: "UnresolvedNodes",
        message: "nodes whose CloudStack VM was not found (or is gone) are not members: gone, missing, unknown"
      }
    ])
  })
  it("every node a member: no warnings", () => {
    const m = membersIn(net("net-b"), "guest", ["n2", "n3"], l)
    assert.deepStrictEqual([ids(m.vms), m.warnings], [["v2", "v3"], []])
  })
  it("two nodes on one VM are one member", () => {
    const same = vm("v1", ["net-a"])
    assert.deepStrictEqual(
      membersIn(net("net-a"), "g", ["x", "y"], lookups({ x: found(same), y: found(same) })).vms.map(String),
      ["v1"]
    )
  })
  it("a warning names ten nodes at most, sorted, and counts the rest", () => {
    const names = Array.from({ length: 13 }, (_, i) => `node-${String(i).padStart(2, "0")}`)
    const m = membersIn(net("net-a"), "g", [...names].reverse(), new Map())
    assert.deepStrictEqual(m.warnings.map((w) => w.message), [
      `nodes whose CloudStack VM was not found (or is gone) are not members: ${
        names.slice(0, 10).join(", ")
      } and 3 more`
    ])
  })
  it.prop("members ⊆ the nodes' VMs in the network; every node is a member or named in a warning", [
    fc.array(fc.record({ network: fc.constantFrom("net-a", "net-b"), live: fc.boolean(), resolved: fc.boolean() }), {
      maxLength: 24
    })
  ], ([specs]) => {
    const entries: Record<string, Lookup> = {}
    specs.forEach((s, i) => {
      if (s.resolved) entries[`n${i}`] = found(vm(`v${i}`, [s.network], s.live ? "Running" : "Destroyed"))
    })
    const names = specs.map((_, i) => `n${i}`)
    const m = membersIn(net("net-a"), "g", names, lookups(entries))
    const expected = specs.flatMap((s, i) => (s.resolved && s.live && s.network === "net-a" ? [`v${i}`] : [])).sort()
    assert.deepStrictEqual(ids(m.vms), expected)
    const left = specs.length - expected.length
    // "…: a, b, c" or "…: a, …, j and 3 more"
    const named = m.warnings.reduce((n, w) => {
      const [shown = "", more] = (w.message.split(": ")[1] ?? "").split(" and ")
      return n + shown.split(", ").length + (more === undefined ? 0 : Number.parseInt(more, 10))
    }, 0)
    assert.strictEqual(named, left)
  })
})

describe("Members.membershipMemo", () => {
  it.prop("answers as membership, whatever was asked before; the same question again is the same answer", [
    fc.array(
      fc.record({
        network: fc.constantFrom("net-a", "net-b"),
        nodes: fc.subarray(["n0", "n1", "n2", "n3", "n4"]),
        listing: fc.boolean()
      }),
      { maxLength: 12 }
    )
  ], ([asks]) => {
    // two listings: n0-n2 on net-a and n3 on net-b, then every node on net-b (n4 unresolved in both)
    const first = lookups({
      n0: found(vm("v0", ["net-a"])),
      n1: found(vm("v1", ["net-a"])),
      n2: found(vm("v2", ["net-a", "net-b"])),
      n3: found(vm("v3", ["net-b"]))
    })
    const second = lookups({
      n0: found(vm("v0", ["net-b"])),
      n1: found(vm("v1", ["net-b"])),
      n3: found(vm("v3", ["net-b"]))
    })
    const memo = membershipMemo()
    for (const ask of asks) {
      const nodes = ask.nodes.map((name) => ({ name }))
      const l = ask.listing ? second : first
      const got = memo(net(ask.network), nodes, l)
      assert.deepStrictEqual(got, membership(net(ask.network), ask.nodes, l))
      assert.strictEqual(memo(net(ask.network), ask.nodes.map((name) => ({ name })), l), got)
    }
  })
})
