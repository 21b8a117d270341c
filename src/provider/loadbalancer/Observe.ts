/**
 * Reads what CloudStack has for one Service's load balancer, with as few reads as the question
 * allows: nothing for a Service no controller has touched yet; the rules on the recorded IP (one
 * read, which also shows other Services' rules on it); the Go CCM's or the fork's rules by name
 * otherwise. Then, once the network is known, the firewall rules or ACL items and the members of
 * the rules that stay (and their policies, when any are wanted or were applied). The reads come from `LbReads`: live calls, or a drift pass's fleet listings.
 */
import { Effect, Option } from "effect"
import { AsyncJobPendingError, type CloudStackError } from "../../cloudstack/CloudStackError.js"
import type { PublicIpAddress } from "../../cloudstack/commands/Addresses.js"
import type { LoadBalancerRule } from "../../cloudstack/commands/LoadBalancers.js"
import type { IpAddressId, LbRuleId, VmId } from "../../cloudstack/Ids.js"
import { parseAnyRuleName } from "./LbName.js"
import type { LbSpec } from "./LbSpec.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import { DEFAULT_ACL_LISTS } from "./NetworkProfile.js"
import {
  aclMarker,
  type ObservedIp,
  type ObservedLb,
  type ObservedRule,
  type RequestedIp,
  type RulePolicies
} from "./ObservedLb.js"
import type { Ownership } from "./Ownership.js"
import type { LbReads } from "./Reads.js"
import { releasableByTags } from "./Tags.js"

export interface ObserveInput {
  readonly uid: string
  readonly cluster: string
  readonly spec: LbSpec
  readonly ownership: Ownership
  /** No controller has acted on the Service yet (no finalizer, status or record): nothing can exist. */
  readonly fresh: boolean
  /** The Service goes: its rules are looked for by name too, wherever they are. */
  readonly everywhere: boolean
  /** Whether another Service records this IP id or address. */
  readonly claimedElsewhere: (idOrAddress: string) => boolean
}

/** The IPs and rules of the Service (phase 1: before the network is known). */
export interface ObservedBase {
  readonly ips: ReadonlyArray<ObservedIp>
  readonly rules: ReadonlyArray<ObservedRule>
}

const isAllocated = (ip: PublicIpAddress) => ip.state === "Allocated" || ip.state === "Allocating"

const toObservedRule = (names: ReadonlyArray<string>, rule: LoadBalancerRule): ObservedRule | undefined => {
  const parsed = parseAnyRuleName(names, rule.name)
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
    networkId: Option.fromNullable(rule.networkId),
    tags: rule.tags
  }
}

const ipFromAddress = (
  ip: PublicIpAddress,
  owned: boolean,
  foreignPorts: ReadonlyArray<number>,
  recorded: boolean
): ObservedIp => ({
  id: ip.id,
  address: ip.ipAddress,
  associatedNetworkId: Option.fromNullable(ip.associatedNetworkId),
  vpcId: Option.fromNullable(ip.vpcId),
  owned,
  foreignRules: foreignPorts.length,
  foreignPorts,
  recorded,
  releasing: ip.state === "Releasing",
  tags: Option.some(ip.tags)
})

const ipFromRule = (
  rule: LoadBalancerRule,
  owned: boolean,
  foreignPorts: ReadonlyArray<number>,
  recorded: boolean
): ObservedIp => ({
  id: rule.publicIpId,
  address: rule.publicIp,
  associatedNetworkId: Option.fromNullable(rule.networkId),
  vpcId: Option.none(),
  owned,
  foreignRules: foreignPorts.length,
  foreignPorts,
  recorded,
  releasing: false,
  tags: Option.none()
})

