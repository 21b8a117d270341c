/**
 * The synchronous read commands of the simulator (list*, queryAsyncJobResult): filters, paging
 * (4.1), scoping (4.2) and the orderings of the real server. Reads the store, never mutates it.
 */
import {
  type Answer,
  type Ctx,
  type Handler,
  isAdmin,
  keywordMatch,
  type Obj,
  scope,
  tagFilter,
  TAG_TYPES
} from "./EngineContext.js"
import {
  renderAclItem,
  renderAclList,
  renderHealthCheck,
  renderIp,
  renderJob,
  renderLb,
  renderNetwork,
  renderProject,
  renderStickiness,
  renderVm,
  renderVpc,
  renderTag,
  renderZone,
  renderFw
} from "./Render.js"
import type { AclListRow, IpRow, LbRuleRow, NetworkRow, TagRow, VmRow } from "./SimModel.js"
import { formatDate, invalid, invalidUuid, ipv4ToInt, isFail, list, listBody, optBool, optUuid, page, type Params, reqUuid, required } from "./Wire.js"

const listOf = <A>(c: Ctx, p: Params, key: string, rows: ReadonlyArray<A>, render: (a: A) => unknown): Answer => {
  const pg = page(p, c.command)
  if (isFail(pg)) return pg
  return listBody(key, rows, pg, render)
}

const listZones: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.zones)
  if (isFail(id)) return id
  const name = p.get("name")
  const rows = [...c.s.zones.values()].filter((z) =>
    (id === undefined || z === id) && (name === undefined || z.name === name) && keywordMatch(p.get("keyword"), z.name)
  )
  return listOf(c, p, "zone", rows, (z) => renderZone(c.s, z))
}

const listProjects: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.projects)
  if (isFail(id)) return id
  const name = p.get("name")
  const state = p.get("state")
  const all = isAdmin(c) && optBool(p, "listall") === true
  const rows = [...c.s.projects.values()].filter((pr) =>
    // names compare as MySQL's default collation does: case-insensitively
    (id === undefined || pr === id) && (name === undefined || pr.name.toLowerCase() === name.toLowerCase()) &&
    (state === undefined || pr.state.toLowerCase() === state.toLowerCase()) &&
    keywordMatch(p.get("keyword"), pr.name) && (all || pr.members.includes(c.caller.account.name))
  )
  return listOf(c, p, "project", rows, (pr) => renderProject(c.s, pr))
}

const networkVisible = (c: Ctx, p: Params, byId: boolean) => {
  const sc = scope(c, p, byId)
  if (isFail(sc)) return sc
  // Shared networks (acltype Domain) are usable by every account of the domain.
  return (n: NetworkRow) => (n.type === "Shared" && p.get("projectid") === undefined) || sc(n.owner)
}

const listNetworks: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.networks)
  if (isFail(id)) return id
  const zone = optUuid(p, "zoneid", c.command, c.s.zones)
  if (isFail(zone)) return zone
  const vpc = optUuid(p, "vpcid", c.command, c.s.vpcs)
  if (isFail(vpc)) return vpc
  const visible = networkVisible(c, p, id !== undefined)
  if (isFail(visible)) return visible
  const tf = tagFilter(c, p, "Network")
  if (isFail(tf)) return tf
  const name = p.get("name")
  const type = p.get("type")?.toLowerCase()
  const forVpc = optBool(p, "forvpc")
  const rows = [...c.s.networks.values()].filter((n) =>
    (id === undefined || n === id) && (zone === undefined || n.zoneUuid === zone.uuid) &&
    (vpc === undefined || n.vpcUuid === vpc.uuid) && (name === undefined || n.name === name) &&
    (type === undefined || n.type.toLowerCase() === type) &&
    (forVpc === undefined || (n.vpcUuid !== undefined) === forVpc) &&
    keywordMatch(p.get("keyword"), n.name) && visible(n) && (tf === undefined || tf(n.uuid))
  )
  return listOf(c, p, "network", rows, (n) => renderNetwork(c.s, n))
}

const listVPCs: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.vpcs)
  if (isFail(id)) return id
  const zone = optUuid(p, "zoneid", c.command, c.s.zones)
  if (isFail(zone)) return zone
  const sc = scope(c, p, id !== undefined)
  if (isFail(sc)) return sc
  const tf = tagFilter(c, p, "Vpc")
  if (isFail(tf)) return tf
  const name = p.get("name")
  const rows = [...c.s.vpcs.values()].filter((v) =>
    (id === undefined || v === id) && (zone === undefined || v.zoneUuid === zone.uuid) &&
    (name === undefined || v.name === name) && keywordMatch(p.get("keyword"), v.name) && sc(v.owner) &&
    (tf === undefined || tf(v.uuid))
  )
  return listOf(c, p, "vpc", rows, (v) => renderVpc(c.s, v))
}

