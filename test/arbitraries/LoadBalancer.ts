/**
 * Arbitrary planner inputs: a DesiredLb and an ObservedLb that Observe could have produced for it
 * (the recorded IP's `owned` from the record, firewall rules only on isolated networks and never
 * conflicting, marked ACL items only on custom lists, the requested IP looked up only when no
 * observed IP has its address, one rule per public port and IP).
 */
import { FastCheck as fc, Option } from "effect"
import type { FirewallRule } from "../../src/cloudstack/commands/Firewall.js"
import type { LbAlgorithm, LbProtocol } from "../../src/cloudstack/commands/LoadBalancers.js"
import type { NetworkAclItem } from "../../src/cloudstack/commands/NetworkAcls.js"
import { IpAddressId, type LbRuleId, NetworkId, VpcId } from "../../src/cloudstack/Ids.js"
import * as Cidr from "../../src/provider/loadbalancer/Cidr.js"
import type { NetworkProfile } from "../../src/provider/loadbalancer/NetworkProfile.js"
import type { ObservedIp, ObservedLb, RequestedIp } from "../../src/provider/loadbalancer/ObservedLb.js"
import type { Ownership } from "../../src/provider/loadbalancer/Ownership.js"
import type { DesiredLb } from "../../src/provider/loadbalancer/Plan.js"
import {
  acl,
  desired,
  fw,
  ip,
  isolated,
  NET,
  observed,
  OTHER_NET,
  port,
  rule,
  spec,
  tier,
  vm,
  VPC
} from "../provider/loadbalancer/PlanFixtures.js"

export const PUBLIC_PORTS = [80, 443, 53] as const
export const CIDR_LISTS: ReadonlyArray<ReadonlyArray<string>> = [
  ["0.0.0.0/0"],
  ["10.0.0.0/8"],
  ["10.1.0.0/16", "192.0.2.0/24"],
  ["192.0.2.0/24"],
  ["198.51.100.7"]
]
const VMS = ["vm-a", "vm-b", "vm-c", "vm-old"] as const
const ADDRESSES = ["203.0.113.1", "203.0.113.2", "198.51.100.5"] as const
const IP_IDS = ["ip-1", "ip-2", "ip-3"] as const

export type NetworkKind = "isolated" | "custom-acl" | "default-acl" | "no-access"

export const protocol = fc.constantFrom<LbProtocol>("tcp", "udp", "tcp-proxy")
export const algorithm = fc.constantFrom<LbAlgorithm>("roundrobin", "leastconn", "source")
export const cidrList = fc.constantFrom(...CIDR_LISTS)
export const privatePort = fc.constantFrom(30001, 30002)
export const vmSet = fc.subarray([...VMS]).map((xs) => xs.map(vm).sort())

const networkOf = (kind: NetworkKind): NetworkProfile => {
  switch (kind) {
    case "isolated":
      return isolated()
    case "custom-acl":
      return tier("lb-acl")
    case "default-acl":
      return tier("default_deny")
    case "no-access":
      return { ...isolated(), access: { _tag: "None" } }
  }
}

export const portSpecs = fc.subarray([...PUBLIC_PORTS]).chain((ports) =>
  fc.tuple(...ports.map((p) => fc.tuple(protocol, privatePort).map(([proto, priv]) => port(proto, p, priv))))
)

/** An observed IP of the Service (before the record decides `recorded` and `owned`). */
const observedIp = (id: string, kind: NetworkKind) =>
  fc.record({
    binding: fc.constantFrom<"here" | "elsewhere" | "unassociated">("here", "here", "elsewhere", "unassociated"),
    owned: fc.boolean(),
    foreignRules: fc.constantFrom(0, 0, 1),
    address: fc.constantFrom(`192.0.2.${id.slice(3)}`, ...ADDRESSES)
  }).map(({ address, binding, foreignRules, owned }): ObservedIp => {
    const vpc = kind === "custom-acl" || kind === "default-acl"
    return ip(id, {
      address,
      associatedNetworkId: binding === "here"
        ? Option.some(NET)
        : binding === "elsewhere"
        ? Option.some(OTHER_NET)
        : Option.none(),
      vpcId: vpc ? Option.some(binding === "unassociated" ? VpcId.make("vpc-9") : VPC) : Option.none(),
      owned,
      foreignRules
    })
  })

