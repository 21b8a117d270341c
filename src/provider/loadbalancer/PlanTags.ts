/**
 * The ownership tags a plan adds (part of the planner, Plan.ts). Pure.
 */
import { Option } from "effect"
import type { FirewallRule } from "../../cloudstack/commands/Firewall.js"
import type { NetworkAclItem } from "../../cloudstack/commands/NetworkAcls.js"
import type { IpAddressId, LbRuleId } from "../../cloudstack/Ids.js"
import type { ObservedLb } from "./ObservedLb.js"
import { type DesiredLb, Step, type TaggedType, TagTarget, type Target } from "./PlanSteps.js"
import * as Tags from "./Tags.js"

/**
 * createTags for what the plan creates and for what stays but lacks the owner's tags (adopted from
 * the Go CCM, or a tag job that failed), one step per resource type and set of missing keys.
 */
export const tagSteps = (
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
  // rules has unknown tags: only one read whole is retagged. Under keep-ip the IP is the user's to
  // keep: never retagged (a deleted Service's IP, read whole once its last rule went, got the tags
  // of a Service that is gone), and one the Service gives up (it goes, or moves away) is marked kept
  // if this cluster's tag is on it, or the last Service out of it or the orphan report would release it.
  const staying = (id: IpAddressId) => Option.exists(target, (t) => t._tag === "Existing" && t.ip.id === id)
  for (const ip of o.ips) {
    if (!ip.owned || releasing.has(ip.id) || Option.isNone(ip.tags)) continue
    if (!d.spec.keepIp) add("PublicIpAddress", TagTarget.Existing({ id: ip.id }), Tags.missing(d.owner, ip.tags.value))
    else if (!staying(ip.id) && Tags.releasableByTags(d.owner.cluster, ip.tags.value)) {
      add("PublicIpAddress", TagTarget.Existing({ id: ip.id }), [Tags.keptTag])
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
