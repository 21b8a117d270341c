/**
 * The orphan planner as tables of listings and Services: what is an orphan, what is left with why,
 * what is never looked at, the deletion order; plus a property: whatever the listings, nothing
 * untagged and unnamed, nothing of another cluster, and no IP not tagged as ours is ever in a plan.
 */
import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import type { PublicIpAddress } from "../../src/cloudstack/commands/Addresses.js"
import type { FirewallRule } from "../../src/cloudstack/commands/Firewall.js"
import type { LoadBalancerRule } from "../../src/cloudstack/commands/LoadBalancers.js"
import type { NetworkAclItem } from "../../src/cloudstack/commands/NetworkAcls.js"
import { AclItemId, AclListId, FirewallRuleId, IpAddressId, LbRuleId, ZoneId } from "../../src/cloudstack/Ids.js"
import type { Tag } from "../../src/cloudstack/Wire.js"
import { ServiceView } from "../../src/kubernetes/ServiceView.js"
import { type Inventory, membersWanted, type OrphanPlan, plan } from "../../src/orphans/OrphanPlan.js"
import { forkName, lbName, ruleName } from "../../src/provider/loadbalancer/LbName.js"
import { aclMarker } from "../../src/provider/loadbalancer/ObservedLb.js"
import { tagsOf } from "../../src/provider/loadbalancer/Tags.js"

const C = "kubernetes"
const uid = (n: number) => `${n.toString(16).padStart(8, "0")}-1111-4000-a000-${n.toString(16).padStart(12, "0")}`
const U1 = uid(1) // a Service that no longer exists (unless a case says so)
const U2 = uid(2) // a live LoadBalancer Service
const tagged = (u: string, cluster = C, name = "web"): ReadonlyArray<Tag> =>
  tagsOf({ cluster, namespace: "default", name, uid: u })
const goRule = (u: string, port = 80) => ruleName(lbName(u), "tcp", port)

const ip = (id: string, address: string, o: Partial<PublicIpAddress> = {}): PublicIpAddress => ({
  id: IpAddressId.make(id),
  ipAddress: address,
  state: "Allocated",
  zoneId: ZoneId.make("zone"),
  isSourceNat: false,
  isStaticNat: false,
  tags: [],
  ...o
})
const rule = (
  id: string,
  name: string,
  ipId: string,
  port = 80,
  o: Partial<LoadBalancerRule> = {}
): LoadBalancerRule => ({
  id: LbRuleId.make(id),
  name,
  algorithm: "roundrobin",
  publicIp: `addr-of-${ipId}`,
  publicIpId: IpAddressId.make(ipId),
  publicPort: port,
  privatePort: 30000 + port,
  protocol: "tcp",
  state: "Active",
  tags: [],
  ...o
})
const fw = (id: string, ipId: string, port = 80, o: Partial<FirewallRule> = {}): FirewallRule => ({
  id: FirewallRuleId.make(id),
  protocol: "tcp",
  startPort: port,
  endPort: port,
  ipAddressId: IpAddressId.make(ipId),
  state: "Active",
  tags: [],
  ...o
})
const acl = (id: string, port = 80, o: Partial<NetworkAclItem> = {}): NetworkAclItem => ({
  id: AclItemId.make(id),
  protocol: "tcp",
  startPort: port,
  endPort: port,
  aclId: AclListId.make("acl-web"),
  tags: [],
  ...o
})

interface SvcOptions {
  readonly type?: "LoadBalancer" | "ClusterIP"
  readonly loadBalancerClass?: string
  readonly finalizers?: ReadonlyArray<string>
  readonly annotations?: Readonly<Record<string, string>>
  readonly loadBalancerIP?: string
  readonly ingress?: ReadonlyArray<string>
}
const svc = (name: string, u: string, o: SvcOptions = {}): ServiceView =>
  Schema.decodeUnknownSync(ServiceView)({
    metadata: { name, namespace: "default", uid: u, annotations: o.annotations ?? {}, finalizers: o.finalizers ?? [] },
    spec: {
      type: o.type ?? "LoadBalancer",
      ports: [{ port: 80, nodePort: 30080 }],
      ...(o.loadBalancerClass === undefined ? {} : { loadBalancerClass: o.loadBalancerClass }),
      ...(o.loadBalancerIP === undefined ? {} : { loadBalancerIP: o.loadBalancerIP })
    },
    status: { loadBalancer: { ingress: (o.ingress ?? []).map((i) => ({ ip: i })) } }
  })
