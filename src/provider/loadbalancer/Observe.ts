/**
 * Reads what CloudStack has for one Service's load balancer, with as few calls as the question
 * allows: nothing for a Service no controller has touched yet; the rules on the recorded IP (one
 * call, which also shows other Services' rules on it); the Go CCM's rules by name otherwise. Then,
 * once the network is known, the firewall rules or ACL items and the members of the rules that stay.
 */
import { Effect, Option } from "effect"
import { CloudStackClient } from "../../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../../cloudstack/CloudStackError.js"
import { listFirewallRules } from "../../cloudstack/commands/Firewall.js"
import { type LoadBalancerRule, listLoadBalancerRuleInstances, listLoadBalancerRules } from "../../cloudstack/commands/LoadBalancers.js"
import { listPublicIpAddresses, type PublicIpAddress } from "../../cloudstack/commands/Addresses.js"
import { listNetworkACLs } from "../../cloudstack/commands/NetworkAcls.js"
import type { IpAddressId, LbRuleId, VmId } from "../../cloudstack/Ids.js"
import { parseRuleName } from "./LbName.js"
import type { LbSpec } from "./LbSpec.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import { DEFAULT_ACL_LISTS } from "./NetworkProfile.js"
import { aclMarker, type ObservedIp, type ObservedLb, type ObservedRule, type RequestedIp } from "./ObservedLb.js"
import type { Ownership } from "./Ownership.js"

export interface ObserveInput {
  readonly uid: string
  readonly spec: LbSpec
  readonly ownership: Ownership
  /** No controller has acted on the Service yet (no finalizer, status or record): nothing can exist. */
  readonly fresh: boolean
  /** Whether another Service records this IP id or address. */
  readonly claimedElsewhere: (idOrAddress: string) => boolean
}

/** The IPs and rules of the Service (phase 1: before the network is known). */
export interface ObservedBase {
  readonly ips: ReadonlyArray<ObservedIp>
  readonly rules: ReadonlyArray<ObservedRule>
}

const isAllocated = (ip: PublicIpAddress) => ip.state === "Allocated" || ip.state === "Allocating"

const toObservedRule = (lbName: string, rule: LoadBalancerRule): ObservedRule | undefined => {
  const parsed = parseRuleName(lbName, rule.name)
  if (parsed === undefined) return undefined
  return {
    id: rule.id,
    name: rule.name,
    protocol: parsed.protocol,
    publicPort: rule.publicPort,
    privatePort: rule.privatePort,
    algorithm: rule.algorithm,
    cidrs: rule.cidrList ?? [],
    ipId: rule.publicIpId,
    networkId: Option.fromNullable(rule.networkId)
  }
}

const ipFromAddress = (ip: PublicIpAddress, owned: boolean, foreignRules: number, recorded: boolean): ObservedIp => ({
  id: ip.id,
  address: ip.ipAddress,
  associatedNetworkId: Option.fromNullable(ip.associatedNetworkId),
  vpcId: Option.fromNullable(ip.vpcId),
  owned,
  foreignRules,
  recorded
})

/** Phase 1: the Service's IPs and rules. */
export const observeBase = (input: ObserveInput): Effect.Effect<ObservedBase, CloudStackError, CloudStackClient> =>
  Effect.gen(function*() {
    const { ownership, spec } = input
    if (input.fresh && Option.isNone(ownership.ipId) && Option.isNone(ownership.allocating)) return { ips: [], rules: [] }
    const cs = yield* CloudStackClient
    const ips: Array<ObservedIp> = []
    const rules: Array<ObservedRule> = []
    const seen = new Set<string>()

    /** All LB rules on an IP: the Service's become ObservedRules, the rest count as foreign. */
    const rulesOn = (ipId: IpAddressId) =>
      Effect.map(cs.list(listLoadBalancerRules, { publicIpId: ipId }), (all) => {
        const own = all.flatMap((r) => {
          const o = r.publicIpId === ipId ? toObservedRule(spec.lbName, r) : undefined
          return o === undefined ? [] : [o]
        })
        return { own, foreign: all.filter((r) => r.publicIpId === ipId).length - own.length, any: all[0] }
      })

    const addIp = (ip: ObservedIp, own: ReadonlyArray<ObservedRule>) => {
      seen.add(ip.id)
      ips.push(ip)
      rules.push(...own)
    }

    // The recorded IP: one call lists its rules, the Service's and any others'.
    if (Option.isSome(ownership.ipId)) {
      const ipId = ownership.ipId.value
      const found = yield* rulesOn(ipId)
      if (found.any !== undefined) {
        addIp({
          id: ipId,
          address: found.any.publicIp,
          associatedNetworkId: Option.fromNullable(found.any.networkId),
          vpcId: Option.none(),
          owned: ownership.associated,
          foreignRules: found.foreign,
          recorded: true
        }, found.own)
      } else {
        // No rule on it (e.g. a crash right after the association): is it still ours?
        const [ip] = yield* cs.list(listPublicIpAddresses, { id: ipId })
        if (ip !== undefined && ip.id === ipId && isAllocated(ip)) addIp(ipFromAddress(ip, ownership.associated, 0, true), [])
      }
    } else if (!input.fresh) {
      // No record: rules named by the Go CCM (keyword is a LIKE match: keep exact prefixes only).
      const named = (yield* cs.list(listLoadBalancerRules, { keyword: spec.lbName })).flatMap((r) => {
        const o = toObservedRule(spec.lbName, r)
        return o === undefined ? [] : [{ rule: r, observed: o }]
      })
      const byIp = new Map<IpAddressId, Array<{ rule: LoadBalancerRule; observed: ObservedRule }>>()
      for (const n of named) byIp.set(n.rule.publicIpId, [...(byIp.get(n.rule.publicIpId) ?? []), n])
      for (const [ipId, list] of byIp) {
        const found = yield* rulesOn(ipId)
        const first = list[0]?.rule
        if (first === undefined) continue
        // The Go CCM always released IPs it allocated itself, and a requested one only with its annotation.
        const owned = Option.match(spec.requestedIp, {
          onNone: () => true,
          onSome: (requested) => requested === first.publicIp && ownership.associated
        })
        addIp({
          id: ipId,
          address: first.publicIp,
          associatedNetworkId: Option.fromNullable(first.networkId),
          vpcId: Option.none(),
          owned,
          foreignRules: found.foreign,
          recorded: false
        }, found.own)
      }
    }

    // An address being associated when the last attempt stopped: adopted if it is on our side.
    if (Option.isSome(ownership.allocating)) {
      const address = ownership.allocating.value
      if (!ips.some((ip) => ip.address === address) && !input.claimedElsewhere(address)) {
        const [ip] = (yield* cs.list(listPublicIpAddresses, { ipAddress: address })).filter((i) => i.ipAddress === address)
        if (ip !== undefined && isAllocated(ip) && !ip.isSourceNat && !ip.isStaticNat && !seen.has(ip.id) && !input.claimedElsewhere(ip.id)) {
          const found = yield* rulesOn(ip.id)
          if (found.foreign === 0) addIp(ipFromAddress(ip, true, 0, false), found.own)
        }
      }
    }
    return { ips, rules }
  })