/** Phase 1: the Service's IPs and rules. */
export const observeBase = (reads: LbReads, input: ObserveInput): Effect.Effect<ObservedBase, CloudStackError> =>
  Effect.gen(function*() {
    const { ownership, spec } = input
    if (input.fresh && Option.isNone(ownership.ipId) && Option.isNone(ownership.allocating)) {
      return { ips: [], rules: [] }
    }
    const ips: Array<ObservedIp> = []
    const rules: Array<ObservedRule> = []
    const seen = new Set<string>()

    /** All LB rules on an IP: the Service's become ObservedRules, the others' ports are foreign. */
    const rulesOn = (ipId: IpAddressId) =>
      Effect.map(reads.rulesOnIp(ipId), (all) => {
        const own: Array<ObservedRule> = []
        const foreign: Array<number> = []
        for (const r of all) {
          const o = toObservedRule(spec.lbNames, r)
          if (o === undefined) foreign.push(r.publicPort)
          else own.push(o)
        }
        // A rule named by the fork's scheme means the fork managed this LB.
        const forked = own.some((o) => !o.name.startsWith(`${spec.lbName}-`))
        return { own, foreign, any: all[0], forked }
      })

    const addIp = (ip: ObservedIp, own: ReadonlyArray<ObservedRule>) => {
      seen.add(ip.id)
      ips.push(ip)
      rules.push(...own)
    }

    /** The IPs carrying rules named for the Service (keyword is a LIKE match: exact prefixes only). */
    const byName = (
      owner: (
        first: LoadBalancerRule,
        found: Effect.Effect.Success<ReturnType<typeof rulesOn>>
      ) => Effect.Effect<boolean, CloudStackError>,
      names: ReadonlyArray<string> = spec.lbNames
    ) =>
      Effect.gen(function*() {
        const named = new Map<IpAddressId, LoadBalancerRule>()
        for (const name of names) {
          for (const r of yield* reads.rulesNamed(name)) {
            if (
              toObservedRule(spec.lbNames, r) !== undefined && !named.has(r.publicIpId) && !seen.has(r.publicIpId)
            ) named.set(r.publicIpId, r)
          }
        }
        for (const [ipId, first] of named) {
          const found = yield* rulesOn(ipId)
          addIp(ipFromRule(first, yield* owner(first, found), found.foreign, false), found.own)
        }
      })

    // The recorded IP: one read lists its rules, the Service's and any others'.
    let lostTrack = false
    let elsewhere = false
    if (Option.isSome(ownership.ipId)) {
      const ipId = ownership.ipId.value
      const found = yield* rulesOn(ipId)
      // The fork released the IP it managed on delete unless keep-ip: its LBs keep that contract.
      const owned = ownership.associated || found.forked
      const any = found.any
      if (any !== undefined) {
        // An IP this CCM (or the Go CCM, or the fork) associated and keeps (for its ports, or for the
        // other rules on it) is read whole for its tags: a tag job that failed (or a run that stopped
        // before it) is repaired only if the missing tag is seen, and the last Service out of a shared
        // IP releases it by that tag; one given up under keep-ip is marked kept by it. Not the fork's IP
        // under keep-ip: the user keeps it, it was never ours to tag (a user's own loadBalancerIP is
        // not owned at all).
        const whole = owned && (spec.keepIp ? !found.forked : spec.ports.length > 0 || found.foreign.length > 0)
          ? yield* reads.ipById(ipId)
          : Option.none()
        addIp(
          Option.match(whole, {
            onNone: () => ipFromRule(any, owned, found.foreign, true),
            onSome: (ip) => ipFromAddress(ip, owned, found.foreign, true)
          }),
          found.own
        )
      }
      // No rule on it (e.g. a crash right after the association): is it still there?
      const alone = any === undefined ? yield* reads.ipById(ipId) : Option.none()
      const gone = any === undefined && !Option.exists(alone, isAllocated)
      // Releasing: a release of ours that failed half way (its rules went): released again, not lost.
      const halfReleased = owned && Option.exists(alone, (ip) => ip.state === "Releasing")
      if (Option.isSome(alone) && (!gone || halfReleased)) addIp(ipFromAddress(alone.value, owned, [], true), [])
      // None of the Service's rules on a recorded IP that is gone, that others' rules keep, or that is
      // kept anyway: a move that stopped before its record named the new IP may have left them
      // elsewhere. Found by name; an IP there is ours only by this cluster's tag.
      lostTrack = found.own.length === 0 && (gone || found.foreign.length > 0 || spec.keepIp)
      // Not all of them (a port without its rule), or the Service goes: a move onto an existing IP
      // that stopped before its record named it may have left some there (seed 48). By this CCM's name.
      elsewhere = input.everywhere ||
        spec.ports.some((p) => !found.own.some((r) => r.protocol === p.protocol && r.publicPort === p.publicPort))
    } else if (!input.fresh) {
      // No record: rules named by the Go CCM or the fork.
      // The Go CCM always released IPs it allocated itself, a requested one only with its annotation.
      yield* byName((first, found) =>
        Effect.succeed(
          found.forked || Option.match(spec.requestedIp, {
            onNone: () => true,
            onSome: (requested) => requested === first.publicIp && ownership.associated
          })
        )
      )
    }

    // An address being associated when the last attempt stopped: adopted if it is on our side. Also
    // when Releasing: a release of it (adopted so) failed half way, and only another one frees it.
    if (Option.isSome(ownership.allocating)) {
      const address = ownership.allocating.value
      if (!ips.some((ip) => ip.address === address) && !input.claimedElsewhere(address)) {
        const ip = yield* reads.ipByAddress(address, false)
        if (
          Option.isSome(ip) && (isAllocated(ip.value) || ip.value.state === "Releasing") && !ip.value.isSourceNat &&
          !ip.value.isStaticNat &&
          !seen.has(ip.value.id) &&
          !input.claimedElsewhere(ip.value.id)
        ) {
          // Still Allocating: its association (whose wait ran out, or whose process ended) is running.
          // Rules cannot go on it yet, and another association would be a second IP: wait for it.
          if (ip.value.state === "Allocating") {
            return yield* new AsyncJobPendingError({ command: "associateIpAddress", entity: address })
          }
          const found = yield* rulesOn(ip.value.id)
          if (found.foreign.length === 0) addIp(ipFromAddress(ip.value, true, [], false), found.own)
        }
      }
    }

    // Looked for after the address being associated, which is adopted as ours by the record.
    if (lostTrack || elsewhere) {
      yield* byName(
        (first) =>
          Effect.map(
            reads.ipById(first.publicIpId),
            (ip) =>
              Option.exists(ip, (i) =>
                releasableByTags(input.cluster, i.tags) && !input.claimedElsewhere(i.id) &&
                !input.claimedElsewhere(i.ipAddress))
          ),
        lostTrack ? spec.lbNames : [spec.lbName]
      )
    }

    // An IP about to be given up that the record does not call ours: this cluster's tag on it says
    // this CCM associated it for another Service that shared it and left (the last user releases it).
    const givingUp = (ip: ObservedIp) =>
      !ip.owned && ip.foreignRules === 0 && !spec.keepIp && !input.claimedElsewhere(ip.id) &&
      !input.claimedElsewhere(ip.address) &&
      (spec.ports.length === 0 || Option.exists(spec.requestedIp, (r) => r !== ip.address))
    const checked: Array<ObservedIp> = []
    for (const ip of ips) {
      if (!givingUp(ip)) {
        checked.push(ip)
        continue
      }
      const read = Option.isSome(ip.tags)
        ? Option.some(ip.tags.value)
        : Option.map(yield* reads.ipById(ip.id), (i) => i.tags)
      checked.push({ ...ip, tags: read, owned: Option.exists(read, (tags) => releasableByTags(input.cluster, tags)) })
    }
    return { ips: checked, rules }
  })