const live = svc("live", U2)

interface Case {
  readonly name: string
  readonly inventory: Partial<Inventory>
  readonly services?: ReadonlyArray<ServiceView>
  readonly members?: Readonly<Record<string, ReadonlyArray<string>>>
  /** `<Step tag> <id>` in order. */
  readonly steps: ReadonlyArray<string>
  /** Ids of what is reported as left alone, with a part of why. */
  readonly left?: Readonly<Record<string, string>>
}

const planOf = (c: Pick<Case, "inventory" | "services" | "members">): OrphanPlan =>
  plan({
    cluster: C,
    inventory: { ips: [], rules: [], firewall: [], acl: [], ...c.inventory },
    services: c.services ?? [live],
    members: new Map(Object.entries(c.members ?? {})),
    nodeVms: new Set(["vm-node-1", "vm-node-2"])
  })

const cases: ReadonlyArray<Case> = [
  {
    name: "the LB of a deleted Service: firewall rule, then rule, then IP",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) })],
      rules: [rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) })],
      firewall: [fw("f-1", "ip-1", 80, { tags: tagged(U1) })]
    },
    steps: ["DeleteFirewall f-1", "DeleteRule r-1", "ReleaseIp ip-1"]
  },
  {
    name: "tagged for another cluster: untouched and not reported",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1, "other") })],
      rules: [rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1, "other") })],
      firewall: [fw("f-1", "ip-1", 80, { tags: tagged(U1, "other") })],
      acl: [acl("a-1", 80, { tags: tagged(U1, "other"), reason: aclMarker(U1) })]
    },
    members: { "r-1": ["vm-node-1"] },
    steps: []
  },
  {
    name: "untagged and unnamed (the user's own): untouched and not reported",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10")],
      rules: [rule("r-1", "my-own-rule", "ip-1")],
      firewall: [fw("f-1", "ip-1")],
      acl: [acl("a-1", 80, { reason: "allow web" })]
    },
    steps: []
  },
  {
    name: "a live Service's LB: nothing",
    inventory: {
      ips: [ip("ip-2", "203.0.113.11", { tags: tagged(U2) })],
      rules: [rule("r-2", goRule(U2), "ip-2", 80, { tags: tagged(U2) })],
      firewall: [fw("f-2", "ip-2", 80, { tags: tagged(U2) })],
      acl: [acl("a-2", 80, { tags: tagged(U2), reason: aclMarker(U2) })]
    },
    steps: []
  },
  {
    name: "a Go-named rule of a deleted Service whose members are Nodes: orphan, its untagged IP left",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10")],
      rules: [rule("r-1", goRule(U1), "ip-1")],
      firewall: [fw("f-1", "ip-1")]
    },
    members: { "r-1": ["vm-node-2", "vm-elsewhere"] },
    steps: ["DeleteRule r-1"],
    left: { "ip-1": "IP left: not tagged as ours" }
  },
  {
    name: "a Go-named rule none of whose members is a Node: may be another cluster's, left",
    inventory: { rules: [rule("r-1", goRule(U1), "ip-1")] },
    members: { "r-1": ["vm-elsewhere"] },
    steps: [],
    left: { "r-1": "none of its members is a Node of this cluster" }
  },
  {
    name: "a Go-named rule of a live Service (migrated from the Go CCM): nothing",
    inventory: { rules: [rule("r-2", goRule(U2), "ip-2")] },
    steps: []
  },
  {
    name:
      "fork-named rules: this cluster's of a deleted Service is an orphan; another cluster's or an existing Service's are not",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10")],
      rules: [
        rule("r-f1", ruleName(forkName(C, "default", "gone-svc"), "tcp", 80), "ip-1"),
        rule("r-f2", ruleName(forkName("other", "default", "gone-svc"), "tcp", 443), "ip-1", 443),
        rule("r-f3", ruleName(forkName(C, "default", "live"), "udp", 53), "ip-3", 53, { protocol: "udp" })
      ]
    },
    steps: ["DeleteRule r-f1"],
    left: { "ip-1": "IP left: not tagged as ours" }
  },
  {
    name:
      "a fork-named rule tagged for a dead UID whose namespace/name exists again: the new Service may take it, nothing",
    inventory: {
      rules: [
        rule("r-f", ruleName(forkName(C, "default", "live"), "tcp", 80), "ip-1", 80, { tags: tagged(U1, C, "live") })
      ]
    },
    steps: []
  },
  {
    name: "a tagged IP shared with a live Service's rule: the dead Service's rule goes, the IP stays",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) })],
      rules: [
        rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) }),
        rule("r-2", goRule(U2, 443), "ip-1", 443, { tags: tagged(U2) })
      ]
    },
    services: [svc("live", U2, { annotations: { "service.beta.kubernetes.io/cloudstack-load-balancer-id": "ip-1" } })],
    steps: ["DeleteRule r-1"],
    left: { "ip-1": "Service default/live records or requests it" }
  },
  {
    name: "a tagged IP whose live rule is the user's own: the IP stays",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) })],
      rules: [rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) }), rule("r-9", "users-rule", "ip-1", 8080)]
    },
    steps: ["DeleteRule r-1"],
    left: { "ip-1": "LB rule users-rule on it is not an orphan" }
  },
  {
    name: "a tagged IP with the user's untagged firewall rule on it: the IP stays",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) })],
      rules: [rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) })],
      firewall: [fw("f-9", "ip-1", 22)]
    },
    steps: ["DeleteRule r-1"],
    left: { "ip-1": "firewall rule f-9 (tcp/22) on it is not an orphan" }
  },
  ...([
    "cloudstack-load-balancer-id",
    "cloudstack-load-balancer-ip-allocating",
    "cloudstack-load-balancer-address"
  ] as const).map((key): Case => ({
    name: `a tagged orphan IP a live Service records or asks for (${key}): kept`,
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) })],
      rules: [rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) })]
    },
    services: [
      live,
      svc("other", uid(3), {
        type: "ClusterIP",
        annotations: { [`service.beta.kubernetes.io/${key}`]: key.endsWith("-id") ? "ip-1" : "203.0.113.10" }
      })
    ],
    steps: ["DeleteRule r-1"],
    left: { "ip-1": "Service default/other records or requests it" }
  })),
  {
    name: "a tagged orphan IP named by loadBalancerIP or published in a live Service's status: kept",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) }), ip("ip-4", "203.0.113.14", { tags: tagged(uid(4)) })],
      rules: [
        rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) }),
        rule("r-4", goRule(uid(4)), "ip-4", 80, { tags: tagged(uid(4)) })
      ]
    },
    services: [
      live,
      svc("asks", uid(5), { loadBalancerIP: "203.0.113.10" }),
      svc("shows", uid(6), { ingress: ["203.0.113.14"] })
    ],
    steps: ["DeleteRule r-1", "DeleteRule r-4"],
    left: { "ip-1": "Service default/asks records", "ip-4": "Service default/shows records" }
  },
  {
    name: "source NAT and static NAT IPs are never released",
    inventory: {
      ips: [
        ip("ip-s", "203.0.113.2", { tags: tagged(U1), isSourceNat: true }),
        ip("ip-n", "203.0.113.3", { tags: tagged(U1), isStaticNat: true })
      ],
      rules: [
        rule("r-s", goRule(U1), "ip-s", 80, { tags: tagged(U1) }),
        rule("r-n", goRule(U1, 81), "ip-n", 81, { tags: tagged(U1) })
      ]
    },
    steps: ["DeleteRule r-s", "DeleteRule r-n"],
    left: { "ip-s": "source NAT", "ip-n": "static NAT" }
  },
  {
    name:
      "an IP a Service gave up under keep-ip (marked kept) under another gone Service's rule: the rule goes, the IP stays",
    inventory: {
      ips: [ip("ip-1", "203.0.113.10", { tags: [...tagged(U1), { key: "cloudstack-ccm/keep-ip", value: "true" }] })],
      rules: [rule("r-1", goRule(uid(3)), "ip-1", 443, { tags: tagged(uid(3)) })]
    },
    steps: ["DeleteRule r-1"],
    left: { "ip-1": "asked to keep it (tag cloudstack-ccm/keep-ip)" }
  },
  {
    name: "a tagged IP with nothing on it (kept on purpose with keep-ip?): left",
    inventory: { ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) })] },
    steps: [],
    left: { "ip-1": "keep-ip" }
  },
  {
    name: "the Service became ClusterIP and the controller let go: orphan; while its cleanup is due: left",
    inventory: {
      ips: [ip("ip-3", "203.0.113.13", { tags: tagged(uid(3)) })],
      rules: [
        rule("r-3", goRule(uid(3)), "ip-3", 80, { tags: tagged(uid(3)) }),
        rule("r-4", goRule(uid(4)), "ip-4", 80, { tags: tagged(uid(4)) })
      ]
    },
    services: [
      live,
      svc("was-lb", uid(3), { type: "ClusterIP" }),
      svc("cleaning", uid(4), { type: "ClusterIP", finalizers: ["service.kubernetes.io/load-balancer-cleanup"] })
    ],
    steps: ["DeleteRule r-3", "ReleaseIp ip-3"],
    left: { "r-4": "cleanup has not finished" }
  },
  {
    name: "a Service with a loadBalancerClass (someone else's LB) whose old LB is still here: orphan",
    inventory: { rules: [rule("r-3", goRule(uid(3)), "ip-3", 80, { tags: tagged(uid(3)) })] },
    services: [live, svc("classy", uid(3), { loadBalancerClass: "example.com/lb" })],
    steps: ["DeleteRule r-3"],
    left: { "ip-3": "IP left: not tagged as ours" }
  },
  {
    name: "ACL items: tagged or marked for a dead Service of this cluster go; a marker alone for an unknown UID stays",
    inventory: {
      rules: [rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) })],
      acl: [
        acl("a-tagged", 80, { tags: tagged(U1), reason: aclMarker(U1) }),
        acl("a-marked", 443, { reason: aclMarker(U1) }),
        acl("a-unknown", 8080, { reason: aclMarker(uid(7)) }),
        acl("a-live", 8443, { reason: aclMarker(U2) })
      ]
    },
    steps: ["DeleteAcl a-marked", "DeleteAcl a-tagged", "DeleteRule r-1"],
    left: { "a-unknown": "nothing shows the Service was this cluster's", "ip-1": "IP left" }
  },
  {
    name: "a dead Service's firewall rule opening the port of a rule that stays: left",
    inventory: {
      ips: [ip("ip-9", "203.0.113.19")],
      rules: [rule("r-9", "users-rule", "ip-9", 80)],
      firewall: [fw("f-1", "ip-9", 80, { tags: tagged(U1) }), fw("f-2", "ip-9", 81, { tags: tagged(U1) })]
    },
    steps: ["DeleteFirewall f-2"],
    left: { "f-1": "opens the port of LB rule users-rule" }
  },
  {
    name: "tagged for this cluster without a Service UID: left",
    inventory: { rules: [rule("r-1", "x", "ip-1", 80, { tags: [{ key: "cloudstack-ccm/cluster", value: C }] })] },
    steps: [],
    left: { "r-1": "without a Service UID" }
  },
  {
    name: "tag keys compare case-insensitively, as in CloudStack",
    inventory: {
      rules: [rule("r-1", "x", "ip-1", 80, { tags: tagged(U1).map((t) => ({ ...t, key: t.key.toUpperCase() })) })],
      firewall: [fw("f-1", "ip-1", 80, { tags: tagged(U1, "other").map((t) => ({ ...t, key: t.key.toUpperCase() })) })]
    },
    steps: ["DeleteRule r-1"],
    left: { "ip-1": "IP left" }
  }
]

