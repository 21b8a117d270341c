/**
 * Renders simulator rows as the JSON objects a real management server returns (field names,
 * types and omissions as in the recorded responses: LB ports as strings, firewall ports as numbers,
 * null fields left out, `tags: []`). Pure functions of the store; nothing here mutates.
 */
import type {
  AclItemRow,
  AclListRow,
  FirewallRuleRow,
  HealthCheckRow,
  IpRow,
  JobRow,
  LbRuleRow,
  NetworkRow,
  ProjectRow,
  StickinessRow,
  TagRow,
  VmRow,
  VpcRow,
  ZoneRow
} from "./SimModel.js"
import type { Store } from "./Store.js"
import { formatDate } from "./Wire.js"

type Obj = Record<string, unknown>

const DOMAIN_ID = "e4874e10-5fdf-11ea-9a56-1e006800018c"

/** `account` or `project`/`projectid`, plus the ROOT domain. */
export const ownerFields = (s: Store, owner: string): Obj => {
  const acct = s.accounts.get(owner)
  const project = acct?.projectUuid === undefined ? undefined : s.projects.get(acct.projectUuid)
  return project === undefined
    ? { account: owner, domainid: DOMAIN_ID, domain: "ROOT" }
    : { project: project.name, projectid: project.uuid, domainid: DOMAIN_ID, domain: "ROOT" }
}

export const tagKey = (resourceType: string, uuid: string) => `${resourceType}|${uuid}`

export const renderTag = (s: Store, t: TagRow): Obj => ({
  key: t.key,
  value: t.value,
  resourcetype: t.resourceType,
  resourceid: t.resourceUuid,
  ...ownerFields(s, t.owner)
})

const tagsOf = (s: Store, resourceType: string, uuid: string): Array<Obj> => {
  const m = s.tags.get(tagKey(resourceType, uuid))
  return m === undefined ? [] : [...m.values()].map((t) => renderTag(s, t))
}

const zoneName = (s: Store, uuid: string) => s.zones.get(uuid)?.name ?? ""

export const renderZone = (s: Store, z: ZoneRow): Obj => ({
  id: z.uuid,
  name: z.name,
  dns1: "8.8.8.8",
  internaldns1: "10.147.28.6",
  networktype: "Advanced",
  securitygroupsenabled: false,
  allocationstate: "Enabled",
  localstorageenabled: false,
  tags: tagsOf(s, "Zone", z.uuid)
})

export const renderProject = (s: Store, p: ProjectRow): Obj => ({
  id: p.uuid,
  name: p.name,
  displaytext: p.name,
  domainid: DOMAIN_ID,
  domain: "ROOT",
  owner: p.members.slice(0, 1).map((account) => ({ account })),
  projectaccountname: p.accountName,
  state: p.state,
  created: formatDate(p.created),
  tags: tagsOf(s, "Project", p.uuid)
})

export const renderIp = (s: Store, ip: IpRow, admin: boolean): Obj => {
  const pub = s.zonePublicNetwork.get(ip.zoneUuid)
  const net = ip.associatedNetworkUuid === undefined ? undefined : s.networks.get(ip.associatedNetworkUuid)
  const vpc = ip.vpcUuid === undefined ? undefined : s.vpcs.get(ip.vpcUuid)
  const vm = ip.staticNatVmUuid === undefined ? undefined : s.vms.get(ip.staticNatVmUuid)
  const out: Obj = {
    id: ip.uuid,
    ipaddress: ip.address
  }
  if (ip.allocated !== undefined) out.allocated = formatDate(ip.allocated)
  out.zoneid = ip.zoneUuid
  out.zonename = zoneName(s, ip.zoneUuid)
  out.issourcenat = ip.sourceNat
  if (ip.owner !== undefined) Object.assign(out, ownerFields(s, ip.owner))
  out.forvirtualnetwork = true
  if (admin && pub !== undefined) {
    out.vlanid = pub.vlan
    out.vlanname = "vlan://untagged"
  }
  out.isstaticnat = ip.staticNatVmUuid !== undefined
  out.issystem = false
  if (vm !== undefined) {
    out.virtualmachineid = vm.uuid
    out.virtualmachinename = vm.name
    out.virtualmachinedisplayname = vm.displayname
    const nic = vm.nics.find((n) => n.networkUuid === ip.associatedNetworkUuid) ?? vm.nics[0]
    if (nic !== undefined) out.vmipaddress = nic.ip
  }
  if (net !== undefined) {
    out.associatednetworkid = net.uuid
    out.associatednetworkname = net.name
  }
  if (vpc !== undefined) {
    out.vpcid = vpc.uuid
    out.vpcname = vpc.name
  }
  if (pub !== undefined) out.networkid = pub.uuid
  out.state = ip.state
  if (pub !== undefined) out.physicalnetworkid = pub.physical
  out.tags = tagsOf(s, "PublicIpAddress", ip.uuid)
  out.isportable = false
  out.fordisplay = true
  return out
}