export interface DetailsInput {
  readonly uid: string
  /** No controller has acted on the Service yet: none of its ACL items can exist. */
  readonly fresh: boolean
  readonly spec: LbSpec
  readonly base: ObservedBase
  readonly network: NetworkProfile
  /** Rules whose members matter (those that will stay). */
  readonly memberRules: ReadonlyArray<LbRuleId>
  readonly claimedElsewhere: (idOrAddress: string) => boolean
}

/** What the requested address is, seen from the LB's network. */
const lookupRequested = (address: string, network: NetworkProfile, claimed: (s: string) => boolean) =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const [ip] = (yield* cs.list(listPublicIpAddresses, { ipAddress: address, allocatedOnly: false })).filter((i) =>
      i.ipAddress === address
    )
    const unavailable = (why: string): RequestedIp => ({ _tag: "Unavailable", address, why })
    if (ip === undefined) return unavailable("no such public IP is visible to the account in this zone")
    if (ip.zoneId !== network.zoneId) return unavailable(`it is in another zone than network ${network.name}`)
    if (ip.state === "Free") return { _tag: "Free", address } satisfies RequestedIp
    if (!isAllocated(ip)) return unavailable(`it is ${ip.state}`)
    if (ip.isStaticNat) return unavailable("it is a static NAT IP (CloudStack refuses load balancing on it)")
    const here = Option.match(network.vpcId, {
      onNone: () => ip.associatedNetworkId === network.id,
      onSome: (vpc) => ip.vpcId === vpc && (ip.associatedNetworkId === undefined || ip.associatedNetworkId === network.id)
    })
    if (!here) return unavailable(`it belongs to another network than the nodes' network ${network.name}`)
    if (claimed(ip.id) || claimed(address)) {
      return { _tag: "Available", ip: ipFromAddress(ip, false, 1, false) } satisfies RequestedIp
    }
    const foreign = (yield* cs.list(listLoadBalancerRules, { publicIpId: ip.id })).filter((r) => r.publicIpId === ip.id).length
    return { _tag: "Available", ip: ipFromAddress(ip, false, foreign, false) } satisfies RequestedIp
  })

/** Phase 2: access rules, members and the requested IP, once the network is known. */
export const observeDetails = (input: DetailsInput): Effect.Effect<ObservedLb, CloudStackError, CloudStackClient> =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const { base, network, spec } = input
    // Without ports nothing is kept: an IP that will be released takes its firewall rules with it.
    const released = (ip: ObservedIp) => spec.ports.length === 0 && ip.owned && ip.foreignRules === 0 && !spec.keepIp
    const firewall = network.access._tag === "Firewall"
      ? (yield* Effect.forEach(base.ips.filter((ip) => !released(ip)), (ip) => cs.list(listFirewallRules, { ipAddressId: ip.id }))).flat()
      : []
    const marker = aclMarker(input.uid)
    // A fresh Service has no items yet (the marker carries its UID).
    const acl = network.access._tag === "Acl" && !DEFAULT_ACL_LISTS.has(network.access.listName) && !input.fresh
      ? (yield* cs.list(listNetworkACLs, { aclId: network.access.aclId })).filter((a) => a.reason === marker)
      : []
    const members = new Map<LbRuleId, ReadonlyArray<VmId>>()
    for (const id of input.memberRules) {
      const vms = yield* cs.list(listLoadBalancerRuleInstances, { id })
      members.set(id, vms.map((vm) => vm.id))
    }
    const requested = Option.isSome(spec.requestedIp) && spec.ports.length > 0 &&
        !base.ips.some((ip) => ip.address === spec.requestedIp.pipe(Option.getOrElse(() => "")))
      ? Option.some(yield* lookupRequested(spec.requestedIp.value, network, input.claimedElsewhere))
      : Option.none()
    return { ips: base.ips, rules: base.rules, members, firewall, acl, requested }
  })