/** An address belongs to one IP: a repeated one is replaced by the IP's own. */
const uniqueAddresses = (ips: ReadonlyArray<ObservedIp>): ReadonlyArray<ObservedIp> =>
  ips.map((
    i,
    n
  ) => (ips.slice(0, n).some((j) => j.address === i.address) ? { ...i, address: `192.0.2.${i.id.slice(3)}` } : i))

/** Our rules on an IP: at most one per public port; none before the IP is associated with a network. */
const rulesOn = (target: ObservedIp) =>
  fc.subarray(Option.isSome(target.associatedNetworkId) ? [...PUBLIC_PORTS] : []).chain((ports) =>
    fc.tuple(
      ...ports.map((p) =>
        fc.record({
          protocol,
          privatePort,
          algorithm,
          cidrs: fc.oneof(fc.constant<ReadonlyArray<string>>([]), cidrList)
        }).map((r) =>
          rule(`r-${target.id}-${p}`, target.id, port(r.protocol, p, r.privatePort), {
            algorithm: r.algorithm,
            cidrs: r.cidrs,
            networkId: Option.orElse(target.associatedNetworkId, () => Option.some(NET))
          })
        )
      )
    )
  )

/** Firewall rules on an associated IP, CloudStack's conflict rule kept (same protocol, overlapping ports, intersecting sources). */
const firewallOn = (target: ObservedIp) =>
  fc.array(
    fc.record({
      port: fc.constantFrom(...PUBLIC_PORTS, 22),
      range: fc.boolean(),
      protocol: fc.constantFrom("tcp", "udp", "TCP"),
      cidrs: cidrList
    }),
    { maxLength: Option.isSome(target.associatedNetworkId) ? 4 : 0 }
  ).map((specs) => {
    const kept: Array<FirewallRule> = []
    specs.forEach((s, i) => {
      // A user's port range is kept off the Service's ports: one over them would refuse (537) any
      // firewall rule of ours there, which only the user can resolve.
      const candidate: FirewallRule = s.range
        ? { ...fw(`fw-${target.id}-${i}`, target.id, s.protocol, 1000 + s.port, s.cidrs), endPort: 1010 + s.port }
        : fw(`fw-${target.id}-${i}`, target.id, s.protocol, s.port, s.cidrs)
      if (!kept.some((k) => conflicts(k, candidate))) kept.push(candidate)
    })
    return kept
  })

/** CloudStack's 537 for firewall rules: same IP and protocol, overlapping ports, intersecting sources. */
export const conflicts = (a: FirewallRule, b: FirewallRule): boolean =>
  a.ipAddressId === b.ipAddressId && a.protocol.toLowerCase() === b.protocol.toLowerCase() &&
  (a.startPort ?? 0) <= (b.endPort ?? b.startPort ?? 0) && (b.startPort ?? 0) <= (a.endPort ?? a.startPort ?? 0) &&
  Cidr.anyIntersect(a.cidrList ?? ["0.0.0.0/0"], b.cidrList ?? ["0.0.0.0/0"])

const aclItems = fc.array(
  fc.record({ port: fc.constantFrom(...PUBLIC_PORTS), protocol: fc.constantFrom("tcp", "udp"), cidrs: cidrList }),
  { maxLength: 4 }
).map((specs) => specs.map((s, i): NetworkAclItem => acl(`acl-${i}`, s.protocol, s.port, s.cidrs)))

/** How the requested address looks when it is looked up. */
export const lookup = fc.record({
  tag: fc.constantFrom<"Free" | "Available" | "Unavailable">("Free", "Available", "Unavailable"),
  foreignRules: fc.constantFrom(0, 1)
})
export const requestedAddress = fc.option(fc.constantFrom(...ADDRESSES), { nil: undefined, freq: 3 })

export interface PlanInput {
  readonly kind: NetworkKind
  readonly d: DesiredLb
  readonly o: ObservedLb
}