export const renderLb = (s: Store, r: LbRuleRow): Obj => {
  const ip = s.ips.get(r.ipUuid)
  const net = s.networks.get(r.networkUuid)
  const out: Obj = {
    id: r.uuid,
    name: r.name
  }
  if (r.description !== undefined) out.description = r.description
  Object.assign(out, {
    publicipid: r.ipUuid,
    publicip: ip?.address ?? "",
    publicport: String(r.publicPort),
    privateport: String(r.privatePort),
    algorithm: r.algorithm,
    networkid: r.networkUuid,
    cidrlist: r.cidrlist.join(","),
    ...ownerFields(s, r.owner),
    state: r.state,
    zoneid: net?.zoneUuid ?? ip?.zoneUuid ?? "",
    zonename: zoneName(s, net?.zoneUuid ?? ip?.zoneUuid ?? ""),
    protocol: r.protocol,
    tags: tagsOf(s, "LoadBalancer", r.uuid),
    fordisplay: true
  })
  return out
}

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

export const renderAclItem = (s: Store, r: AclItemRow): Obj => {
  const acl = s.aclLists.get(r.aclUuid)
  const out: Obj = { id: r.uuid, protocol: r.protocol }
  if (r.startport !== undefined) out.startport = String(r.startport)
  if (r.endport !== undefined) out.endport = String(r.endport)
  Object.assign(out, { traffictype: r.traffictype, state: r.state, cidrlist: r.cidrlist.join(",") })
  if (r.icmptype !== undefined) out.icmptype = r.icmptype
  if (r.icmpcode !== undefined) out.icmpcode = r.icmpcode
  Object.assign(out, {
    tags: tagsOf(s, "NetworkACL", r.uuid),
    aclid: r.aclUuid,
    aclname: acl?.name ?? "",
    number: r.number,
    action: r.action,
    fordisplay: true
  })
  if (r.reason !== undefined) out.reason = r.reason
  return out
}

export const renderAclList = (_s: Store, a: AclListRow): Obj => {
  const out: Obj = { id: a.uuid, name: a.name, description: a.description }
  if (a.vpcUuid !== undefined) out.vpcid = a.vpcUuid
  out.fordisplay = true
  return out
}

export const renderHealthCheck = (s: Store, lb: LbRuleRow, hcs: ReadonlyArray<HealthCheckRow>): Obj => {
  const net = s.networks.get(lb.networkUuid)
  return {
    lbruleid: lb.uuid,
    ...ownerFields(s, lb.owner),
    zoneid: net?.zoneUuid ?? "",
    healthcheckpolicy: hcs.map((h) => {
      const o: Obj = { id: h.uuid, pingpath: h.pingpath }
      if (h.description !== undefined) o.description = h.description
      Object.assign(o, {
        responsetime: h.responsetime,
        healthcheckinterval: h.interval,
        healthcheckthresshold: h.healthy,
        unhealthcheckthresshold: h.unhealthy,
        state: h.state,
        fordisplay: true
      })
      return o
    })
  }
}

