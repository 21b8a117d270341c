/**
 * Who may reach a load balancer (part of the planner, Plan.ts): the firewall rules of an isolated
 * network's IP or the ACL items of a VPC tier's list, for the wanted ports and source ranges. Pure.
 */
import { Option } from "effect"
import type { FirewallRule } from "../../cloudstack/commands/Firewall.js"
import type { NetworkAclItem } from "../../cloudstack/commands/NetworkAcls.js"
import type { IpAddressId } from "../../cloudstack/Ids.js"
import * as Cidr from "./Cidr.js"
import type { LbWarning, PortSpec } from "./LbSpec.js"
import { DEFAULT_ACL_LISTS } from "./NetworkProfile.js"
import type { ObservedLb } from "./ObservedLb.js"
import { type DesiredLb, type IpRef, Step } from "./PlanSteps.js"

/** A port the LB serves and the IP its rule goes on. */
export interface WantedPort {
  readonly port: PortSpec
  readonly ref: IpRef
}

/** The access steps and what stays of the access that exists. */
export interface AccessPlan {
  /** Before the rules are cleaned up: creates, and deletes that would conflict with them. */
  readonly access: ReadonlyArray<Step>
  /** After the creates: what no wanted port keeps. */
  readonly accessAfter: ReadonlyArray<Step>
  /** Firewall rules of wanted ports, handled here (kept or replaced): not deleted with their LB rule. */
  readonly keptFirewall: ReadonlySet<string>
  readonly stayingFirewall: ReadonlyArray<FirewallRule>
  readonly stayingAcl: ReadonlyArray<NetworkAclItem>
  readonly warnings: ReadonlyArray<LbWarning>
}

export const ipProtocolOf = (protocol: string): "tcp" | "udp" => (protocol === "udp" ? "udp" : "tcp")

/** The firewall rules of one IP, protocol and single port. */
export const firewallFor = (rules: ReadonlyArray<FirewallRule>, ipId: IpAddressId, protocol: string, port: number) =>
  rules.filter((f) =>
    f.ipAddressId === ipId && f.protocol.toLowerCase() === protocol && f.startPort === port &&
    (f.endPort ?? port) === port
  )

/** Firewall rules on the target IP, or ACL items on the tier's list, for `wanted`; others' go. */
export const planAccess = (
  d: DesiredLb,
  o: ObservedLb,
  wanted: ReadonlyArray<WantedPort>,
  targetId: Option.Option<IpAddressId>
): AccessPlan => {
  const access: Array<Step> = []
  const accessAfter: Array<Step> = []
  const warnings: Array<LbWarning> = []
  const keptFirewall = new Set<string>()
  const stayingFirewall: Array<FirewallRule> = []
  const stayingAcl: Array<NetworkAclItem> = []
  const deleteAcl = (a: NetworkAclItem) => accessAfter.push(Step.DeleteAcl({ id: a.id, port: a.startPort ?? 0 }))
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
          Step.CreateFirewall({ ip: ref, protocol: port.ipProtocol, port: port.publicPort, cidrs: d.spec.sourceRanges })
        )
      }
    }
    o.acl.forEach(deleteAcl)
  } else if (d.network.access._tag === "Acl" && !DEFAULT_ACL_LISTS.has(d.network.access.listName)) {
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
      } else {
        access.push(Step.CreateAcl({ protocol: port.ipProtocol, port: port.publicPort, cidrs: d.spec.sourceRanges }))
      }
    }
    for (const a of o.acl) if (!matched.has(a.id)) deleteAcl(a)
  } else {
    if (d.network.access._tag === "Acl" && wanted.length > 0) {
      const listName = d.network.access.listName
      warnings.push({
        reason: "DefaultNetworkACL",
        message: `tier ${d.network.name} uses the ACL list ${listName}, which CloudStack does not let anyone change: ${
          listName === "default_deny"
            ? "the load balancer is unreachable until the tier gets a custom ACL list"
            : "every source can reach the load balancer"
        }`
      })
    }
    o.acl.forEach(deleteAcl)
  }
  return { access, accessAfter, keptFirewall, stayingFirewall, stayingAcl, warnings }
}