export interface DetailsInput {
  readonly uid: string
  /** No controller has acted on the Service yet: none of its ACL items can exist. */
  readonly fresh: boolean
  readonly spec: LbSpec
  readonly base: ObservedBase
  readonly network: NetworkProfile
  /** The other networks the Service's IPs and rules are on (a move off them): theirs go too. */
  readonly elsewhere: ReadonlyArray<NetworkProfile>
  /** Rules whose members matter (those that will stay). */
  readonly memberRules: ReadonlyArray<LbRuleId>
  /** Which policies of those rules to read (none in a dry run; stickiness only when wanted or applied). */
  readonly policies: { readonly stickiness: boolean; readonly healthChecks: boolean }
  readonly claimedElsewhere: (idOrAddress: string) => boolean
  /** Whether another Service is associating this address right now. */
  readonly associatingElsewhere: (address: string) => boolean
}

/**
 * What the requested address is, seen from the LB's network, and the Service's own rules on it (a
 * move onto it that stopped half way): those are the Service's, never foreign.
 */
type Looked =
  | Exclude<RequestedIp, { readonly _tag: "Available" }>
  | { readonly _tag: "Available"; readonly ip: ObservedIp; readonly own: ReadonlyArray<ObservedRule> }

const lookupRequested = (
  reads: LbReads,
  names: ReadonlyArray<string>,
  address: string,
  network: NetworkProfile,
  associatingElsewhere: (address: string) => boolean
) =>
  Effect.gen(function*(): Effect.fn.Return<Looked, CloudStackError> {
    const found = yield* reads.ipByAddress(address, true)
    const unavailable = (why: string): Looked => ({ _tag: "Unavailable", address, why })
    if (Option.isNone(found)) return unavailable("no such public IP is visible to the account in this zone")
    const ip = found.value
    if (ip.zoneId !== network.zoneId) return unavailable(`it is in another zone than network ${network.name}`)
    if (ip.state === "Free") return { _tag: "Free", address }
    if (!isAllocated(ip)) return unavailable(`it is ${ip.state}`)
    if (ip.isStaticNat) return unavailable("it is a static NAT IP (CloudStack refuses load balancing on it)")
    // Whose it is depends on how that association ends: shared only once it is recorded (or given up).
    if (associatingElsewhere(address)) {
      return unavailable("another Service is associating it; it can be shared once that is done")
    }
    const here = Option.match(network.vpcId, {
      onNone: () => ip.associatedNetworkId === network.id,
      onSome: (vpc) =>
        ip.vpcId === vpc && (ip.associatedNetworkId === undefined || ip.associatedNetworkId === network.id)
    })
    if (!here) return unavailable(`it belongs to another network than the nodes' network ${network.name}`)
    // Another Service's IP (shared): its rules' ports are what this Service must not take.
    const on = yield* reads.rulesOnIp(ip.id)
    const own = on.flatMap((r) => {
      const o = toObservedRule(names, r)
      return o === undefined ? [] : [o]
    })
    const foreign = on.filter((r) => toObservedRule(names, r) === undefined).map((r) => r.publicPort)
    return { _tag: "Available", ip: ipFromAddress(ip, false, foreign, false), own } as const
  })