export const renderStickiness = (s: Store, lb: LbRuleRow, ps: ReadonlyArray<StickinessRow>): Obj => {
  const net = s.networks.get(lb.networkUuid)
  const out: Obj = { lbruleid: lb.uuid }
  const first = ps[0]
  if (first !== undefined) {
    out.name = first.name
    if (first.description !== undefined) out.description = first.description
    out.state = first.state
  }
  Object.assign(out, ownerFields(s, lb.owner), { zoneid: net?.zoneUuid ?? "" })
  out.stickinesspolicy = ps.map((p) => {
    const o: Obj = { id: p.uuid, name: p.name, methodname: p.methodname }
    if (p.description !== undefined) o.description = p.description
    Object.assign(o, { params: { ...p.params }, state: p.state, fordisplay: true })
    return o
  })
  return out
}

const LB_CAPS = [
  ["SupportedLBIsolation", "dedicated"],
  ["SupportedLbAlgorithms", "roundrobin,leastconn,source"],
  ["SupportedProtocols", "tcp, udp, tcp-proxy"],
  ["LbSchemes", "Public"]
] as const

export const STICKINESS_METHODS: ReadonlyArray<{
  readonly methodname: string
  readonly params: ReadonlyArray<{ readonly name: string; readonly isflag: boolean }>
}> = [
  {
    methodname: "LbCookie",
    params: [
      { name: "cookie-name", isflag: false },
      { name: "mode", isflag: false },
      { name: "nocache", isflag: true },
      { name: "indirect", isflag: true },
      { name: "postonly", isflag: true },
      { name: "domain", isflag: false }
    ]
  },
  {
    methodname: "AppCookie",
    params: [
      { name: "cookie-name", isflag: false },
      { name: "length", isflag: false },
      { name: "holdtime", isflag: false },
      { name: "request-learn", isflag: true },
      { name: "prefix", isflag: true },
      { name: "mode", isflag: false }
    ]
  },
  { methodname: "SourceBased", params: [{ name: "tablesize", isflag: false }, { name: "expire", isflag: false }] }
]

const stickinessJson = JSON.stringify(
  STICKINESS_METHODS.map((m) => ({
    methodname: m.methodname,
    paramlist: m.params.map((p) => ({ paramname: p.name, required: false, isflag: p.isflag, description: " " })),
    description: `${m.methodname} stickiness method.`
  }))
)

const cap = (name: string, value: string) => ({ name, value, canchooseservicecapability: false })

/** `service[]` of listNetworks: the LB capabilities follow the offering's provider. */
export const renderServices = (s: Store, n: NetworkRow): Array<Obj> => {
  const o = s.offerings.get(n.offeringUuid)
  if (o === undefined) return []
  const vpcRouter = n.vpcUuid !== undefined
  const routerName = vpcRouter ? "VpcVirtualRouter" : "VirtualRouter"
  const out: Array<Obj> = []
  for (const svc of o.services) {
    if (svc === "Lb") {
      const provider = o.lbProvider
      // The real virtual router advertises udp although it refuses UDP rules (cloudstack PR #4501).
      const caps: Array<Obj> = LB_CAPS.map(([k, v]) => cap(k, v))
      caps.push(cap("SupportedStickinessMethods", stickinessJson))
      if (provider?.supportsHealthCheck === true) caps.push(cap("HealthCheckPolicy", "true"))
      out.push({ name: "Lb", capability: caps, provider: [{ name: provider?.name ?? routerName }] })
    } else if (svc === "Firewall") {
      out.push({
        name: "Firewall",
        capability: [cap("SupportedProtocols", "tcp,udp,icmp"), cap("SupportedTrafficDirection", "ingress, egress")],
        provider: [{ name: routerName }]
      })
    } else if (svc === "SourceNat") {
      out.push({ name: "SourceNat", capability: [cap("SupportedSourceNatTypes", "peraccount")], provider: [{ name: routerName }] })
    } else {
      out.push({ name: svc, provider: [{ name: routerName }] })
    }
  }
  return out
}