const aclListVisible = (c: Ctx, sc: (owner: string) => boolean, a: AclListRow): boolean => {
  if (a.vpcUuid === undefined) return true
  const vpc = c.s.vpcs.get(a.vpcUuid)
  return vpc !== undefined && sc(vpc.owner)
}

const listNetworkACLLists: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.aclLists)
  if (isFail(id)) return id
  const vpc = optUuid(p, "vpcid", c.command, c.s.vpcs)
  if (isFail(vpc)) return vpc
  const net = optUuid(p, "networkid", c.command, c.s.networks)
  if (isFail(net)) return net
  const sc = scope(c, p, id !== undefined)
  if (isFail(sc)) return sc
  const name = p.get("name")
  const rows = [...c.s.aclLists.values()].filter((a) =>
    (id === undefined || a === id) && (vpc === undefined || a.vpcUuid === vpc.uuid || a.vpcUuid === undefined) &&
    (net === undefined || net.aclUuid === a.uuid) && (name === undefined || a.name === name) &&
    keywordMatch(p.get("keyword"), a.name, a.description) && aclListVisible(c, sc, a)
  )
  return listOf(c, p, "networkacllist", rows, (a) => renderAclList(c.s, a))
}

const listNetworkACLs: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.aclItems)
  if (isFail(id)) return id
  const acl = optUuid(p, "aclid", c.command, c.s.aclLists)
  if (isFail(acl)) return acl
  const net = optUuid(p, "networkid", c.command, c.s.networks)
  if (isFail(net)) return net
  const sc = scope(c, p, id !== undefined)
  if (isFail(sc)) return sc
  const tf = tagFilter(c, p, "NetworkACL")
  if (isFail(tf)) return tf
  const protocol = p.get("protocol")?.toLowerCase()
  const action = p.get("action")?.toLowerCase()
  const traffic = p.get("traffictype")?.toLowerCase()
  const rows = [...c.s.aclItems.values()].filter((r) => {
    const list = c.s.aclLists.get(r.aclUuid)
    return (id === undefined || r === id) && (acl === undefined || r.aclUuid === acl.uuid) &&
      (net === undefined || r.aclUuid === net.aclUuid) && (protocol === undefined || r.protocol === protocol) &&
      (action === undefined || r.action.toLowerCase() === action) &&
      (traffic === undefined || r.traffictype.toLowerCase() === traffic) &&
      list !== undefined && aclListVisible(c, sc, list) && (tf === undefined || tf(r.uuid))
  }).sort((a, b) => b.internalId - a.internalId)
  return listOf(c, p, "networkacl", rows, (r) => renderAclItem(c.s, r))
}

const listTemplates: Handler = (c, p) => {
  const filter = required(p, "templatefilter", c.command)
  if (isFail(filter)) return filter
  const id = optUuid(p, "id", c.command, c.s.templates)
  if (isFail(id)) return id
  const name = p.get("name")
  const zones = [...c.s.zones.values()]
  const rows = [...c.s.templates.values()].filter((t) =>
    (id === undefined || t === id) && (name === undefined || t.name === name) && keywordMatch(p.get("keyword"), t.name)
  )
  return listOf(c, p, "template", rows, (t) => ({
    id: t.uuid,
    name: t.name,
    displaytext: t.name,
    ispublic: true,
    created: formatDate(t.created),
    isready: true,
    passwordenabled: false,
    format: "QCOW2",
    isfeatured: true,
    crossZones: false,
    ostypename: t.ostype,
    account: "system",
    zoneid: zones[0]?.uuid ?? "",
    zonename: zones[0]?.name ?? "",
    status: "Download Complete",
    templatetype: "USER",
    hypervisor: "Simulator",
    domain: "ROOT",
    isextractable: false,
    tags: []
  }))
}

const listServiceOfferings: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.serviceOfferings)
  if (isFail(id)) return id
  const name = p.get("name")
  const rows = [...c.s.serviceOfferings.values()].filter((o) =>
    (id === undefined || o === id) && (name === undefined || o.name === name) && keywordMatch(p.get("keyword"), o.name)
  )
  return listOf(c, p, "serviceoffering", rows, (o) => ({
    id: o.uuid,
    name: o.name,
    displaytext: o.name,
    cpunumber: o.cpunumber,
    cpuspeed: o.cpuspeed,
    memory: o.memory,
    created: formatDate(o.created),
    storagetype: "shared",
    offerha: false,
    limitcpuuse: false,
    isvolatile: false,
    issystem: false,
    defaultuse: false,
    iscustomized: false
  }))
}