const stepsOf = (p: OrphanPlan) => p.steps.map((s) => `${s._tag} ${s.resource.id}`)

describe("OrphanPlan.plan", () => {
  for (const c of cases) {
    it(c.name, () => {
      const p = planOf(c)
      assert.deepStrictEqual(stepsOf(p), [...c.steps])
      const left = Object.fromEntries(p.left.map((l) => [l.resource.id, l.why]))
      assert.deepStrictEqual(Object.keys(left).sort(), Object.keys(c.left ?? {}).sort(), JSON.stringify(left))
      for (const [id, part] of Object.entries(c.left ?? {})) assert.include(left[id], part)
    })
  }

  it("says why in terms of the Service: name and UID from the tags", () => {
    const p = planOf({ inventory: { rules: [rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1, C, "shop") })] } })
    assert.strictEqual(p.steps[0]?.why, `Service default/shop (UID ${U1}) no longer exists`)
  })

  it("is deterministic: the order of the listings does not matter", () => {
    const inventory: Inventory = {
      ips: [ip("ip-1", "203.0.113.10", { tags: tagged(U1) }), ip("ip-2", "203.0.113.9", { tags: tagged(uid(8)) })],
      rules: [
        rule("r-1", goRule(U1), "ip-1", 80, { tags: tagged(U1) }),
        rule("r-2", goRule(uid(8)), "ip-2", 80, { tags: tagged(uid(8)) })
      ],
      firewall: [fw("f-1", "ip-1", 80, { tags: tagged(U1) }), fw("f-2", "ip-2", 80, { tags: tagged(uid(8)) })],
      acl: [acl("a-1", 80, { reason: aclMarker(U1) }), acl("a-2", 81, { reason: aclMarker(uid(8)) })]
    }
    const reversed: Inventory = {
      ips: [...inventory.ips].reverse(),
      rules: [...inventory.rules].reverse(),
      firewall: [...inventory.firewall].reverse(),
      acl: [...inventory.acl].reverse()
    }
    assert.deepStrictEqual(stepsOf(planOf({ inventory: reversed })), stepsOf(planOf({ inventory })))
    assert.deepStrictEqual(stepsOf(planOf({ inventory })), [
      "DeleteFirewall f-1",
      "DeleteFirewall f-2",
      "DeleteAcl a-1",
      "DeleteAcl a-2",
      "DeleteRule r-1",
      "DeleteRule r-2",
      "ReleaseIp ip-1",
      "ReleaseIp ip-2"
    ])
  })

  it("without the member listing a Go-named rule is never an orphan", () => {
    const p = planOf({ inventory: { rules: [rule("r-1", goRule(U1), "ip-1")] } })
    assert.deepStrictEqual(stepsOf(p), [])
  })
})

