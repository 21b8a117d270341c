/**
 * The simulator's guest networks and VPCs: listNetworks, listVPCs and their rendering, with the
 * services and LB capabilities a network's offering gives it. Read-only over the store.
 */
import { Either } from "effect"
import type { Commands, Ctx, Handler, Obj } from "../Handler.js"
import { keywordMatch, listOf, scope, tagFilter } from "../ListQuery.js"
import type { Params } from "../Params.js"
import { formatDate, ownerFields, tagsOf, zoneName } from "../Render.js"
import type { NetworkRow, VpcRow } from "../SimModel.js"
import type { Store } from "../Store.js"
import { STICKINESS_METHODS } from "./LoadBalancerPolicies.js"

const LB_CAPS = [
  ["SupportedLBIsolation", "dedicated"],
  ["SupportedLbAlgorithms", "roundrobin,leastconn,source"],
  ["SupportedProtocols", "tcp, udp, tcp-proxy"],
  ["LbSchemes", "Public"]
] as const

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
      out.push({
        name: "SourceNat",
        capability: [cap("SupportedSourceNatTypes", "peraccount")],
        provider: [{ name: routerName }]
      })
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

const networkVisible = (c: Ctx, p: Params, byId: boolean) =>
  Either.map(scope(c, p, byId), (sc) =>
  // Shared networks (acltype Domain) are usable by every account of the domain.
  (n: NetworkRow) => (n.type === "Shared" && p.get("projectid") === undefined) || sc(n.owner))

const listNetworks: Handler = (c, p) =>
  Either.gen(function*() {
    const { id, zone, vpc } = yield* Either.all({
      id: p.optUuid("id", c.s.networks),
      zone: p.optUuid("zoneid", c.s.zones),
      vpc: p.optUuid("vpcid", c.s.vpcs)
    })
    const visible = yield* networkVisible(c, p, id !== undefined)
    const tf = yield* tagFilter(c, p, "Network")
    const name = p.get("name")
    const type = p.get("type")?.toLowerCase()
    const forVpc = p.optBool("forvpc")
    const rows = [...c.s.networks.values()].filter((n) =>
      (id === undefined || n === id) && (zone === undefined || n.zoneUuid === zone.uuid) &&
      (vpc === undefined || n.vpcUuid === vpc.uuid) && (name === undefined || n.name === name) &&
      (type === undefined || n.type.toLowerCase() === type) &&
      (forVpc === undefined || (n.vpcUuid !== undefined) === forVpc) &&
      keywordMatch(p.get("keyword"), n.name) && visible(n) && (tf === undefined || tf(n.uuid))
    )
    return yield* listOf(p, "network", rows, (n) => renderNetwork(c.s, n))
  })

const listVPCs: Handler = (c, p) =>
  Either.gen(function*() {
    const { id, zone } = yield* Either.all({ id: p.optUuid("id", c.s.vpcs), zone: p.optUuid("zoneid", c.s.zones) })
    const sc = yield* scope(c, p, id !== undefined)
    const tf = yield* tagFilter(c, p, "Vpc")
    const name = p.get("name")
    const rows = [...c.s.vpcs.values()].filter((v) =>
      (id === undefined || v === id) && (zone === undefined || v.zoneUuid === zone.uuid) &&
      (name === undefined || v.name === name) && keywordMatch(p.get("keyword"), v.name) && sc(v.owner) &&
      (tf === undefined || tf(v.uuid))
    )
    return yield* listOf(p, "vpc", rows, (v) => renderVpc(c.s, v))
  })

export const commands: Commands = { listNetworks, listVPCs }
