/**
 * The reads an observation of one load balancer needs, behind one interface: `live` asks CloudStack
 * for each, `fleet` answers from listings fetched once for every Service (a drift-repair pass: one
 * listing per page of rules, firewall rules and IPs instead of calls per Service). Members have no
 * bulk listing in the API, nor have policies: both ask per rule.
 */
import { Chunk, Effect, Option, Ref, Stream } from "effect"
import type { CloudStackClientShape } from "../../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../../cloudstack/CloudStackError.js"
import type { ListCommand } from "../../cloudstack/Command.js"
import { listPublicIpAddresses, type PublicIpAddress } from "../../cloudstack/commands/Addresses.js"
import { type FirewallRule, listFirewallRules } from "../../cloudstack/commands/Firewall.js"
import {
  type HealthCheckPolicy,
  listLBHealthCheckPolicies,
  listLBStickinessPolicies,
  listLoadBalancerRuleInstances,
  listLoadBalancerRules,
  type LoadBalancerRule,
  type StickinessPolicy
} from "../../cloudstack/commands/LoadBalancers.js"
import { listNetworkACLs, type NetworkAclItem } from "../../cloudstack/commands/NetworkAcls.js"
import type { AclListId, IpAddressId, LbRuleId, NetworkId, VmId, ZoneId } from "../../cloudstack/Ids.js"
import { sharing } from "../Sharing.js"
import type { TagPair } from "./Tags.js"

export interface LbReads {
  /** Every LB rule on the IP (the Service's and any other's). */
  readonly rulesOnIp: (ip: IpAddressId) => Effect.Effect<ReadonlyArray<LoadBalancerRule>, CloudStackError>
  /** Rules whose name contains `keyword` (CloudStack's LIKE match: callers keep exact prefixes). */
  readonly rulesNamed: (keyword: string) => Effect.Effect<ReadonlyArray<LoadBalancerRule>, CloudStackError>
  /** An allocated IP of the account by id. */
  readonly ipById: (id: IpAddressId) => Effect.Effect<Option.Option<PublicIpAddress>, CloudStackError>
  /** An IP by address; with `includeFree` the zone's free ones too. */
  readonly ipByAddress: (
    address: string,
    includeFree: boolean
  ) => Effect.Effect<Option.Option<PublicIpAddress>, CloudStackError>
  readonly firewallOnIp: (ip: IpAddressId) => Effect.Effect<ReadonlyArray<FirewallRule>, CloudStackError>
  readonly aclItems: (acl: AclListId) => Effect.Effect<ReadonlyArray<NetworkAclItem>, CloudStackError>
  readonly members: (rule: LbRuleId) => Effect.Effect<ReadonlyArray<VmId>, CloudStackError>
  readonly stickiness: (rule: LbRuleId) => Effect.Effect<ReadonlyArray<StickinessPolicy>, CloudStackError>
  readonly healthChecks: (rule: LbRuleId) => Effect.Effect<ReadonlyArray<HealthCheckPolicy>, CloudStackError>
}

const first = <A extends { readonly id: string }>(items: ReadonlyArray<A>, id: string): Option.Option<A> =>
  Option.fromNullable(items.find((i) => i.id === id))