describe("OrphanPlan.membersWanted", () => {
  it("only untagged Go-named rules whose Service is gone need their members read", () => {
    const inventory: Inventory = {
      ips: [],
      rules: [
        rule("r-b", goRule(U1, 81), "ip-1", 81),
        rule("r-a", goRule(U1), "ip-1"),
        rule("r-live", goRule(U2), "ip-2"),
        rule("r-tagged", goRule(uid(3)), "ip-3", 80, { tags: tagged(uid(3)) }),
        rule("r-fork", ruleName(forkName(C, "default", "x"), "tcp", 80), "ip-4"),
        rule("r-user", "users-rule", "ip-5")
      ],
      firewall: [],
      acl: []
    }
    assert.deepStrictEqual(membersWanted(C, inventory, [live]), ["r-a", "r-b"])
  })
})

// ---- property: nothing that is not provably this cluster's is ever in a plan ----

const anyTags: fc.Arbitrary<ReadonlyArray<Tag>> = fc.oneof(
  fc.constant([]),
  fc.constantFrom(C, "other", "Kubernetes").chain((cluster) =>
    fc.constantFrom(U1, U2, uid(3)).map((u) => tagged(u, cluster))
  ),
  fc.constant([{ key: "owner", value: "me" }])
)
const anyName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(U1, U2, uid(3)).map((u) => goRule(u)),
  fc.constantFrom(C, "other").map((cl) => ruleName(forkName(cl, "default", "svc"), "tcp", 80)),
  fc.string({ maxLength: 12 })
)
const ids = ["x-1", "x-2", "x-3"]
const anyInventory: fc.Arbitrary<Inventory> = fc.record({
  ips: fc.uniqueArray(
    fc.tuple(fc.constantFrom(...ids), anyTags, fc.boolean()).map(([id, tags, sourceNat]) =>
      ip(`ip-${id}`, `203.0.113.${id.length}`, { tags, isSourceNat: sourceNat })
    ),
    { maxLength: 3, selector: (x) => x.id }
  ),
  rules: fc.uniqueArray(
    fc.tuple(fc.constantFrom(...ids), anyName, anyTags, fc.constantFrom(...ids)).map(([id, name, tags, on]) =>
      rule(`r-${id}`, name, `ip-${on}`, 80, { tags })
    ),
    { maxLength: 4, selector: (x) => x.id }
  ),
  firewall: fc.uniqueArray(
    fc.tuple(fc.constantFrom(...ids), anyTags, fc.constantFrom(...ids)).map(([id, tags, on]) =>
      fw(`f-${id}`, `ip-${on}`, 80, { tags })
    ),
    { maxLength: 3, selector: (x) => x.id }
  ),
  acl: fc.uniqueArray(
    fc.tuple(fc.constantFrom(...ids), anyTags, fc.option(fc.constantFrom(U1, U2, uid(3)))).map(([id, tags, marker]) =>
      acl(`a-${id}`, 80, { tags, ...(marker === null ? {} : { reason: aclMarker(marker) }) })
    ),
    { maxLength: 3, selector: (x) => x.id }
  )
})

