/**
 * The simulator's firewall rules: listFirewallRules, createFirewallRule (overlap and conflict
 * checks of reference 6.2, a job on the network's queue), deleteFirewallRule and their rendering.
 */
import { Either } from "effect"
import { checkAccess } from "../Access.js"
import { addRuleToIp, removeFirewallRule } from "../Cascades.js"
import { conflict, invalid } from "../Fail.js"
import type { Commands, Handler, Obj } from "../Handler.js"
import { networkKey, ok, submit, SUCCESS } from "../Jobs.js"
import { listOf, scope, tagFilter } from "../ListQuery.js"
import { tagsOf } from "../Render.js"
import { cidrsOf, offeringOf, ruleString } from "../RuleChecks.js"
import type { FirewallRuleRow } from "../SimModel.js"
import { nextInternalId, nextUuid, type Store } from "../Store.js"

export const renderFw = (s: Store, r: FirewallRuleRow): Obj => {
  const ip = s.ips.get(r.ipUuid)
  const out: Obj = { id: r.uuid, protocol: r.protocol }
  if (r.startport !== undefined) out.startport = r.startport
  if (r.endport !== undefined) out.endport = r.endport
  Object.assign(out, {
    ipaddressid: r.ipUuid,
    networkid: r.networkUuid,
    ipaddress: ip?.address ?? "",
    state: r.state,
    cidrlist: r.cidrlist.join(",")
  })
  if (r.icmptype !== undefined) out.icmptype = r.icmptype
  if (r.icmpcode !== undefined) out.icmpcode = r.icmpcode
  out.tags = tagsOf(s, "FirewallRule", r.uuid)
  out.fordisplay = true
  return out
}

const listFirewallRules: Handler = (c, p) =>
  Either.gen(function*() {
    const { id, ip } = yield* Either.all({ id: p.optUuid("id", c.s.fwRules), ip: p.optUuid("ipaddressid", c.s.ips) })
    if (ip !== undefined && ip.state !== "Allocated") {
      return yield* Either.left(invalid(`Ip address id=${ip.uuid} not ready for firewall rules yet`))
    }
    const net = yield* p.optUuid("networkid", c.s.networks)
    const sc = yield* scope(c, p, id !== undefined)
    const tf = yield* tagFilter(c, p, "FirewallRule")
    const rows = [...c.s.fwRules.values()].filter((r) =>
      (id === undefined || r === id) && (ip === undefined || r.ipUuid === ip.uuid) &&
      (net === undefined || r.networkUuid === net.uuid) && sc(r.owner) && (tf === undefined || tf(r.uuid))
    ).sort((a, b) => b.internalId - a.internalId)
    return yield* listOf(p, "firewallrule", rows, (r) => renderFw(c.s, r))
  })

const FW_PROTOCOLS = new Set(["tcp", "udp", "icmp"])

const overlaps = (a0: number | undefined, a1: number | undefined, b0: number | undefined, b1: number | undefined) =>
  a0 !== undefined && b0 !== undefined && a0 <= (b1 ?? b0) && b0 <= (a1 ?? a0)