export const renderNetwork = (s: Store, n: NetworkRow): Obj => {
  const o = s.offerings.get(n.offeringUuid)
  const vpc = n.vpcUuid === undefined ? undefined : s.vpcs.get(n.vpcUuid)
  const acl = n.aclUuid === undefined ? undefined : s.aclLists.get(n.aclUuid)
  const out: Obj = {
    id: n.uuid,
    name: n.name,
    displaytext: n.name,
    broadcastdomaintype: "Vlan",
    traffictype: "Guest",
    gateway: n.gateway,
    netmask: n.netmask,
    cidr: n.cidr,
    zoneid: n.zoneUuid,
    zonename: zoneName(s, n.zoneUuid),
    networkofferingid: n.offeringUuid,
    networkofferingname: o?.name ?? "",
    networkofferingdisplaytext: o?.displaytext ?? "",
    networkofferingconservemode: o?.conserveMode ?? true,
    networkofferingavailability: "Optional",
    issystem: false,
    state: "Implemented",
    related: n.uuid,
    dns1: "8.8.8.8",
    type: n.type,
    acltype: n.type === "Shared" ? "Domain" : "Account",
    ...ownerFields(s, n.owner),
    service: renderServices(s, n),
    networkdomain: "cs.simulator",
    physicalnetworkid: s.zonePublicNetwork.get(n.zoneUuid)?.physical ?? "",
    restartrequired: false,
    specifyipranges: n.type === "Shared",
    canusefordeploy: true,
    ispersistent: false,
    tags: tagsOf(s, "Network", n.uuid),
    details: {},
    displaynetwork: true,
    strechedl2subnet: false,
    redundantrouter: false
  }
  if (n.ip6cidr !== undefined) out.ip6cidr = n.ip6cidr
  if (vpc !== undefined) {
    out.vpcid = vpc.uuid
    out.vpcname = vpc.name
  }
  if (acl !== undefined) {
    out.aclid = acl.uuid
    out.aclname = acl.name
  }
  return out
}

export const renderVpc = (s: Store, v: VpcRow): Obj => ({
  id: v.uuid,
  name: v.name,
  displaytext: v.name,
  state: "Enabled",
  zoneid: v.zoneUuid,
  zonename: zoneName(s, v.zoneUuid),
  service: [
    { name: "Lb", provider: [{ name: "VpcVirtualRouter" }] },
    { name: "NetworkACL", provider: [{ name: "VpcVirtualRouter" }] },
    { name: "SourceNat", provider: [{ name: "VpcVirtualRouter" }] }
  ],
  cidr: v.cidr,
  vpcofferingid: "8142b164-0fa2-40c6-9067-2a90ae526df5",
  vpcofferingname: "Default VPC offering",
  created: formatDate(v.created),
  ...ownerFields(s, v.owner),
  network: [...s.networks.values()].filter((n) => n.vpcUuid === v.uuid).map((n) => renderNetwork(s, n)),
  restartrequired: false,
  networkdomain: "cs.simulator",
  tags: tagsOf(s, "Vpc", v.uuid),
  fordisplay: true,
  distributedvpcrouter: false,
  regionlevelvpc: false,
  redundantvpcrouter: false,
  hasannotations: false
})

const userOf = (s: Store, owner: string): { readonly username: string; readonly userid: string } => {
  for (const c of s.keys.values()) if (c.account.name === owner) return { username: c.account.name, userid: c.userUuid }
  return { username: owner, userid: "" }
}

/** Statistics fields, rendered once a VM has run (a freshly deployed VM has none yet). */
const STATS: Obj = {
  cpuused: "0%",
  networkkbsread: 0,
  networkkbswrite: 0,
  diskkbsread: 0,
  diskkbswrite: 0,
  memorykbs: 0,
  memoryintfreekbs: 0,
  memorytargetkbs: 0,
  diskioread: 0,
  diskiowrite: 0
}

export interface VmRenderOptions {
  /** The VM job's id, rendered with `jobstatus: 0` as in a VM job's result. */
  readonly jobid?: string
  /** The deploy result: boot fields instead of statistics. */
  readonly deployed?: boolean
}

