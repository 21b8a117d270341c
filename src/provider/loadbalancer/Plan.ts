/**
 * The load-balancer planner: what the Service wants (DesiredLb) against what CloudStack has
 * (ObservedLb) → the ordered, minimal steps that converge them. Pure. The order is what makes every
 * prefix of a plan safe: an IP is recorded before it is associated (and an existing one found by
 * its rules before they change, when nothing else depends on the record), rules that block a public
 * port go before the rule that needs it, new rules and members before old ones go, firewall rules
 * and ACL items before their LB rule is deleted, and an IP is released only when nothing foreign is
 * on it.
 */
import { Either, Option } from "effect"
import type { FirewallRule } from "../../cloudstack/commands/Firewall.js"
import type { NetworkAclItem } from "../../cloudstack/commands/NetworkAcls.js"
import type { IpAddressId, LbRuleId, VmId } from "../../cloudstack/Ids.js"
import * as Cidr from "./Cidr.js"
import type { LbWarning, PortSpec } from "./LbSpec.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import { DEFAULT_ACL_LISTS } from "./NetworkProfile.js"
import type { ObservedIp, ObservedLb, ObservedRule, RequestedIp } from "./ObservedLb.js"
import {
  type DesiredLb,
  IpRef,
  LbUserError,
  type Plan,
  RuleRef,
  Step,
  type TaggedType,
  TagTarget,
  type Target
} from "./PlanSteps.js"
import { planPolicies } from "./Policies.js"
import * as Tags from "./Tags.js"

export { type DesiredLb, IpRef, LbUserError, type Plan, RuleRef, Step, type TaggedType, TagTarget, type Target }

const sameRule = (rule: ObservedRule, port: PortSpec): boolean =>
  rule.protocol === port.protocol && rule.publicPort === port.publicPort && rule.privatePort === port.privatePort

/** An unset annotation matches a rule with no list and one made by the Go CCM (`0.0.0.0/0`). */
const cidrsMatch = (wanted: Option.Option<ReadonlyArray<string>>, have: ReadonlyArray<string>): boolean =>
  Option.match(wanted, {
    onNone: () => have.length === 0 || Cidr.sameSet(have, ["0.0.0.0/0"]) || Cidr.sameSet(have, ["0.0.0.0/0", "::/0"]),
    onSome: (w) => Cidr.sameSet(w, have)
  })

const chooseTarget = (d: DesiredLb, o: ObservedLb): Either.Either<Option.Option<Target>, LbUserError> => {
  if (d.spec.ports.length === 0) return Either.right(Option.none())
  const existing = (ip: ObservedIp): Option.Option<Target> => Option.some({ _tag: "Existing", ip })
  if (Option.isSome(d.spec.requestedIp)) {
    const address = d.spec.requestedIp.value
    const held = o.ips.find((ip) => ip.address === address && !ip.releasing && usableIn(ip, d.network))
    if (held !== undefined) return Either.right(existing(held))
    const other = o.ips.find((ip) => ip.address === address)
    if (other !== undefined) {
      return Either.left(
        new LbUserError({
          reason: "LoadBalancerIPNotAvailable",
          detail: other.releasing
            ? `IP ${address} cannot be used yet: a release of it failed half way; it is released again, then associated anew`
            : `IP ${address} cannot be used: it is bound to another network than ${d.network.name}`
        })
      )
    }
    const unknown: RequestedIp = { _tag: "Unavailable", address, why: "it could not be looked up" }
    const requested = Option.getOrElse(o.requested, () => unknown)
    switch (requested._tag) {
      case "Free":
        return Either.right(Option.some({ _tag: "Acquire", address: Option.some(address) }))
      case "Available":
        return Either.right(existing(requested.ip))
      case "Unavailable":
        return Either.left(
          new LbUserError({
            reason: "LoadBalancerIPNotAvailable",
            detail: `IP ${address} cannot be used: ${requested.why}`
          })
        )
    }
  }
  // An IP already bound to another network cannot carry this LB's rules (its network changed).
  const usable = o.ips.filter((ip) => !ip.releasing && usableIn(ip, d.network))
  const withRules = usable.filter((ip) => o.rules.some((r) => r.ipId === ip.id))
  const current = withRules.find((ip) => ip.recorded) ?? withRules[0] ?? usable.find((ip) => ip.recorded) ?? usable[0]
  return Either.right(
    current !== undefined ? existing(current) : Option.some({ _tag: "Acquire", address: Option.none() })
  )
}