/** Phase 2: the requested IP, access rules and members, once the network is known. */
export const observeDetails = (reads: LbReads, input: DetailsInput): Effect.Effect<ObservedLb, CloudStackError> =>
  Effect.gen(function*() {
    const { network, spec } = input
    const looked = Option.isSome(spec.requestedIp) && spec.ports.length > 0 &&
        !input.base.ips.some((ip) => Option.exists(spec.requestedIp, (r) => r === ip.address))
      ? Option.some(
        yield* lookupRequested(reads, spec.lbNames, spec.requestedIp.value, network, input.associatingElsewhere)
      )
      : Option.none()
    // The Service's own rules on the requested IP make it one of its IPs (a move that stopped half way).
    const holding = Option.flatMap(
      looked,
      (r) => (r._tag === "Available" && r.own.length > 0 ? Option.some(r) : Option.none())
    )
    const base: ObservedBase = Option.match(holding, {
      onNone: () => input.base,
      onSome: ({ ip, own }) => ({ ips: [...input.base.ips, ip], rules: [...input.base.rules, ...own] })
    })
    const requested = Option.isSome(holding)
      ? Option.none<RequestedIp>()
      : Option.map(looked, (r): RequestedIp => (r._tag === "Available" ? { _tag: "Available", ip: r.ip } : r))
    // Without ports nothing is kept: an IP that will be released takes its firewall rules with it.
    // A Releasing one has none left (CloudStack answers 431 "not ready for firewall rules yet").
    const released = (ip: ObservedIp) =>
      ip.releasing || (spec.ports.length === 0 && ip.owned && ip.foreignRules === 0 && !spec.keepIp)
    // An IP on another (isolated) network than the LB's has its firewall rules read too: a move off it
    // deletes its rules, and theirs go with them.
    const isolatedElsewhere = new Set(input.elsewhere.filter((n) => n.access._tag === "Firewall").map((n) => n.id))
    const firewallRead = (ip: ObservedIp) =>
      !released(ip) &&
      (network.access._tag === "Firewall" || Option.exists(ip.associatedNetworkId, (id) => isolatedElsewhere.has(id)))
    const firewall = (yield* Effect.forEach(base.ips.filter(firewallRead), (ip) => reads.firewallOnIp(ip.id))).flat()
    const marker = aclMarker(input.uid)
    // The custom ACL lists of the LB's tier and of the tiers it moves off; a fresh Service has no items
    // yet (the marker carries its UID).
    const lists = new Set(
      [network, ...input.elsewhere].flatMap((n) =>
        n.access._tag === "Acl" && !DEFAULT_ACL_LISTS.has(n.access.listName) ? [n.access.aclId] : []
      )
    )
    const acl = input.fresh
      ? []
      : (yield* Effect.forEach([...lists], (id) => reads.aclItems(id))).flat().filter((a) => a.reason === marker)
    const memberRules = [
      ...input.memberRules,
      ...Option.match(holding, {
        onNone: () => [],
        onSome: ({ own }) =>
          own.filter((r) => spec.ports.some((p) => p.protocol === r.protocol && p.publicPort === r.publicPort)).map((
            r
          ) => r.id)
      })
    ]
    const members = new Map<LbRuleId, ReadonlyArray<VmId>>()
    const policies = new Map<LbRuleId, RulePolicies>()
    for (const id of memberRules) {
      members.set(id, yield* reads.members(id))
      if (input.policies.stickiness || input.policies.healthChecks) {
        policies.set(id, {
          stickiness: input.policies.stickiness ? Option.some(yield* reads.stickiness(id)) : Option.none(),
          healthChecks: input.policies.healthChecks ? Option.some(yield* reads.healthChecks(id)) : Option.none()
        })
      }
    }
    return { ips: base.ips, rules: base.rules, members, policies, firewall, acl, requested }
  })
