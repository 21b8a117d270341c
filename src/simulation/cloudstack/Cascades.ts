/**
 * The simulator's cascading deletes (reference 5.7/5.11): what goes with a released IP, a deleted
 * LB rule, firewall rule or destroyed VM, and the VPC IP that falls back to "no tier". Synchronous
 * and pure apart from mutating the store it is given.
 */
import { tagKey } from "./Render.js"
import type { IpRow, LbRuleRow, VmRow } from "./SimModel.js"
import { FREE_IP, type Store } from "./Store.js"

export const deleteTagsOf = (s: Store, type: string, uuid: string) => {
  s.tags.delete(tagKey(type, uuid))
}

const rulesOf = (s: Store, ipUuid: string): Set<string> => {
  let set = s.rulesByIp.get(ipUuid)
  if (set === undefined) {
    set = new Set()
    s.rulesByIp.set(ipUuid, set)
  }
  return set
}
export const addRuleToIp = (s: Store, ipUuid: string, ruleUuid: string) => rulesOf(s, ipUuid).add(ruleUuid)

/** A VPC IP that serves no rule and no static NAT goes back to "no tier" (reference 6.1). */
export const maybeUnassociate = (s: Store, ip: IpRow) => {
  if (ip.vpcUuid === undefined || ip.sourceNat || ip.staticNatVmUuid !== undefined) return
  const rules = s.rulesByIp.get(ip.uuid)
  if (rules === undefined || rules.size === 0) ip.associatedNetworkUuid = undefined
}

export const removeFirewallRule = (s: Store, uuid: string) => {
  const fw = s.fwRules.get(uuid)
  if (fw === undefined) return
  s.fwRules.delete(uuid)
  s.rulesByIp.get(fw.ipUuid)?.delete(uuid)
  deleteTagsOf(s, "FirewallRule", uuid)
}

/** Deletes an LB rule with its mappings, policies, related firewall rule and tags (hard delete). */
export const removeLbRule = (s: Store, lb: LbRuleRow) => {
  s.lbRules.delete(lb.uuid)
  s.rulesByIp.get(lb.ipUuid)?.delete(lb.uuid)
  for (const [id, hc] of s.healthChecks) if (hc.lbUuid === lb.uuid) s.healthChecks.delete(id)
  for (const [id, sp] of s.stickiness) if (sp.lbUuid === lb.uuid) s.stickiness.delete(id)
  for (const [id, fw] of s.fwRules) if (fw.relatedLbUuid === lb.uuid) removeFirewallRule(s, id)
  deleteTagsOf(s, "LoadBalancer", lb.uuid)
  const ip = s.ips.get(lb.ipUuid)
  if (ip !== undefined) maybeUnassociate(s, ip)
}

/** Every rule on an IP and its static NAT go (IpAddressManagerImpl.cleanupIpResources). */
const cleanupIpResources = (s: Store, ip: IpRow) => {
  for (const ruleUuid of [...(s.rulesByIp.get(ip.uuid) ?? [])]) {
    const lb = s.lbRules.get(ruleUuid)
    if (lb !== undefined) removeLbRule(s, lb)
    else removeFirewallRule(s, ruleUuid)
  }
  s.rulesByIp.delete(ip.uuid)
  if (ip.staticNatVmUuid !== undefined) s.staticNatByVm.delete(ip.staticNatVmUuid)
  ip.staticNatVmUuid = undefined
  maybeUnassociate(s, ip)
}

/** Releases an IP: every rule on it, static NAT and its tags go; the row stays, Free (5.7). */
export const releaseIp = (s: Store, ip: IpRow) => {
  cleanupIpResources(s, ip)
  deleteTagsOf(s, "PublicIpAddress", ip.uuid)
  Object.assign(ip, FREE_IP)
}

/**
 * A release that failed after its rules went (IpAddressManagerImpl.disassociatePublicIpAddress:
 * cleanupIpResources, markIpAsUnavailable, then applyIpAssociations on the IP's network, which
 * failed): the IP stays `Releasing`, still the account's, until a disassociateIpAddress succeeds. A
 * VPC IP that no rule ties to a tier any more has no network to apply: it is unassigned at once.
 */
export const halfReleaseIp = (s: Store, ip: IpRow) => {
  cleanupIpResources(s, ip)
  if (ip.associatedNetworkUuid === undefined) return releaseIp(s, ip)
  ip.state = "Releasing"
}

export const setLbStateFromMembers = (lb: LbRuleRow) => {
  if (lb.state !== "Deleting") lb.state = lb.members.size > 0 ? "Active" : "Add"
}

/** Removes a destroyed VM from every LB rule (LoadBalancingRulesManagerImpl.removeVmFromLoadBalancers). */
export const removeVmFromLbs = (s: Store, vm: VmRow) => {
  for (const lb of s.lbRules.values()) {
    if (lb.members.delete(vm.uuid)) setLbStateFromMembers(lb)
  }
  const ipUuid = s.staticNatByVm.get(vm.uuid)
  const ip = ipUuid === undefined ? undefined : s.ips.get(ipUuid)
  if (ip !== undefined) {
    ip.staticNatVmUuid = undefined
    maybeUnassociate(s, ip)
  }
  s.staticNatByVm.delete(vm.uuid)
}