export const planInput: fc.Arbitrary<PlanInput> = fc.record({
  kind: fc.constantFrom<NetworkKind>("isolated", "isolated", "custom-acl", "default-acl", "no-access"),
  ports: portSpecs,
  requestedIp: requestedAddress,
  algorithm,
  sourceRanges: cidrList,
  ruleCidrs: fc.option(cidrList, { nil: undefined }),
  keepIp: fc.boolean(),
  members: vmSet,
  recreateForCidrs: fc.boolean(),
  ipIds: fc.subarray([...IP_IDS]),
  record: fc.record({
    ipId: fc.constantFrom<string | undefined>(undefined, ...IP_IDS, "ip-gone"),
    associated: fc.boolean(),
    allocating: fc.option(fc.constantFrom(...ADDRESSES), { nil: undefined, freq: 4 })
  }),
  requested: lookup
}).chain((g) => {
  const network = networkOf(g.kind)
  return fc.tuple(...g.ipIds.map((id) => observedIp(id, g.kind))).map(uniqueAddresses).chain((rawIps) => {
    // Observe: the recorded IP is `recorded`, and owned exactly when the record says so; the
    // address being associated, found without foreign rules, is adopted as ours.
    const adopted = (i: ObservedIp) => i.address === g.record.allocating && i.foreignRules === 0
    const candidates = rawIps.map((i) =>
      i.id === g.record.ipId
        ? { ...i, recorded: true, owned: g.record.associated }
        : adopted(i)
        ? { ...i, owned: true }
        : i
    )
    return fc.tuple(
      fc.tuple(...candidates.map(rulesOn)).map((xs) => xs.flat()),
      fc.tuple(...candidates.map(firewallOn)).map((xs) => xs.flat()),
      aclItems
    ).chain(([rules, allFirewall, items]) =>
      fc.tuple(...rules.map((r) => fc.option(vmSet, { nil: undefined }).map((m) => [r.id, m] as const))).map(
        (entries) => {
          // Observe finds an IP by the record, the address being associated, or our rules on it.
          const ips = candidates.filter((i) => i.recorded || adopted(i) || rules.some((r) => r.ipId === i.id))
          const firewall = allFirewall.filter((f) => ips.some((i) => i.id === f.ipAddressId))
          const memberMap = new Map<LbRuleId, ReadonlyArray<ReturnType<typeof vm>>>()
          for (const [id, m] of entries) if (m !== undefined) memberMap.set(id, m)
          const spec_ = spec({
            ports: g.ports,
            requestedIp: Option.fromNullable(g.requestedIp),
            algorithm: g.algorithm,
            sourceRanges: g.sourceRanges,
            ruleCidrs: Option.fromNullable(g.ruleCidrs),
            keepIp: g.keepIp,
            proxyProtocol: g.ports.some((p) => p.protocol === "tcp-proxy")
          })
          const requested = requestedOf(spec_.requestedIp, g.ports.length > 0, ips, g.requested, network)
          // Not generated: a stale `allocating` naming the user's own IP (a failed association the
          // user then made by hand); Observe would adopt it as ours (reported, not the planner's part).
          const usersOwn = Option.exists(
            requested,
            (r) => r._tag === "Available" && r.ip.address === g.record.allocating
          )
          const ownership: Ownership = {
            ipId: Option.map(Option.fromNullable(g.record.ipId), IpAddressId.make),
            associated: g.record.associated,
            allocating: usersOwn ? Option.none() : Option.fromNullable(g.record.allocating),
            stickyApplied: false
          }
          return {
            kind: g.kind,
            d: desired({ spec: spec_, network, members: g.members, recreateForCidrs: g.recreateForCidrs, ownership }),
            o: observed({
              ips,
              rules,
              members: memberMap,
              firewall: network.access._tag === "Firewall" ? firewall : [],
              acl: g.kind === "custom-acl" ? items : [],
              requested
            })
          }
        }
      )
    )
  })
})

/** Observe looks the requested address up only when ports want it and no observed IP has it. */
export const requestedOf = (
  address: Option.Option<string>,
  hasPorts: boolean,
  ips: ReadonlyArray<ObservedIp>,
  g: { readonly tag: "Free" | "Available" | "Unavailable"; readonly foreignRules: number },
  network: NetworkProfile
): Option.Option<RequestedIp> => {
  if (Option.isNone(address) || !hasPorts || ips.some((i) => i.address === address.value)) return Option.none()
  switch (g.tag) {
    case "Free":
      return Option.some({ _tag: "Free", address: address.value })
    case "Unavailable":
      return Option.some({ _tag: "Unavailable", address: address.value, why: "it is Reserved" })
    case "Available":
      return Option.some({
        _tag: "Available",
        ip: ip("ip-user", {
          address: address.value,
          owned: false,
          foreignRules: g.foreignRules,
          associatedNetworkId: Option.some(NetworkId.make(network.id)),
          vpcId: network.vpcId
        })
      })
  }
}
