/**
 * The load-balancer planner: what the Service wants (DesiredLb) against what CloudStack has
 * (ObservedLb) → the ordered, minimal steps that converge them. Pure. The order is what makes every
 * prefix of a plan safe: an IP is recorded before it is associated (and an existing one found by
 * its rules before they change, when nothing else depends on the record), rules that block a public
 * port go before the rule that needs it, new rules and members before old ones go, firewall rules
 * and ACL items before their LB rule is deleted, and an IP is released only when nothing foreign is
 * on it (and before an acquisition only if the record's `allocating` is its one trace). Its parts: which IP (PlanTarget), who may reach it (PlanAccess), the ownership tags
 * (PlanTags), the policies (Policies).
 */
import { Either, Option } from "effect"
import type { LbRuleId, VmId } from "../../cloudstack/Ids.js"
import * as Cidr from "./Cidr.js"
import type { LbWarning, PortSpec } from "./LbSpec.js"
import type { ObservedIp, ObservedLb, ObservedRule } from "./ObservedLb.js"
import { firewallFor, ipProtocolOf, planAccess, type WantedPort } from "./PlanAccess.js"
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
import { tagSteps } from "./PlanTags.js"
import { chooseTarget, refOf } from "./PlanTarget.js"
import { planPolicies } from "./Policies.js"

export { type DesiredLb, IpRef, LbUserError, type Plan, RuleRef, Step, type TaggedType, TagTarget, type Target }

const sameRule = (rule: ObservedRule, port: PortSpec): boolean =>
  rule.protocol === port.protocol && rule.publicPort === port.publicPort && rule.privatePort === port.privatePort

/** An unset annotation matches a rule with no list and one made by the Go CCM (`0.0.0.0/0`). */
const cidrsMatch = (wanted: Option.Option<ReadonlyArray<string>>, have: ReadonlyArray<string>): boolean =>
  Option.match(wanted, {
    onNone: () => have.length === 0 || Cidr.sameSet(have, ["0.0.0.0/0"]) || Cidr.sameSet(have, ["0.0.0.0/0", "::/0"]),
    onSome: (w) => Cidr.sameSet(w, have)
  })

const difference = (a: ReadonlyArray<VmId>, b: ReadonlyArray<VmId>): ReadonlyArray<VmId> => {
  const set = new Set(b)
  return a.filter((x) => !set.has(x)).sort()
}

/** The ordered steps converging `o` on `d`, or why the LB cannot be built as asked. */
export const plan = (d: DesiredLb, o: ObservedLb): Either.Either<Plan, LbUserError> =>
  Either.map(chooseTarget(d, o), (target) => {
    const warnings: Array<LbWarning> = []
    const first: Array<Step> = []
    const creates: Array<Step> = []
    const updates: Array<Step> = []
    const cleanup: Array<Step> = []
    const release: Array<Step> = []

    const targetIp = Option.flatMap(target, (t) => (t._tag === "Existing" ? Option.some(t.ip) : Option.none()))
    const targetId = Option.map(targetIp, (ip) => ip.id)
    const onTarget = (rule: ObservedRule) => Option.exists(targetId, (id) => id === rule.ipId)
    const targetRef = Option.map(target, refOf)
    // Another Service's (or the user's) rule on the IP holds a port: a Warning, never a 537 retry loop.
    const taken = new Set(Option.match(targetIp, { onNone: () => [], onSome: (ip) => ip.foreignPorts }))
    const wanted: ReadonlyArray<WantedPort> = Option.isSome(targetRef)
      ? d.spec.ports.flatMap((port): Array<WantedPort> => {
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
    const { access, accessAfter, keptFirewall, stayingAcl, stayingFirewall, ...accessPlan } = planAccess(
      d,
      o,
      wanted,
      targetId
    )
    warnings.push(...accessPlan.warnings)

    // ---- rules that go: those on other IPs, and those on the target no port wants ----
    // A release of ours that failed half way is finished whatever: CloudStack frees the IP only so.
    // keep-ip keeps the Service's IP: not one it was associating when an attempt stopped (adopted
    // through the record's `allocating`) that it does not use, which nobody would ever release.
    const adopted = (ip: ObservedIp) => !ip.recorded && Option.contains(d.ownership.allocating, ip.address)
    const releasable = (ip: ObservedIp) =>
      ip.owned && (ip.releasing || (ip.foreignRules === 0 && (!d.spec.keepIp || adopted(ip))))
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
    // An IP adopted through the record's `allocating` address (an association cut short) that the
    // plan gives up while it acquires another and the record names an old IP too: the new address
    // takes the record's one place for an address being associated, so the adopted IP is released
    // first, or a failure in between would leave it recorded nowhere (leaked). It serves nothing: a
    // move onto it that had finished would have recorded it.
    const adoptedGoesFirst = (ip: ObservedIp) =>
      first.some(Step.$is("AcquireIp")) && Option.isSome(d.ownership.ipId) && adopted(ip)
    for (const ip of o.ips) {
      if (!releasing.has(ip.id)) continue
      const step = Step.ReleaseIp({ id: ip.id, address: ip.address })
      if (adoptedGoesFirst(ip)) first.unshift(step)
      else release.push(step)
    }

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

const refKey = (ref: Option.Option<IpRef>): string =>
  Option.match(ref, { onNone: () => "", onSome: (r) => (r._tag === "Existing" ? r.id : "(acquired)") })