const VM_DETAILS = new Set(["all", "group", "nics", "stats", "secgrp", "tmpl", "servoff", "diskoff", "backoff", "iso", "volume", "min", "affgrp"])

const listVirtualMachines: Handler = (c, p) => {
  if (p.has("id") && p.has("ids")) return invalid("Specify either id or ids but not both parameters")
  const id = optUuid(p, "id", c.command, c.s.vms)
  if (isFail(id)) return id
  const ids = list(p.get("ids"))
  for (const i of ids) if (!c.s.vms.has(i)) return invalidUuid("ids", i, c.command)
  const zone = optUuid(p, "zoneid", c.command, c.s.zones)
  if (isFail(zone)) return zone
  const net = optUuid(p, "networkid", c.command, c.s.networks)
  if (isFail(net)) return net
  const vpc = optUuid(p, "vpcid", c.command, c.s.vpcs)
  if (isFail(vpc)) return vpc
  const details = list(p.get("details"))
  for (const d of details) {
    if (!VM_DETAILS.has(d.toLowerCase())) {
      return invalid(`The details parameter contains a non permitted value. The allowed values are ${[...VM_DETAILS].join(", ")}`)
    }
  }
  const sc = scope(c, p, id !== undefined || ids.length > 0)
  if (isFail(sc)) return sc
  const tf = tagFilter(c, p, "UserVm")
  if (isFail(tf)) return tf
  const name = p.get("name")
  const state = p.get("state")?.toLowerCase()
  const idSet = new Set(ids)
  const admin = isAdmin(c)
  const keyword = p.get("keyword")
  const rows: Array<VmRow> = []
  const single = id !== undefined ? [id] : c.s.vms.values()
  for (const vm of single) {
    if (idSet.size > 0 && !idSet.has(vm.uuid)) continue
    // An expunged VM's row is removed (hidden from everyone); Destroyed ones only admins see.
    if (vm.state === "Expunging") continue
    const gone = vm.state === "Destroyed"
    if (gone && !admin) continue
    if (state !== undefined && (state === "present" ? gone : vm.state.toLowerCase() !== state)) continue
    if (name !== undefined && vm.name !== name) continue
    if (zone !== undefined && vm.zoneUuid !== zone.uuid) continue
    if (net !== undefined && !vm.nics.some((n) => n.networkUuid === net.uuid)) continue
    if (vpc !== undefined && !vm.nics.some((n) => c.s.networks.get(n.networkUuid)?.vpcUuid === vpc.uuid)) continue
    if (keyword !== undefined && !keywordMatch(keyword, vm.name, vm.displayname, ...vm.nics.map((n) => n.ip))) continue
    if (!sc(vm.owner)) continue
    if (tf !== undefined && !tf(vm.uuid)) continue
    rows.push(vm)
  }
  const all = details.length === 0 || details.some((d) => d.toLowerCase() === "all")
  const withNics = all || details.some((d) => d.toLowerCase() === "nics")
  return listOf(c, p, "virtualmachine", rows, (vm) => {
    const out = renderVm(c.s, vm)
    if (!withNics) delete out.nic
    return out
  })
}

const ipOrder = (a: IpRow, b: IpRow) => (ipv4ToInt(a.address) ?? 0) - (ipv4ToInt(b.address) ?? 0)

