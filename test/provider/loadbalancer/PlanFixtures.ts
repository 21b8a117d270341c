/**
 * Builders for the pure LB modules' tests: specs, network profiles, observed IPs, rules, firewall
 * rules and ACL items with short readable ids, and `show`, a one-line text of a Step that carries
 * every field (so a table of shown steps is the exact plan).
 */
import { Option } from "effect"
import type { FirewallRule } from "../../../src/cloudstack/commands/Firewall.js"
import type { LbProtocol } from "../../../src/cloudstack/commands/LoadBalancers.js"
import type { NetworkAclItem } from "../../../src/cloudstack/commands/NetworkAcls.js"
import {
  AclItemId,
  AclListId,
  FirewallRuleId,
  IpAddressId,
  LbRuleId,
  NetworkId,
  VmId,
  VpcId,
  ZoneId
} from "../../../src/cloudstack/Ids.js"
import { lbName, ruleName } from "../../../src/provider/loadbalancer/LbName.js"
import type { LbSpec, PortSpec } from "../../../src/provider/loadbalancer/LbSpec.js"
import type { Access, NetworkProfile } from "../../../src/provider/loadbalancer/NetworkProfile.js"
import {
  aclMarker,
  type ObservedIp,
  type ObservedLb,
  type ObservedRule
} from "../../../src/provider/loadbalancer/ObservedLb.js"
import * as Ownership from "../../../src/provider/loadbalancer/Ownership.js"
import type { DesiredLb, IpRef, RuleRef, Step } from "../../../src/provider/loadbalancer/Plan.js"

export const UID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
export const NAME = lbName(UID)
export const NET = NetworkId.make("net-1")
export const OTHER_NET = NetworkId.make("net-2")
export const VPC = VpcId.make("vpc-1")
export const ACL_LIST = AclListId.make("acl-list-1")
export const ALL = ["0.0.0.0/0"]

export const vm = (id: string) => VmId.make(id)
export const vms = (...ids: ReadonlyArray<string>) => ids.map(vm)

export const port = (protocol: LbProtocol, publicPort: number, privatePort = 30000 + publicPort): PortSpec => ({
  name: ruleName(NAME, protocol, publicPort),
  protocol,
  ipProtocol: protocol === "udp" ? "udp" : "tcp",
  publicPort,
  privatePort
})

export const spec = (overrides: Partial<LbSpec> = {}): LbSpec => ({
  lbName: NAME,
  lbNames: [NAME],
  ports: [port("tcp", 80)],
  requestedIp: Option.none(),
  algorithm: "roundrobin",
  sourceRanges: ALL,
  ruleCidrs: Option.none(),
  keepIp: false,
  proxyProtocol: false,
  hostname: Option.none(),
  networkId: Option.none(),
  sticky: Option.none(),
  healthCheck: {
    enabled: Option.none(),
    path: Option.none(),
    interval: Option.none(),
    timeout: Option.none(),
    healthy: Option.none(),
    unhealthy: Option.none()
  },
  warnings: [],
  ...overrides
})

const profile = (access: Access, vpc: boolean, id = NET): NetworkProfile => ({
  id,
  name: id,
  zoneId: ZoneId.make("zone-1"),
  vpcId: vpc ? Option.some(VPC) : Option.none(),
  aclId: access._tag === "Acl" ? Option.some(access.aclId) : Option.none(),
  hasLb: true,
  lbProvider: "VirtualRouter",
  protocols: new Set(["tcp", "udp", "tcp-proxy"]),
  access,
  stickiness: new Map(),
  healthChecks: false
})
/** An isolated network: firewall rules. */
export const isolated = (id = NET) => profile({ _tag: "Firewall" }, false, id)
/** A VPC tier on the ACL list `listName`. */
export const tier = (listName = "lb-acl", id = NET) => profile({ _tag: "Acl", aclId: ACL_LIST, listName }, true, id)

export const ip = (id: string, overrides: Partial<ObservedIp> = {}): ObservedIp => ({
  id: IpAddressId.make(id),
  address: `203.0.113.${id.replace(/\D/g, "") || "99"}`,
  associatedNetworkId: Option.some(NET),
  vpcId: Option.none(),
  owned: true,
  foreignRules: 0,
  foreignPorts: [],
  recorded: false,
  releasing: false,
  tags: Option.none(),
  ...overrides
})

export const rule = (id: string, ipId: string, p: PortSpec, overrides: Partial<ObservedRule> = {}): ObservedRule => ({
  id: LbRuleId.make(id),
  name: p.name,
  protocol: p.protocol,
  publicPort: p.publicPort,
  privatePort: p.privatePort,
  algorithm: "roundrobin",
  cidrs: [],
  ipId: IpAddressId.make(ipId),
  networkId: Option.some(NET),
  tags: [],
  ...overrides
})