export const renderVm = (s: Store, vm: VmRow, options: VmRenderOptions = {}): Obj => {
  const so = s.serviceOfferings.get(vm.serviceOfferingUuid)
  const tpl = s.templates.get(vm.templateUuid)
  const ip = staticNatIpOf(s, vm)
  const running = vm.state === "Running"
  const out: Obj = {
    id: vm.uuid,
    name: vm.name,
    displayname: vm.displayname,
    ...ownerFields(s, vm.owner),
    ...userOf(s, vm.owner),
    created: formatDate(vm.created),
    state: vm.state,
    haenable: false,
    zoneid: vm.zoneUuid,
    zonename: zoneName(s, vm.zoneUuid)
  }
  if (running) {
    out.hostid = "8e8e68e7-19ea-4a78-bbdb-6e79d27729c9"
    out.hostname = `SimulatedAgent.${vm.zoneUuid}`
  }
  Object.assign(out, {
    templateid: vm.templateUuid,
    templatename: tpl?.name ?? "",
    templatedisplaytext: tpl?.name ?? "",
    passwordenabled: false,
    serviceofferingid: vm.serviceOfferingUuid,
    serviceofferingname: so?.name ?? "",
    cpunumber: so?.cpunumber ?? 1,
    cpuspeed: so?.cpuspeed ?? 1000,
    memory: so?.memory ?? 1024,
    ...(options.deployed === true ? {} : STATS),
    guestosid: "e53f7606-5fdf-11ea-9a56-1e006800018c",
    rootdeviceid: 0,
    rootdevicetype: "ROOT",
    securitygroup: [],
    nic: vm.nics.map((nic) => {
      const net = s.networks.get(nic.networkUuid)
      const o: Obj = {
        id: nic.uuid,
        networkid: nic.networkUuid,
        networkname: net?.name ?? "",
        netmask: net?.netmask ?? "255.255.255.0",
        gateway: net?.gateway ?? "",
        ipaddress: nic.ip
      }
      if (nic.ip6 !== undefined) {
        o.ip6address = nic.ip6
        if (net?.ip6cidr !== undefined) o.ip6cidr = net.ip6cidr
      }
      // The VLAN URIs belong to an implemented NIC: a stopped VM's NICs have none.
      if (running) Object.assign(o, { isolationuri: "vlan://1994", broadcasturi: "vlan://1994" })
      Object.assign(o, {
        traffictype: "Guest",
        type: net?.type ?? "Isolated",
        isdefault: nic.isdefault,
        macaddress: nic.mac,
        secondaryip: [],
        extradhcpoption: []
      })
      if (ip !== undefined && ip.associatedNetworkUuid === nic.networkUuid) {
        o.publicip = ip.address
        o.publicipid = ip.uuid
      }
      return o
    }),
    hypervisor: "Simulator",
    instancename: `i-2-${vm.internalId}-VM`,
    details: {},
    affinitygroup: [],
    displayvm: true,
    isdynamicallyscalable: false,
    ostypeid: "e53f7606-5fdf-11ea-9a56-1e006800018c",
    osdisplayname: tpl?.ostype ?? "",
    tags: tagsOf(s, "UserVm", vm.uuid)
  })
  if (ip !== undefined) {
    out.publicip = ip.address
    out.publicipid = ip.uuid
  }
  if (options.deployed === true) {
    out.bootmode = "legacy"
    out.boottype = "Bios"
  }
  if (options.jobid !== undefined) {
    out.jobid = options.jobid
    out.jobstatus = 0
  }
  return out
}

/** The static-NAT IP of a VM, if any (indexed: listVirtualMachines renders many VMs). */
export const staticNatIpOf = (s: Store, vm: VmRow): IpRow | undefined => {
  const ipUuid = s.staticNatByVm.get(vm.uuid)
  return ipUuid === undefined ? undefined : s.ips.get(ipUuid)
}

export const renderJob = (j: JobRow): Obj => {
  const out: Obj = {
    accountid: j.accountUuid,
    userid: j.userUuid,
    cmd: j.cmdClass,
    jobstatus: j.status,
    jobprocstatus: 0,
    jobresultcode: j.resultCode,
    jobresulttype: "object"
  }
  if (j.status !== 0) out.jobresult = j.result
  if (j.instanceType !== undefined) out.jobinstancetype = j.instanceType
  if (j.instanceUuid !== undefined) out.jobinstanceid = j.instanceUuid
  out.created = formatDate(j.created)
  if (j.completed !== undefined) out.completed = formatDate(j.completed)
  out.jobid = j.uuid
  return out
}