const listPublicIpAddresses: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.ips)
  if (isFail(id)) return id
  const zone = optUuid(p, "zoneid", c.command, c.s.zones)
  if (isFail(zone)) return zone
  const assoc = optUuid(p, "associatednetworkid", c.command, c.s.networks)
  if (isFail(assoc)) return assoc
  const vpc = optUuid(p, "vpcid", c.command, c.s.vpcs)
  if (isFail(vpc)) return vpc
  const sc = scope(c, p, id !== undefined)
  if (isFail(sc)) return sc
  const tf = tagFilter(c, p, "PublicIpAddress")
  if (isFail(tf)) return tf
  const allocatedOnly = optBool(p, "allocatedonly") ?? true
  const address = p.get("ipaddress")
  const keyword = address === undefined ? p.get("keyword") : undefined
  const sourceNat = optBool(p, "issourcenat")
  const staticNat = optBool(p, "isstaticnat")
  const forLb = optBool(p, "forloadbalancing")
  const state = p.get("state")?.toLowerCase()
  const candidates = id !== undefined
    ? [id]
    : address !== undefined
    ? [c.s.ipsByAddress.get(address)].filter((x): x is IpRow => x !== undefined)
    : c.s.ips.values()
  const rows: Array<IpRow> = []
  for (const ip of candidates) {
    // Free addresses belong to no account: allocatedonly=false shows them to any caller (the
    // reference CCM looks up the IP it wants with projectid set, then associates it).
    if (ip.state === "Free") {
      if (allocatedOnly) continue
    } else if (ip.owner === undefined || !sc(ip.owner)) continue
    if (zone !== undefined && ip.zoneUuid !== zone.uuid) continue
    if (assoc !== undefined && ip.associatedNetworkUuid !== assoc.uuid) continue
    if (vpc !== undefined && ip.vpcUuid !== vpc.uuid) continue
    if (sourceNat !== undefined && ip.sourceNat !== sourceNat) continue
    if (staticNat !== undefined && (ip.staticNatVmUuid !== undefined) !== staticNat) continue
    if (state !== undefined && ip.state.toLowerCase() !== state) continue
    if (forLb === true && ![...(c.s.rulesByIp.get(ip.uuid) ?? [])].some((r) => c.s.lbRules.has(r))) continue
    if (!keywordMatch(keyword, ip.address)) continue
    if (tf !== undefined && !tf(ip.uuid)) continue
    rows.push(ip)
  }
  rows.sort(ipOrder)
  const admin = isAdmin(c)
  return listOf(c, p, "publicipaddress", rows, (ip) => renderIp(c.s, ip, admin))
}

const listLoadBalancerRules: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.lbRules)
  if (isFail(id)) return id
  const ip = optUuid(p, "publicipid", c.command, c.s.ips)
  if (isFail(ip)) return ip
  const vm = optUuid(p, "virtualmachineid", c.command, c.s.vms)
  if (isFail(vm)) return vm
  const zone = optUuid(p, "zoneid", c.command, c.s.zones)
  if (isFail(zone)) return zone
  const net = optUuid(p, "networkid", c.command, c.s.networks)
  if (isFail(net)) return net
  const sc = scope(c, p, id !== undefined)
  if (isFail(sc)) return sc
  const tf = tagFilter(c, p, "LoadBalancer")
  if (isFail(tf)) return tf
  const name = p.get("name")
  const keyword = p.get("keyword")
  const candidates: Iterable<LbRuleRow> = id !== undefined
    ? [id]
    : ip !== undefined
    ? [...(c.s.rulesByIp.get(ip.uuid) ?? [])].map((r) => c.s.lbRules.get(r)).filter((r): r is LbRuleRow => r !== undefined)
      .sort((a, b) => a.internalId - b.internalId)
    : c.s.lbRules.values()
  const rows: Array<LbRuleRow> = []
  for (const r of candidates) {
    if (name !== undefined && r.name !== name) continue
    if (!keywordMatch(keyword, r.name, r.description)) continue
    if (vm !== undefined && !r.members.has(vm.uuid)) continue
    if (net !== undefined && r.networkUuid !== net.uuid) continue
    if (zone !== undefined && c.s.networks.get(r.networkUuid)?.zoneUuid !== zone.uuid) continue
    if (!sc(r.owner)) continue
    if (tf !== undefined && !tf(r.uuid)) continue
    rows.push(r)
  }
  return listOf(c, p, "loadbalancerrule", rows, (r) => renderLb(c.s, r))
}

const listLoadBalancerRuleInstances: Handler = (c, p) => {
  const lb = reqUuid(p, "id", c.command, c.s.lbRules)
  if (isFail(lb)) return lb
  const applied = optBool(p, "applied") ?? true
  const lbvmips = optBool(p, "lbvmips") === true
  const vms: Array<VmRow> = []
  if (applied) {
    for (const vmId of lb.members.keys()) {
      const vm = c.s.vms.get(vmId)
      if (vm !== undefined && vm.state !== "Destroyed" && vm.state !== "Expunging") vms.push(vm)
    }
  } else {
    for (const vm of c.s.vms.values()) {
      if (lb.members.has(vm.uuid) || vm.state === "Destroyed" || vm.state === "Expunging") continue
      if (vm.owner === lb.owner && vm.nics.some((n) => n.networkUuid === lb.networkUuid)) vms.push(vm)
    }
  }
  if (vms.length === 0) return {}
  const render = (vm: VmRow): Obj => ({ ...renderVm(c.s, vm), servicestate: "Active" })
  return lbvmips
    ? {
      count: vms.length,
      lbrulevmidip: vms.map((vm) => ({ lbvmipaddresses: [...(lb.members.get(vm.uuid) ?? [])], loadbalancerruleinstance: render(vm) }))
    }
    : { count: vms.length, loadbalancerruleinstance: vms.map(render) }
}