/** Whether rules for `network` may go on `ip`: not associated yet, or associated with that network. */
const usableIn = (ip: ObservedIp, network: NetworkProfile): boolean =>
  Option.match(ip.associatedNetworkId, {
    onNone: () =>
      Option.isNone(ip.vpcId) || Option.getEquivalence((a: string, b: string) => a === b)(ip.vpcId, network.vpcId),
    onSome: (id) => id === network.id
  })

const refOf = (target: Target): IpRef =>
  target._tag === "Existing" ? IpRef.Existing({ id: target.ip.id }) : IpRef.Acquired()

const difference = (a: ReadonlyArray<VmId>, b: ReadonlyArray<VmId>): ReadonlyArray<VmId> => {
  const set = new Set(b)
  return a.filter((x) => !set.has(x)).sort()
}

const firewallFor = (rules: ReadonlyArray<FirewallRule>, ipId: IpAddressId, protocol: string, port: number) =>
  rules.filter((f) =>
    f.ipAddressId === ipId && f.protocol.toLowerCase() === protocol && f.startPort === port &&
    (f.endPort ?? port) === port
  )

/** The ordered steps converging `o` on `d`, or why the LB cannot be built as asked. */
export const plan = (d: DesiredLb, o: ObservedLb): Either.Either<Plan, LbUserError> =>
  Either.map(chooseTarget(d, o), (target) => {
    const warnings: Array<LbWarning> = []
    const first: Array<Step> = []
    const creates: Array<Step> = []
    const updates: Array<Step> = []
    const access: Array<Step> = []
    const accessAfter: Array<Step> = []
    const cleanup: Array<Step> = []
    const release: Array<Step> = []

    const targetIp = Option.flatMap(target, (t) => (t._tag === "Existing" ? Option.some(t.ip) : Option.none()))
    const targetId = Option.map(targetIp, (ip) => ip.id)
    const onTarget = (rule: ObservedRule) => Option.exists(targetId, (id) => id === rule.ipId)
    const targetRef = Option.map(target, refOf)
    // Another Service's (or the user's) rule on the IP holds a port: a Warning, never a 537 retry loop.
    const taken = new Set(Option.match(targetIp, { onNone: () => [], onSome: (ip) => ip.foreignPorts }))
    const wanted = Option.isSome(targetRef)
      ? d.spec.ports.flatMap((port) => {
        if (!taken.has(port.publicPort)) return [{ port, ref: targetRef.value }]
        warnings.push({
          reason: "PortConflict",
          message: `public port ${port.publicPort} of IP ${
            Option.match(targetIp, { onNone: () => "", onSome: (ip) => ip.address })
          } is already used by another rule (another Service sharing the IP?)`
        })
        return []
      })
      : []

    // ---- the IP ----
    if (Option.isSome(target) && target.value._tag === "Acquire") {
      first.push(Step.AcquireIp({ address: target.value.address }))
    }

    // ---- rules on the target ----
    const kept = new Set<LbRuleId>()
    for (const { port, ref } of wanted) {
      // Matched by protocol and ports, not name: rules the fork named are kept as they are.
      const rule = o.rules.find((r) => onTarget(r) && sameRule(r, port))
      // UpdateRule sends the wanted cidrlist, so it cannot clear one (annotation removed): recreate then.
      const updatable = (r: ObservedRule) =>
        cidrsMatch(d.spec.ruleCidrs, r.cidrs) || (!d.recreateForCidrs && Option.isSome(d.spec.ruleCidrs))
      if (rule !== undefined && updatable(rule)) {
        kept.add(rule.id)
        if (rule.algorithm.toLowerCase() !== d.spec.algorithm || !cidrsMatch(d.spec.ruleCidrs, rule.cidrs)) {
          updates.push(Step.UpdateRule({ id: rule.id, name: rule.name, port }))
        }
        const have = o.members.get(rule.id) ?? []
        const add = difference(d.members, have)
        const remove = difference(have, d.members)
        if (add.length > 0) updates.push(Step.AssignMembers({ rule: RuleRef.Existing({ id: rule.id }), vms: add }))
        if (remove.length > 0) cleanup.unshift(Step.RemoveMembers({ rule: rule.id, vms: remove }))
        continue
      }
      creates.push(Step.CreateRule({ ip: ref, port }))
      if (d.members.length > 0) {
        creates.push(Step.AssignMembers({ rule: RuleRef.Created({ name: port.name }), vms: [...d.members].sort() }))
      }
    }

    // ---- access: firewall rules or ACL items for the wanted ports ----
    const keptFirewall = new Set<string>()
    const stayingFirewall: Array<FirewallRule> = []
    const stayingAcl: Array<NetworkAclItem> = []
    if (d.network.access._tag === "Firewall") {
      for (const { port, ref } of wanted) {
        const have = Option.match(targetId, {
          onNone: () => [],
          onSome: (id) => firewallFor(o.firewall, id, port.ipProtocol, port.publicPort)
        })
        const keep = have.find((f) => Cidr.sameSet(f.cidrList ?? ["0.0.0.0/0"], d.spec.sourceRanges))
        if (keep !== undefined) {
          keptFirewall.add(keep.id)
          stayingFirewall.push(keep)
        }
        for (const f of have) {
          if (f === keep) continue
          keptFirewall.add(f.id)
          // An overlapping rule would conflict (537) with the new one: it goes first.
          const overlaps = Cidr.anyIntersect(f.cidrList ?? ["0.0.0.0/0"], d.spec.sourceRanges)
          ;(overlaps && keep === undefined ? access : accessAfter).push(
            Step.DeleteFirewall({ id: f.id, port: port.publicPort })
          )
        }
        if (keep === undefined) {
          access.push(
            Step.CreateFirewall({
              ip: ref,
              protocol: port.ipProtocol,
              port: port.publicPort,
              cidrs: d.spec.sourceRanges
            })
          )
        }
      }
    } else if (d.network.access._tag === "Acl") {
      if (DEFAULT_ACL_LISTS.has(d.network.access.listName)) {
        if (wanted.length > 0) {
          warnings.push({
            reason: "DefaultNetworkACL",
            message:
              `tier ${d.network.name} uses the ACL list ${d.network.access.listName}, which CloudStack does not let anyone change: ${
                d.network.access.listName === "default_deny"
                  ? "the load balancer is unreachable until the tier gets a custom ACL list"
                  : "every source can reach the load balancer"
              }`
          })
        }
      } else {
        // Items on another tier's list (the LB moved off it) are never kept here.
        const listId = d.network.access.aclId
        const matched = new Set<string>()
        for (const { port } of wanted) {
          const have = o.acl.filter((a) =>
            a.aclId === listId && a.protocol.toLowerCase() === port.ipProtocol && a.startPort === port.publicPort &&
            (a.endPort ?? port.publicPort) === port.publicPort
          )
          const keep = have.find((a) => Cidr.sameSet(a.cidrList ?? [], d.spec.sourceRanges))
          if (keep !== undefined) {
            matched.add(keep.id)
            stayingAcl.push(keep)
          } else {access.push(
              Step.CreateAcl({ protocol: port.ipProtocol, port: port.publicPort, cidrs: d.spec.sourceRanges })
            )}
        }
        for (const a of o.acl) {
          if (!matched.has(a.id)) accessAfter.push(Step.DeleteAcl({ id: a.id, port: a.startPort ?? 0 }))
        }
      }
    }
    if (d.network.access._tag !== "Acl" || DEFAULT_ACL_LISTS.has(d.network.access.listName)) {
      for (const a of o.acl) accessAfter.push(Step.DeleteAcl({ id: a.id, port: a.startPort ?? 0 }))
    }

    // ---- rules that go: those on other IPs, and those on the target no port wants ----
    // A release of ours that failed half way is finished whatever: CloudStack frees the IP only so.
    const releasable = (ip: ObservedIp) => ip.owned && (ip.releasing || (ip.foreignRules === 0 && !d.spec.keepIp))
    const releasing = new Set(
      o.ips.filter((ip) => !Option.exists(targetId, (id) => id === ip.id) && releasable(ip)).map((ip) => ip.id)
    )
    for (const rule of o.rules) {
      if (kept.has(rule.id)) continue
      // Releasing the IP removes its rules and firewall rules with it (reference 5.7).
      if (releasing.has(rule.ipId)) continue
      const stillOpen = onTarget(rule) &&
        wanted.some(({ port: p }) =>
          p.publicPort === rule.publicPort && ipProtocolOf(p.protocol) === ipProtocolOf(rule.protocol)
        )
      const fw = stillOpen ? [] : firewallFor(o.firewall, rule.ipId, ipProtocolOf(rule.protocol), rule.publicPort)
        .filter((f) => !keptFirewall.has(f.id))
      const steps = [
        ...fw.map((f) => Step.DeleteFirewall({ id: f.id, port: rule.publicPort })),
        Step.DeleteRule({ id: rule.id, name: rule.name })
      ]
      // A rule on the public port a new rule needs must go before it is created.
      const blocks = onTarget(rule) && wanted.some(({ port: p }) => p.publicPort === rule.publicPort)
      if (blocks) first.push(...steps)
      else cleanup.push(...steps)
    }
    for (const ip of o.ips) if (releasing.has(ip.id)) release.push(Step.ReleaseIp({ id: ip.id, address: ip.address }))

    // ---- policies of the rules that stay or are created ----
    const policies = planPolicies({
      spec: d.spec,
      network: d.network,
      stickyApplied: d.ownership.stickyApplied,
      kept: o.rules.filter((r) => kept.has(r.id)).map((r) => ({
        id: r.id,
        protocol: r.protocol,
        policies: Option.fromNullable(o.policies.get(r.id))
      })),
      created: creates.flatMap((
        step
      ) => (step._tag === "CreateRule" ? [{ name: step.port.name, protocol: step.port.protocol }] : []))
    })
    warnings.push(...policies.warnings)

    // ---- the record ----
    const finalIp: Option.Option<IpRef> = Option.match(target, {
      onSome: (t) => Option.some(refOf(t)),
      onNone: () =>
        Option.map(
          Option.fromNullable(o.ips.find((ip) => !releasing.has(ip.id) && ip.owned)),
          (ip) => IpRef.Existing({ id: ip.id })
        )
    })
    const finalAssociated = Option.match(target, {
      onSome: (t) => (t._tag === "Acquire" ? true : t.ip.owned),
      onNone: () => Option.isSome(finalIp)
    })
    const recordChanges = Option.isSome(d.ownership.allocating) ||
      refKey(Option.map(d.ownership.ipId, (id) => IpRef.Existing({ id }))) !== refKey(finalIp) ||
      (Option.isSome(finalIp) && d.ownership.associated !== finalAssociated) ||
      d.ownership.stickyApplied !== policies.stickyApplied

    const tags = d.tags
      ? tagSteps(d, o, target, releasing, [...creates, ...access], kept, stayingFirewall, stayingAcl)
      : []
    const policySteps = policies.steps.map((policy) => Step.Policy({ policy }))
    const steps = [
      ...first,
      ...creates,
      ...updates,
      ...policySteps,
      ...access,
      ...accessAfter,
      ...cleanup,
      ...release,
      ...tags
    ]
    if (recordChanges || steps.some(Step.$is("AcquireIp"))) {
      const persist = Step.Persist({ ip: finalIp, associated: finalAssociated, stickyApplied: policies.stickyApplied })
      // An existing IP known only by its rules (the Go CCM's, the user's requested one) is recorded
      // first when it is the only one seen (so the record hides nothing else): deleting its last
      // rule, or a failure after its first one, would otherwise lose track of it (a leaked IP, a
      // new one, a 537 on our own rule).
      const recordFirst = Option.exists(
        targetIp,
        (ip) => !Option.contains(d.ownership.ipId, ip.id) && o.ips.every((other) => other.id === ip.id)
      )
      if (recordFirst) {
        // Stickiness this CCM may have applied stays recorded until the end, so it is never forgotten.
        const early = d.ownership.stickyApplied || policies.stickyApplied
        steps.unshift(Step.Persist({ ip: finalIp, associated: finalAssociated, stickyApplied: early }))
        if (early !== policies.stickyApplied) steps.push(persist)
      } else steps.push(persist)
    }
    return { steps, target, warnings }
  })

