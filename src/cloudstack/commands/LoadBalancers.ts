/**
 * Load-balancer rule, membership and policy commands (reference 5.8-5.16). LB ports are strings on
 * the wire and decode to numbers; membership maps use `vmidipmap[i].vmid/vmip` (not `.key/.value`).
 */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { HealthCheckPolicyId, IpAddressId, LbRuleId, NetworkId, StickinessPolicyId, VmId, ZoneId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"
import { VirtualMachine } from "./VirtualMachines.js"

export type LbAlgorithm = "roundrobin" | "leastconn" | "source"
export type LbProtocol = "tcp" | "udp" | "tcp-proxy"

export const LoadBalancerRule = Schema.Struct({
  id: LbRuleId,
  name: Schema.String,
  description: Schema.optional(Schema.String),
  algorithm: Schema.String,
  publicIp: Wire.required("publicip", Schema.String),
  publicIpId: Wire.required("publicipid", IpAddressId),
  publicPort: Wire.required("publicport", Wire.Port),
  privatePort: Wire.required("privateport", Wire.Port),
  protocol: Schema.optional(Schema.String),
  cidrList: Wire.optional("cidrlist", Wire.CidrList),
  state: Schema.String,
  networkId: Wire.optional("networkid", NetworkId),
  zoneId: Wire.optional("zoneid", ZoneId),
  tags: Wire.tags
})
export type LoadBalancerRule = typeof LoadBalancerRule.Type

export const listLoadBalancerRules = Command.list({
  name: "listLoadBalancerRules",
  itemKey: "loadbalancerrule",
  item: LoadBalancerRule,
  params: {
    id: Param.optional(Param.string<LbRuleId>("id")),
    name: Param.optional(Param.string("name")),
    keyword: Param.optional(Param.string("keyword")),
    publicIpId: Param.optional(Param.string<IpAddressId>("publicipid")),
    networkId: Param.optional(Param.string<NetworkId>("networkid")),
    virtualMachineId: Param.optional(Param.string<VmId>("virtualmachineid")),
    tags: Param.optional(Param.tags)
  }
})

export const createLoadBalancerRule = Command.async({
  name: "createLoadBalancerRule",
  create: true,
  resultKey: "loadbalancer",
  result: LoadBalancerRule,
  params: {
    name: Param.string("name"),
    algorithm: Param.string<LbAlgorithm>("algorithm"),
    privatePort: Param.int("privateport"),
    publicPort: Param.int("publicport"),
    publicIpId: Param.optional(Param.string<IpAddressId>("publicipid")),
    networkId: Param.optional(Param.string<NetworkId>("networkid")),
    protocol: Param.optional(Param.string<LbProtocol>("protocol")),
    openFirewall: Param.optional(Param.bool("openfirewall")),
    cidrList: Param.optional(Param.list("cidrlist")),
    description: Param.optional(Param.string("description"))
  }
})

export const updateLoadBalancerRule = Command.async({
  name: "updateLoadBalancerRule",
  resultKey: "loadbalancer",
  result: LoadBalancerRule,
  params: {
    id: Param.string<LbRuleId>("id"),
    name: Param.optional(Param.string("name")),
    algorithm: Param.optional(Param.string<LbAlgorithm>("algorithm")),
    protocol: Param.optional(Param.string<LbProtocol>("protocol")),
    cidrList: Param.optional(Param.list("cidrlist")),
    description: Param.optional(Param.string("description"))
  }
})

export const deleteLoadBalancerRule = Command.async({
  name: "deleteLoadBalancerRule",
  resultKey: "success",
  result: Wire.Success,
  params: { id: Param.string<LbRuleId>("id") }
})

const membership = {
  id: Param.string<LbRuleId>("id"),
  virtualMachineIds: Param.optional(Param.list<VmId>("virtualmachineids")),
  vmIdIpMap: Param.optional(Param.map("vmidipmap", { vmId: "vmid", vmIp: "vmip" }))
}

export const assignToLoadBalancerRule = Command.async({
  name: "assignToLoadBalancerRule",
  resultKey: "success",
  result: Wire.Success,
  params: membership
})

export const removeFromLoadBalancerRule = Command.async({
  name: "removeFromLoadBalancerRule",
  resultKey: "success",
  result: Wire.Success,
  params: membership
})

/**
 * A member of a rule: the VM's id and name only. Callers need no more, and a rule on a large
 * network has thousands of members: decoded as whole VMs (NICs, tags, offering), ten workers
 * listing members at once held megabytes each.
 */
export const RuleMember = Schema.Struct({ id: VmId, name: Schema.String })
export type RuleMember = typeof RuleMember.Type

/**
 * Members of a rule (`lbvmips=false`). CloudStack answers every member at once (no paging), so the
 * answer is read for the two fields only (`fields`): the whole VMs are never built.
 */
export const listLoadBalancerRuleInstances = Command.list({
  name: "listLoadBalancerRuleInstances",
  itemKey: "loadbalancerruleinstance",
  item: RuleMember,
  fields: ["id", "name"],
  scope: "none",
  params: { id: Param.string<LbRuleId>("id"), applied: Param.optional(Param.bool("applied")) },
  fixed: { lbvmips: "false" }
})

export const LbRuleVmIps = Schema.Struct({
  vmIps: Wire.array("lbvmipaddresses", Schema.String),
  vm: Wire.required("loadbalancerruleinstance", VirtualMachine)
})
export type LbRuleVmIps = typeof LbRuleVmIps.Type

/** Members of a rule with the VM IPs they are mapped by (same wire command, `lbvmips=true`). */
export const listLoadBalancerRuleVmIps = Command.list({
  name: "listLoadBalancerRuleInstances",
  itemKey: "lbrulevmidip",
  item: LbRuleVmIps,
  scope: "none",
  params: { id: Param.string<LbRuleId>("id"), applied: Param.optional(Param.bool("applied")) },
  fixed: { lbvmips: "true" }
})

export const HealthCheckPolicy = Schema.Struct({
  id: HealthCheckPolicyId,
  pingPath: Wire.optional("pingpath", Schema.String),
  responseTime: Wire.optional("responsetime", Schema.Int),
  interval: Wire.optional("healthcheckinterval", Schema.Int),
  /** Wire spelling `healthcheckthresshold` (sic). */
  healthyThreshold: Wire.optional("healthcheckthresshold", Schema.Int),
  unhealthyThreshold: Wire.optional("unhealthcheckthresshold", Schema.Int),
  state: Schema.optional(Schema.String)
})
export type HealthCheckPolicy = typeof HealthCheckPolicy.Type

export const HealthCheckPolicies = Schema.Struct({
  lbRuleId: Wire.required("lbruleid", LbRuleId),
  policies: Wire.array("healthcheckpolicy", HealthCheckPolicy)
})
export type HealthCheckPolicies = typeof HealthCheckPolicies.Type

export const createLBHealthCheckPolicy = Command.async({
  name: "createLBHealthCheckPolicy",
  create: true,
  resultKey: "healthcheckpolicies",
  result: HealthCheckPolicies,
  params: {
    lbRuleId: Param.string<LbRuleId>("lbruleid"),
    pingPath: Param.optional(Param.string("pingpath")),
    responseTimeout: Param.optional(Param.int("responsetimeout")),
    intervalTime: Param.optional(Param.int("intervaltime")),
    healthyThreshold: Param.optional(Param.int("healthythreshold")),
    unhealthyThreshold: Param.optional(Param.int("unhealthythreshold")),
    description: Param.optional(Param.string("description"))
  }
})

export const listLBHealthCheckPolicies = Command.list({
  name: "listLBHealthCheckPolicies",
  itemKey: "healthcheckpolicies",
  item: HealthCheckPolicies,
  scope: "none",
  params: {
    lbRuleId: Param.optional(Param.string<LbRuleId>("lbruleid")),
    id: Param.optional(Param.string<HealthCheckPolicyId>("id"))
  }
})

export const deleteLBHealthCheckPolicy = Command.async({
  name: "deleteLBHealthCheckPolicy",
  resultKey: "success",
  result: Wire.Success,
  params: { id: Param.string<HealthCheckPolicyId>("id") }
})

export const StickinessPolicy = Schema.Struct({
  id: StickinessPolicyId,
  name: Schema.String,
  methodName: Wire.required("methodname", Schema.String),
  params: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  state: Schema.optional(Schema.String)
})
export type StickinessPolicy = typeof StickinessPolicy.Type

export const StickinessPolicies = Schema.Struct({
  lbRuleId: Wire.required("lbruleid", LbRuleId),
  policies: Wire.array("stickinesspolicy", StickinessPolicy)
})
export type StickinessPolicies = typeof StickinessPolicies.Type

/** The immediate answer's top-level key is the odd `createLBStickinessPolicy`; the client never depends on it. */
export const createLBStickinessPolicy = Command.async({
  name: "createLBStickinessPolicy",
  create: true,
  resultKey: "stickinesspolicies",
  result: StickinessPolicies,
  params: {
    lbRuleId: Param.string<LbRuleId>("lbruleid"),
    name: Param.string("name"),
    methodName: Param.string<"LbCookie" | "AppCookie" | "SourceBased">("methodname"),
    param: Param.optional(Param.map("param", { name: "name", value: "value" })),
    description: Param.optional(Param.string("description"))
  }
})

export const listLBStickinessPolicies = Command.list({
  name: "listLBStickinessPolicies",
  itemKey: "stickinesspolicies",
  item: StickinessPolicies,
  scope: "none",
  params: {
    lbRuleId: Param.optional(Param.string<LbRuleId>("lbruleid")),
    id: Param.optional(Param.string<StickinessPolicyId>("id"))
  }
})

export const deleteLBStickinessPolicy = Command.async({
  name: "deleteLBStickinessPolicy",
  resultKey: "success",
  result: Wire.Success,
  params: { id: Param.string<StickinessPolicyId>("id") }
})