const listFirewallRules: Handler = (c, p) => {
  const id = optUuid(p, "id", c.command, c.s.fwRules)
  if (isFail(id)) return id
  const ip = optUuid(p, "ipaddressid", c.command, c.s.ips)
  if (isFail(ip)) return ip
  if (ip !== undefined && ip.state !== "Allocated") return invalid(`Ip address id=${ip.uuid} not ready for firewall rules yet`)
  const net = optUuid(p, "networkid", c.command, c.s.networks)
  if (isFail(net)) return net
  const sc = scope(c, p, id !== undefined)
  if (isFail(sc)) return sc
  const tf = tagFilter(c, p, "FirewallRule")
  if (isFail(tf)) return tf
  const rows = [...c.s.fwRules.values()].filter((r) =>
    (id === undefined || r === id) && (ip === undefined || r.ipUuid === ip.uuid) &&
    (net === undefined || r.networkUuid === net.uuid) && sc(r.owner) && (tf === undefined || tf(r.uuid))
  ).sort((a, b) => b.internalId - a.internalId)
  return listOf(c, p, "firewallrule", rows, (r) => renderFw(c.s, r))
}

const listTags: Handler = (c, p) => {
  const rawType = p.get("resourcetype")
  const type = rawType === undefined ? undefined : TAG_TYPES.get(rawType.toLowerCase())
  if (rawType !== undefined && type === undefined) return invalid(`Invalid resource type ${rawType}`)
  const resourceId = p.get("resourceid")
  const key = p.get("key")?.toLowerCase()
  const value = p.get("value")?.toLowerCase()
  const sc = scope(c, p, false)
  if (isFail(sc)) return sc
  const rows: Array<TagRow> = []
  for (const tags of c.s.tags.values()) {
    for (const t of tags.values()) {
      if (type !== undefined && t.resourceType !== type) continue
      if (resourceId !== undefined && t.resourceUuid !== resourceId) continue
      if (key !== undefined && t.key.toLowerCase() !== key) continue
      if (value !== undefined && t.value.toLowerCase() !== value) continue
      if (!keywordMatch(p.get("keyword"), t.key, t.value)) continue
      if (!sc(t.owner)) continue
      rows.push(t)
    }
  }
  return listOf(c, p, "tag", rows, (t) => renderTag(c.s, t))
}

const policyRule = (c: Ctx, p: Params) => {
  if (p.has("lbruleid")) return reqUuid(p, "lbruleid", c.command, c.s.lbRules)
  if (p.has("id")) {
    const id = p.get("id") ?? ""
    const policy = c.s.stickiness.get(id) ?? c.s.healthChecks.get(id)
    const lb = policy === undefined ? undefined : c.s.lbRules.get(policy.lbUuid)
    return lb ?? invalidUuid("id", id, c.command)
  }
  return required(p, "lbruleid", c.command)
}

const listLBStickinessPolicies: Handler = (c, p) => {
  const lb = policyRule(c, p)
  if (isFail(lb)) return lb
  if (typeof lb === "string") return {}
  const ps = [...c.s.stickiness.values()].filter((sp) => sp.lbUuid === lb.uuid)
  return { count: 1, stickinesspolicies: [renderStickiness(c.s, lb, ps)] }
}

const listLBHealthCheckPolicies: Handler = (c, p) => {
  const lb = policyRule(c, p)
  if (isFail(lb)) return lb
  if (typeof lb === "string") return {}
  const hcs = [...c.s.healthChecks.values()].filter((h) => h.lbUuid === lb.uuid)
  return { count: 1, healthcheckpolicies: [renderHealthCheck(c.s, lb, hcs)] }
}

const queryAsyncJobResult: Handler = (c, p) => {
  const job = reqUuid(p, "jobid", c.command, c.s.jobs)
  if (isFail(job)) return job
  return renderJob(job)
}

export const listCommands: Readonly<Record<string, Handler>> = {
  listZones,
  listProjects,
  listNetworks,
  listVPCs,
  listNetworkACLLists,
  listNetworkACLs,
  listTemplates,
  listServiceOfferings,
  listVirtualMachines,
  listPublicIpAddresses,
  listLoadBalancerRules,
  listLoadBalancerRuleInstances,
  listFirewallRules,
  listTags,
  listLBStickinessPolicies,
  listLBHealthCheckPolicies,
  queryAsyncJobResult
}