const ipProtocolOf = (protocol: string): "tcp" | "udp" => (protocol === "udp" ? "udp" : "tcp")

/**
 * createTags for what the plan creates and for what stays but lacks the owner's tags (adopted from
 * the Go CCM, or a tag job that failed), one step per resource type and set of missing keys.
 */
const tagSteps = (
  d: DesiredLb,
  o: ObservedLb,
  target: Option.Option<Target>,
  releasing: ReadonlySet<IpAddressId>,
  created: ReadonlyArray<Step>,
  keptRules: ReadonlySet<LbRuleId>,
  firewall: ReadonlyArray<FirewallRule>,
  acl: ReadonlyArray<NetworkAclItem>
): ReadonlyArray<Step> => {
  const all = Tags.tagsOf(d.owner)
  const groups = new Map<
    string,
    { resourceType: TaggedType; tags: ReadonlyArray<Tags.TagPair>; targets: Array<TagTarget> }
  >()
  const add = (resourceType: TaggedType, target: TagTarget, tags: ReadonlyArray<Tags.TagPair>) => {
    if (tags.length === 0) return
    const key = `${resourceType}|${tags.map((t) => t.key).join(",")}`
    const group = groups.get(key) ?? { resourceType, tags, targets: [] }
    group.targets.push(target)
    groups.set(key, group)
  }
  Option.map(target, (t) => {
    if (t._tag === "Acquire") add("PublicIpAddress", TagTarget.AcquiredIp(), all)
  })
  // Every IP this CCM associated that stays (the target, or one another Service's rules keep): the
  // last Service out of a shared IP releases it by this cluster's tag. An IP seen only through its
  // rules has unknown tags: only one read whole is retagged.
  for (const ip of o.ips) {
    if (ip.owned && !releasing.has(ip.id) && Option.isSome(ip.tags)) {
      add("PublicIpAddress", TagTarget.Existing({ id: ip.id }), Tags.missing(d.owner, ip.tags.value))
    }
  }
  for (const step of created) {
    if (step._tag === "CreateRule") add("LoadBalancer", TagTarget.CreatedRule({ name: step.port.name }), all)
    if (step._tag === "CreateFirewall") {
      add("FirewallRule", TagTarget.CreatedFirewall({ protocol: step.protocol, port: step.port }), all)
    }
    if (step._tag === "CreateAcl") {
      add("NetworkACL", TagTarget.CreatedAcl({ protocol: step.protocol, port: step.port }), all)
    }
  }
  for (const rule of o.rules) {
    if (keptRules.has(rule.id)) {
      add("LoadBalancer", TagTarget.Existing({ id: rule.id }), Tags.missing(d.owner, rule.tags))
    }
  }
  for (const f of firewall) add("FirewallRule", TagTarget.Existing({ id: f.id }), Tags.missing(d.owner, f.tags))
  for (const a of acl) add("NetworkACL", TagTarget.Existing({ id: a.id }), Tags.missing(d.owner, a.tags))
  return [...groups.values()].map((g) => Step.Tag(g))
}

const refKey = (ref: Option.Option<IpRef>): string =>
  Option.match(ref, { onNone: () => "", onSome: (r) => (r._tag === "Existing" ? r.id : "(acquired)") })