const createFirewallRule: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const { ip, protocolRaw, start, endRaw, icmptype, icmpcode, cidrsGiven } = yield* Either.all({
      ip: p.reqUuid("ipaddressid", s.ips),
      protocolRaw: p.required("protocol"),
      start: p.optInt("startport"),
      endRaw: p.optInt("endport"),
      icmptype: p.optInt("icmptype"),
      icmpcode: p.optInt("icmpcode"),
      cidrsGiven: cidrsOf(p, (x) => `Source CIDRs formatting error ${x}`)
    })
    const protocol = protocolRaw.trim().toLowerCase()
    const cidrs = cidrsGiven.length === 0 ? ["0.0.0.0/0"] : cidrsGiven
    const end = endRaw ?? start
    // Only an Allocated IP takes rules (IPAddressVO.readyToUse): not while its association or release runs.
    if (ip.owner === undefined || ip.state !== "Allocated") {
      return yield* Either.left(invalid(`Unable to create firewall rule; ip id=${ip.uuid} is not allocated`))
    }
    yield* checkAccess(c, ip.owner, ip.uuid)
    if (ip.associatedNetworkUuid === undefined) {
      return yield* Either.left(invalid(
        `Unable to create firewall rule for the IP address ID=${ip.uuid} as IP is not associated with any network and no networkId is passed in`
      ))
    }
    const network = s.networks.get(ip.associatedNetworkUuid)
    if (network === undefined || offeringOf(s, network)?.services.has("Firewall") !== true) {
      return yield* Either.left(
        invalid(`Service Firewall is not supported in the network id=${ip.associatedNetworkUuid}`)
      )
    }
    if (!FW_PROTOCOLS.has(protocol)) {
      return yield* Either.left(invalid(`Protocol ${protocol} is not supported in zone ${network.zoneUuid}`))
    }
    for (const port of [start, end]) {
      if (port !== undefined && (port < 1 || port > 65535)) {
        return yield* Either.left(invalid(`Invalid port range ${start ?? ""}-${end ?? ""}`))
      }
    }
    if (start !== undefined && end !== undefined && start > end) {
      return yield* Either.left(invalid("Start port can't be bigger than end port"))
    }
    if (protocol === "icmp" && (start !== undefined || end !== undefined)) {
      return yield* Either.left(invalid("Can't specify start/end port when protocol is ICMP"))
    }
    if (protocol !== "icmp" && (icmptype !== undefined || icmpcode !== undefined)) {
      return yield* Either.left(invalid("Can specify icmpCode and icmpType for ICMP protocol only"))
    }
    const type = protocol === "icmp" ? (icmptype ?? -1) : undefined
    const code = protocol === "icmp" ? (icmpcode ?? -1) : undefined
    for (const ruleUuid of s.rulesByIp.get(ip.uuid) ?? []) {
      const fw = s.fwRules.get(ruleUuid)
      if (fw === undefined || fw.state === "Revoke" || fw.protocol !== protocol) continue
      const shared = fw.cidrlist.some((x) => cidrs.includes(x))
      if (!shared) continue
      if (protocol === "icmp") {
        if (fw.icmptype === type && fw.icmpcode === code) {
          return yield* Either.left(invalid(`New rule conflicts with existing rule: ${ruleString(fw, "Firewall")}`))
        }
        continue
      }
      if (start === undefined && fw.startport === undefined) {
        return yield* Either.left(
          conflict(`There is already a firewall rule specified with protocol = ${protocol} and no ports`)
        )
      }
      if (overlaps(start, end, fw.startport, fw.endport)) {
        return yield* Either.left(conflict(
          `The range specified, ${start ?? ""}-${end ?? ""}, conflicts with rule ${
            ruleString(fw, "Firewall")
          } which has ${fw.startport ?? ""}-${fw.endport ?? ""}`
        ))
      }
    }
    const row: FirewallRuleRow = {
      uuid: nextUuid(s),
      internalId: nextInternalId(s),
      ipUuid: ip.uuid,
      networkUuid: network.uuid,
      protocol,
      startport: start,
      endport: end,
      cidrlist: cidrs,
      icmptype: type,
      icmpcode: code,
      state: "Add",
      owner: ip.owner,
      relatedLbUuid: undefined
    }
    s.fwRules.set(row.uuid, row)
    addRuleToIp(s, ip.uuid, row.uuid)
    return submit(c, {
      queueKey: networkKey(network.uuid),
      instanceType: "FirewallRule",
      instanceUuid: row.uuid,
      createdId: row.uuid,
      execute: () => {
        row.state = "Active"
        return ok({ firewallrule: renderFw(s, row) })
      },
      onFailure: () => removeFirewallRule(s, row.uuid)
    })
  })

const deleteFirewallRule: Handler = (c, p) =>
  Either.gen(function*() {
    const fw = yield* p.reqUuid("id", c.s.fwRules)
    yield* checkAccess(c, fw.owner, fw.uuid)
    return submit(c, {
      queueKey: networkKey(fw.networkUuid),
      execute: () => {
        removeFirewallRule(c.s, fw.uuid)
        return SUCCESS
      }
    })
  })

export const commands: Commands = { listFirewallRules, createFirewallRule, deleteFirewallRule }
