/**
 * A load balancer as CloudStack has it now: the IPs that carry (or were recorded for) the Service's
 * rules, its rules with their members, and the firewall rules / ACL items around them. Pure data,
 * filled by `Observe`; the planner diffs it against what the Service wants.
 */
import type { Option } from "effect"
import type { FirewallRule } from "../../cloudstack/commands/Firewall.js"
import type { HealthCheckPolicy, LbProtocol, StickinessPolicy } from "../../cloudstack/commands/LoadBalancers.js"
import type { NetworkAclItem } from "../../cloudstack/commands/NetworkAcls.js"
import type { IpAddressId, LbRuleId, NetworkId, VmId, VpcId } from "../../cloudstack/Ids.js"
import type { Tag } from "../../cloudstack/Wire.js"

export interface ObservedIp {
  readonly id: IpAddressId
  readonly address: string
  readonly associatedNetworkId: Option.Option<NetworkId>
  readonly vpcId: Option.Option<VpcId>
  /** This CCM (or the Go CCM before it) associated the IP: it may release it. */
  readonly owned: boolean
  /** LB rules on the IP that are not this Service's (another Service sharing it, the user's). */
  readonly foreignRules: number
  /** Their public ports: a port of this Service among them is a conflict, not a rule to create. */
  readonly foreignPorts: ReadonlyArray<number>
  /** The IP recorded on the Service (`...-id`). */
  readonly recorded: boolean
  /**
   * CloudStack is releasing it (state `Releasing`): a disassociateIpAddress failed after the rules
   * went (IpAddressManagerImpl.disassociatePublicIpAddress marks it so before applying the network's
   * IPs): nothing can go on it, and only a second disassociateIpAddress frees it.
   */
  readonly releasing: boolean
  /** The IP's tags, when the IP itself was read (None: only seen through its rules). */
  readonly tags: Option.Option<ReadonlyArray<Tag>>
}

export interface ObservedRule {
  readonly id: LbRuleId
  readonly name: string
  readonly protocol: LbProtocol
  readonly publicPort: number
  readonly privatePort: number
  readonly algorithm: string
  readonly cidrs: ReadonlyArray<string>
  readonly ipId: IpAddressId
  readonly networkId: Option.Option<NetworkId>
  readonly tags: ReadonlyArray<Tag>
}

/** A kept rule's policies, each kind only when it was read (None: not compared, left as it is). */
export interface RulePolicies {
  readonly stickiness: Option.Option<ReadonlyArray<StickinessPolicy>>
  readonly healthChecks: Option.Option<ReadonlyArray<HealthCheckPolicy>>
}

/** What the requested IP (`...-address` / `spec.loadBalancerIP`) is, when it is not already used. */
export type RequestedIp =
  | { readonly _tag: "Free"; readonly address: string }
  /** Allocated to the account on (or usable from) the LB's network: used, never released. */
  | { readonly _tag: "Available"; readonly ip: ObservedIp }
  | { readonly _tag: "Unavailable"; readonly address: string; readonly why: string }

export interface ObservedLb {
  readonly ips: ReadonlyArray<ObservedIp>
  /** This Service's rules (by name), on any of `ips`. */
  readonly rules: ReadonlyArray<ObservedRule>
  /** Members of the rules whose members were listed. */
  readonly members: ReadonlyMap<LbRuleId, ReadonlyArray<VmId>>
  /** Policies of the rules whose policies were read. */
  readonly policies: ReadonlyMap<LbRuleId, RulePolicies>
  /** Every firewall rule on `ips` (the planner decides which are the Service's: its ports). */
  readonly firewall: ReadonlyArray<FirewallRule>
  /** The Service's own ACL items (marked in `reason`). */
  readonly acl: ReadonlyArray<NetworkAclItem>
  readonly requested: Option.Option<RequestedIp>
}

/** The marker in the `reason` of the ACL items this CCM creates for a Service. */
export const aclMarker = (uid: string): string => `cloudstack-ccm:${uid}`