/** One call per read. */
export const live = (cs: CloudStackClientShape): LbReads => ({
  rulesOnIp: (ip) =>
    Effect.map(cs.list(listLoadBalancerRules, { publicIpId: ip }), (rs) => rs.filter((r) => r.publicIpId === ip)),
  rulesNamed: (keyword) => cs.list(listLoadBalancerRules, { keyword }),
  ipById: (id) => Effect.map(cs.list(listPublicIpAddresses, { id }), (ips) => first(ips, id)),
  ipByAddress: (address, includeFree) =>
    Effect.map(
      cs.list(
        listPublicIpAddresses,
        includeFree ? { ipAddress: address, allocatedOnly: false } : { ipAddress: address }
      ),
      (ips) => Option.fromNullable(ips.find((i) => i.ipAddress === address))
    ),
  firewallOnIp: (ip) =>
    Effect.map(cs.list(listFirewallRules, { ipAddressId: ip }), (fs) => fs.filter((f) => f.ipAddressId === ip)),
  aclItems: (acl) =>
    Effect.map(cs.list(listNetworkACLs, { aclId: acl }), (items) => items.filter((a) => a.aclId === acl)),
  members: (rule) => Effect.map(cs.list(listLoadBalancerRuleInstances, { id: rule }), (vms) => vms.map((vm) => vm.id)),
  stickiness: (rule) =>
    Effect.map(
      cs.list(listLBStickinessPolicies, { lbRuleId: rule }),
      (sets) => sets.filter((s) => s.lbRuleId === rule).flatMap((s) => s.policies)
    ),
  healthChecks: (rule) =>
    Effect.map(
      cs.list(listLBHealthCheckPolicies, { lbRuleId: rule }),
      (sets) => sets.filter((s) => s.lbRuleId === rule).flatMap((s) => s.policies)
    )
})

/** Everything a drift pass reads once: the account's LB rules, firewall rules and allocated IPs. */
export interface Fleet {
  readonly rules: ReadonlyArray<LoadBalancerRule>
  readonly firewall: ReadonlyArray<FirewallRule>
  readonly ips: ReadonlyArray<PublicIpAddress>
}

/**
 * Copies of fleet entries sharing the text the account's resources repeat: tag keys and values (the
 * cluster, a Service's name and UID on its IP, rules and firewall rules), IP, network and zone ids,
 * addresses, states, protocols and CIDR lists. A pass holds every entry; decoded JSON gives each its
 * own copy of every value longer than a few characters.
 */
export const fleetCompactor = () => {
  const text = sharing<string>()
  const ipIds = sharing<IpAddressId>()
  const networks = sharing<NetworkId>()
  const zones = sharing<ZoneId>()
  const lists = new Map<string, ReadonlyArray<string>>()
  const list = (items: ReadonlyArray<string>): ReadonlyArray<string> => {
    const key = items.join("\n")
    const known = lists.get(key)
    if (known !== undefined) return known
    const kept = items.map(text)
    lists.set(key, kept)
    return kept
  }
  const tags = (ts: ReadonlyArray<TagPair>) => ts.map((t) => ({ key: text(t.key), value: text(t.value) }))
  const rule = (r: LoadBalancerRule): LoadBalancerRule => ({
    ...r,
    algorithm: text(r.algorithm),
    publicIp: text(r.publicIp),
    publicIpId: ipIds(r.publicIpId),
    state: text(r.state),
    ...(r.protocol === undefined ? {} : { protocol: text(r.protocol) }),
    ...(r.cidrList === undefined ? {} : { cidrList: list(r.cidrList) }),
    ...(r.networkId === undefined ? {} : { networkId: networks(r.networkId) }),
    ...(r.zoneId === undefined ? {} : { zoneId: zones(r.zoneId) }),
    tags: tags(r.tags)
  })
  const firewall = (f: FirewallRule): FirewallRule => ({
    ...f,
    protocol: text(f.protocol),
    ipAddressId: ipIds(f.ipAddressId),
    state: text(f.state),
    ...(f.ipAddress === undefined ? {} : { ipAddress: text(f.ipAddress) }),
    ...(f.networkId === undefined ? {} : { networkId: networks(f.networkId) }),
    ...(f.cidrList === undefined ? {} : { cidrList: list(f.cidrList) }),
    tags: tags(f.tags)
  })
  const ip = (i: PublicIpAddress): PublicIpAddress => ({
    ...i,
    id: ipIds(i.id),
    ipAddress: text(i.ipAddress),
    state: text(i.state),
    zoneId: zones(i.zoneId),
    ...(i.associatedNetworkId === undefined ? {} : { associatedNetworkId: networks(i.associatedNetworkId) }),
    ...(i.networkId === undefined ? {} : { networkId: text(i.networkId) }),
    tags: tags(i.tags)
  })
  return { rule, firewall, ip }
}