describe("OrphanPlan properties", () => {
  it.prop("only resources tagged for this cluster, or named for it, are deleted; only IPs tagged for it are released", [
    anyInventory,
    fc.boolean()
  ], ([inventory, nodes]) => {
    const p = plan({
      cluster: C,
      inventory,
      services: [live],
      members: new Map(inventory.rules.map((r) => [r.id, nodes ? ["vm-node-1"] : []] as const)),
      nodeVms: new Set(["vm-node-1"])
    })
    const all = [...inventory.ips, ...inventory.rules, ...inventory.firewall, ...inventory.acl]
    for (const step of p.steps) {
      const found = all.filter((x) => x.id === step.resource.id)
      const ours = found.every((x) =>
        x.tags.some((t) => t.key.toLowerCase() === "cloudstack-ccm/cluster" && t.value === C)
      )
      const named = found.every((x) =>
        "name" in x &&
        (x.name.startsWith(lbName(U1)) || x.name.startsWith(lbName(uid(3))) || x.name.startsWith(`K8s_svc_${C}_`))
      )
      const marked = found.every((x) => "aclId" in x && x.reason !== undefined)
      if (step._tag === "ReleaseIp") assert.isTrue(ours, `released an IP not tagged as ours: ${step.resource.id}`)
      else {assert.isTrue(
          ours || named || marked,
          `deleted ${step.resource.id}, neither tagged for ${C} nor named nor marked`
        )}
      // never anything of the live Service
      assert.isFalse(
        found.some((x) => x.tags.some((t) => t.value === U2) || ("name" in x && x.name.startsWith(lbName(U2))))
      )
    }
  }, { fastCheck: { numRuns: 300 } })
})