export const fw = (
  id: string,
  ipId: string,
  protocol: string,
  p: number,
  cidrs: ReadonlyArray<string> = ALL
): FirewallRule => ({
  id: FirewallRuleId.make(id),
  protocol,
  startPort: p,
  endPort: p,
  ipAddressId: IpAddressId.make(ipId),
  state: "Active",
  cidrList: cidrs,
  tags: []
})

export const acl = (id: string, protocol: string, p: number, cidrs: ReadonlyArray<string> = ALL): NetworkAclItem => ({
  id: AclItemId.make(id),
  protocol,
  startPort: p,
  endPort: p,
  cidrList: cidrs,
  aclId: ACL_LIST,
  action: "Allow",
  trafficType: "Ingress",
  reason: aclMarker(UID),
  tags: []
})

export const observed = (overrides: Partial<ObservedLb> = {}): ObservedLb => ({
  ips: [],
  rules: [],
  members: new Map(),
  policies: new Map(),
  firewall: [],
  acl: [],
  requested: Option.none(),
  ...overrides
})

export const members = (entries: Record<string, ReadonlyArray<string>>) =>
  new Map(Object.entries(entries).map(([k, v]) => [LbRuleId.make(k), vms(...v)]))

export const recorded = (ipId: string, associated = true): Ownership.Ownership => ({
  ipId: Option.some(IpAddressId.make(ipId)),
  associated,
  allocating: Option.none(),
  stickyApplied: false
})

export const desired = (overrides: Partial<DesiredLb> = {}): DesiredLb => ({
  spec: spec(),
  network: isolated(),
  members: vms("vm-a", "vm-b"),
  aclReason: aclMarker(UID),
  recreateForCidrs: false,
  ownership: Ownership.empty,
  owner: { cluster: "kubernetes", namespace: "default", name: "web", uid: UID },
  // the tables are about the LB; the tag steps have their own tests
  tags: false,
  ...overrides
})

// ---- one line per step ----------------------------------------------------------------------------

const ipRef = (r: IpRef) => (r._tag === "Existing" ? r.id : "(acquired)")
const ruleRef = (r: RuleRef) => (r._tag === "Existing" ? r.id : `(created ${short(r.name)})`)
/** A rule name without the LB name: `tcp-80`. */
const short = (name: string) => (name.startsWith(`${NAME}-`) ? name.slice(NAME.length + 1) : name)
const list = (xs: ReadonlyArray<string>) => `[${xs.join(",")}]`
const portText = (p: PortSpec) =>
  `${short(p.name)} ${p.publicPort}>${p.privatePort}${
    p.ipProtocol === (p.protocol === "udp" ? "udp" : "tcp") ? "" : ` ip:${p.ipProtocol}`
  }`

export const show = (step: Step): string => {
  switch (step._tag) {
    case "AcquireIp":
      return `AcquireIp ${Option.getOrElse(step.address, () => "(any)")}`
    case "CreateRule":
      return `CreateRule ${ipRef(step.ip)} ${portText(step.port)}`
    case "UpdateRule":
      return `UpdateRule ${step.id} ${short(step.name)} ${portText(step.port)}`
    case "DeleteRule":
      return `DeleteRule ${step.id} ${short(step.name)}`
    case "AssignMembers":
      return `AssignMembers ${ruleRef(step.rule)} ${list(step.vms)}`
    case "RemoveMembers":
      return `RemoveMembers ${step.rule} ${list(step.vms)}`
    case "CreateFirewall":
      return `CreateFirewall ${ipRef(step.ip)} ${step.protocol}/${step.port} ${list(step.cidrs)}`
    case "DeleteFirewall":
      return `DeleteFirewall ${step.id} ${step.port}`
    case "CreateAcl":
      return `CreateAcl ${step.protocol}/${step.port} ${list(step.cidrs)}`
    case "DeleteAcl":
      return `DeleteAcl ${step.id} ${step.port}`
    case "ReleaseIp":
      return `ReleaseIp ${step.id} ${step.address}`
    case "Persist":
      return `Persist ${
        Option.match(step.ip, { onNone: () => "(none)", onSome: ipRef })
      } associated=${step.associated}${step.stickyApplied ? " sticky" : ""}`
    case "Policy":
      return `${step.policy._tag} ${
        step.policy._tag === "CreateStickiness" || step.policy._tag === "CreateHealthCheck"
          ? step.policy.rule._tag === "Existing" ? step.policy.rule.id : `(created ${short(step.policy.rule.name)})`
          : step.policy.id
      }`
    case "Tag":
      return `Tag ${step.resourceType} ${
        list(step.targets.map((t) => (t._tag === "Existing"
          ? t.id
          : t._tag === "CreatedRule"
          ? `(created ${short(t.name)})`
          : t._tag === "AcquiredIp"
          ? "(acquired)"
          : `(created ${t._tag === "CreatedFirewall" ? "fw" : "acl"} ${t.protocol}/${t.port})`)
        ))
      } ${list(step.tags.map((t) => t.key))}`
  }
}
