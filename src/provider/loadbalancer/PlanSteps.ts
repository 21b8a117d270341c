/**
 * What the load-balancer planner works with and returns: the desired LB, references to IPs, rules
 * and tag targets that may only exist once an earlier step ran, the steps themselves and the plan.
 */
import { Data, Option } from "effect"
import type { FirewallRule } from "../../cloudstack/commands/Firewall.js"
import type { IpAddressId, LbRuleId, VmId } from "../../cloudstack/Ids.js"
import type { LbSpec, LbWarning, PortSpec } from "./LbSpec.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import type { ObservedIp } from "./ObservedLb.js"
import type { Ownership } from "./Ownership.js"
import type { PolicyStep } from "./Policies.js"
import * as Tags from "./Tags.js"

export interface DesiredLb {
  readonly spec: LbSpec
  readonly network: NetworkProfile
  /** VMs of the eligible nodes with a NIC in `network`. */
  readonly members: ReadonlyArray<VmId>
  /** `reason` of the ACL items (the Service's marker). */
  readonly aclReason: string
  /** The server ignores `cidrlist` on updateLoadBalancerRule (before 4.22): recreate instead. */
  readonly recreateForCidrs: boolean
  readonly ownership: Ownership
  /** Whom the resources are tagged for (cluster and Service). */
  readonly owner: Tags.Owner
  /** Whether to tag them at all (`--lb-ownership-tags`). */
  readonly tags: boolean
}

/** The IP a step applies to: one that exists, or the one AcquireIp of the same plan associates. */
export type IpRef = Data.TaggedEnum<{ Existing: { readonly id: IpAddressId }; Acquired: {} }>
export const IpRef = Data.taggedEnum<IpRef>()

/** A rule: existing, or created earlier in the same plan (by name). */
export type RuleRef = Data.TaggedEnum<{ Existing: { readonly id: LbRuleId }; Created: { readonly name: string } }>
export const RuleRef = Data.taggedEnum<RuleRef>()

/** A resource to tag: existing, or created earlier in the same plan. */
export type TagTarget = Data.TaggedEnum<{
  Existing: { readonly id: string }
  AcquiredIp: {}
  CreatedRule: { readonly name: string }
  CreatedFirewall: { readonly protocol: "tcp" | "udp"; readonly port: number }
  CreatedAcl: { readonly protocol: "tcp" | "udp"; readonly port: number }
}>
export const TagTarget = Data.taggedEnum<TagTarget>()

export type TaggedType = "PublicIpAddress" | "LoadBalancer" | "FirewallRule" | "NetworkACL"

export type Step = Data.TaggedEnum<{
  /** Record the address as being associated, associate it (a free one is picked when None), wait. */
  AcquireIp: { readonly address: Option.Option<string> }
  CreateRule: { readonly ip: IpRef; readonly port: PortSpec }
  UpdateRule: { readonly id: LbRuleId; readonly name: string; readonly port: PortSpec }
  DeleteRule: { readonly id: LbRuleId; readonly name: string }
  AssignMembers: { readonly rule: RuleRef; readonly vms: ReadonlyArray<VmId> }
  RemoveMembers: { readonly rule: LbRuleId; readonly vms: ReadonlyArray<VmId> }
  CreateFirewall: {
    readonly ip: IpRef
    readonly protocol: "tcp" | "udp"
    readonly port: number
    readonly cidrs: ReadonlyArray<string>
  }
  DeleteFirewall: { readonly id: FirewallRule["id"]; readonly port: number }
  CreateAcl: { readonly protocol: "tcp" | "udp"; readonly port: number; readonly cidrs: ReadonlyArray<string> }
  DeleteAcl: { readonly id: string; readonly port: number }
  ReleaseIp: { readonly id: IpAddressId; readonly address: string }
  /** createTags submitted, its job not awaited: a missing tag is added again by the next ensure. */
  Tag: {
    readonly resourceType: TaggedType
    readonly targets: ReadonlyArray<TagTarget>
    readonly tags: ReadonlyArray<Tags.TagPair>
  }
  /** A stickiness or health-check policy created or deleted (Policies). */
  Policy: { readonly policy: PolicyStep }
  /** Write the final ownership record (the acquired IP's id replaces `IpRef.Acquired`). */
  Persist: { readonly ip: Option.Option<IpRef>; readonly associated: boolean; readonly stickyApplied: boolean }
}>
export const Step = Data.taggedEnum<Step>()

/** The LB cannot be built as asked; nothing is changed. */
export class LbUserError extends Data.TaggedError("LbUserError")<{
  /** The Warning Event's reason. */
  readonly reason: string
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

export interface Plan {
  readonly steps: ReadonlyArray<Step>
  /** The IP the LB ends up on (None: no rule is wanted). */
  readonly target: Option.Option<Target>
  readonly warnings: ReadonlyArray<LbWarning>
}

export type Target =
  | { readonly _tag: "Existing"; readonly ip: ObservedIp }
  | { readonly _tag: "Acquire"; readonly address: Option.Option<string> }