/**
 * The fleet's listings: three paged listings whatever the number of Services, each page compacted
 * as it comes (a whole listing as decoded is never alive beside its compacted copy).
 */
export const fetchFleet = (
  cs: CloudStackClientShape,
  compactor: () => ReturnType<typeof fleetCompactor> = fleetCompactor
): Effect.Effect<Fleet, CloudStackError> =>
  Effect.suspend(() => {
    const compact = compactor()
    const listed = <P, A>(command: ListCommand<P, A>, params: P, keep: (item: A) => A) =>
      Effect.map(Stream.runCollect(Stream.map(cs.stream(command, params), keep)), Chunk.toReadonlyArray)
    return Effect.all({
      rules: listed(listLoadBalancerRules, {}, compact.rule),
      firewall: listed(listFirewallRules, {}, compact.firewall),
      ips: listed(listPublicIpAddresses, {}, compact.ip)
    })
  })

const groupBy = <A, K>(items: ReadonlyArray<A>, key: (a: A) => K): ReadonlyMap<K, ReadonlyArray<A>> => {
  const out = new Map<K, Array<A>>()
  for (const item of items) {
    const k = key(item)
    const list = out.get(k)
    if (list === undefined) out.set(k, [item])
    else list.push(item)
  }
  return out
}

/**
 * Member listings under one budget of member VMs in flight (`gate`, permits = a page of VMs). A
 * member listing answers whole VMs, a page of them megabytes of text and parsed JSON before it is
 * cut to ids: unbounded, the workers of a drift pass's member audits on a large cluster held one
 * each at once. A listing takes as many permits as members it may answer, up to a page (`expected`:
 * the request's nodes, or the most members one listing answered so far if more): on a small
 * cluster several are read at once, on a large one one at a time.
 */
export const memberGate = (gate: Effect.Semaphore, page: number) => {
  let largest = 0
  return (reads: LbReads, expected: number): LbReads => ({
    ...reads,
    members: (rule) =>
      gate.withPermits(Math.min(page, Math.max(1, expected, largest)))(
        Effect.tap(reads.members(rule), (ids) => Effect.sync(() => void (largest = Math.max(largest, ids.length))))
      )
  })
}

/**
 * Reads answered from a fleet snapshot. ACL lists are listed once per pass and kept (`aclCache`);
 * members and a requested free address (rare) are asked through `inner` (the live reads).
 */
export const fleet = (
  snapshot: Fleet,
  inner: LbReads,
  aclCache: Ref.Ref<ReadonlyMap<AclListId, ReadonlyArray<NetworkAclItem>>>
): LbReads => {
  const rulesByIp = groupBy(snapshot.rules, (r) => r.publicIpId)
  const fwByIp = groupBy(snapshot.firewall, (f) => f.ipAddressId)
  const ipsById = new Map(snapshot.ips.map((ip) => [ip.id, ip] as const))
  const ipsByAddress = new Map(snapshot.ips.map((ip) => [ip.ipAddress, ip] as const))
  return {
    rulesOnIp: (ip) => Effect.succeed(rulesByIp.get(ip) ?? []),
    rulesNamed: (keyword) => Effect.succeed(snapshot.rules.filter((r) => r.name.includes(keyword))),
    ipById: (id) => Effect.succeed(Option.fromNullable(ipsById.get(id))),
    ipByAddress: (address, includeFree) => {
      const known = ipsByAddress.get(address)
      return known !== undefined || !includeFree
        ? Effect.succeed(Option.fromNullable(known))
        : inner.ipByAddress(address, true)
    },
    firewallOnIp: (ip) => Effect.succeed(fwByIp.get(ip) ?? []),
    aclItems: (acl) =>
      Effect.flatMap(Ref.get(aclCache), (cache) => {
        const cached = cache.get(acl)
        return cached !== undefined
          ? Effect.succeed(cached)
          : Effect.tap(inner.aclItems(acl), (items) => Ref.update(aclCache, (m) => new Map(m).set(acl, items)))
      }),
    members: inner.members,
    stickiness: inner.stickiness,
    healthChecks: inner.healthChecks
  }
}
