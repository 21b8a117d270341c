/**
 * The simulator's public IP addresses: listPublicIpAddresses, associateIpAddress and
 * disassociateIpAddress (jobs on the network's or VPC's queue; a released IP loses its rules),
 * enableStaticNat and disableStaticNat, and their rendering.
 */
import { Either } from "effect"
import { capacityFail, checkAccess, isAdmin } from "../Access.js"
import { halfReleaseIp, maybeUnassociate, releaseIp } from "../Cascades.js"
import { conflict, invalid, permissionDenied } from "../Fail.js"
import type { Commands, Handler, Obj } from "../Handler.js"
import { ipv4ToInt } from "../Ipv4.js"
import { defaultJobFailureText, failed, networkKey, ok, submit, SUCCESS } from "../Jobs.js"
import { keywordMatch, listOf, scope, tagFilter } from "../ListQuery.js"
import { formatDate, ownerFields, tagsOf, zoneName } from "../Render.js"
import type { IpRow } from "../SimModel.js"
import type { Store } from "../Store.js"
import { nicIn } from "./VirtualMachines.js"

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

const ipOrder = (a: IpRow, b: IpRow) => (ipv4ToInt(a.address) ?? 0) - (ipv4ToInt(b.address) ?? 0)

const listPublicIpAddresses: Handler = (c, p) =>
  Either.gen(function*() {
    const { id, zone, assoc, vpc } = yield* Either.all({
      id: p.optUuid("id", c.s.ips),
      zone: p.optUuid("zoneid", c.s.zones),
      assoc: p.optUuid("associatednetworkid", c.s.networks),
      vpc: p.optUuid("vpcid", c.s.vpcs)
    })
    const sc = yield* scope(c, p, id !== undefined)
    const tf = yield* tagFilter(c, p, "PublicIpAddress")
    const allocatedOnly = p.optBool("allocatedonly") ?? true
    const address = p.get("ipaddress")
    const keyword = address === undefined ? p.get("keyword") : undefined
    const sourceNat = p.optBool("issourcenat")
    const staticNat = p.optBool("isstaticnat")
    const forLb = p.optBool("forloadbalancing")
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
    return yield* listOf(p, "publicipaddress", rows, (ip) => renderIp(c.s, ip, admin))
  })

const associateIpAddress: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const { net, vpc, zoneParam, project } = yield* Either.all({
      net: p.optUuid("networkid", s.networks),
      vpc: p.optUuid("vpcid", s.vpcs),
      zoneParam: p.optUuid("zoneid", s.zones),
      project: p.optUuid("projectid", s.projects)
    })
    if (net === undefined && vpc === undefined && zoneParam === undefined) {
      return yield* Either.left(invalid(
        "Unable to figure out zone to assign IP to. Please specify either zoneId, or networkId, or vpcId in the call"
      ))
    }
    let owner = c.caller.account.name
    if (project !== undefined) {
      if (!isAdmin(c) && !project.members.includes(c.caller.account.name)) {
        return yield* Either.left(
          permissionDenied(`Account ${c.caller.account.name} can't access project id=${project.uuid}`)
        )
      }
      if (project.state !== "Active") {
        return yield* Either.left(permissionDenied(
          `Can't add resources to the project id=${project.uuid} in state=${project.state} as it's no longer active`
        ))
      }
      owner = project.accountName
    }
    let network = net
    if (network === undefined && vpc === undefined && zoneParam !== undefined) {
      const mine = [...s.networks.values()].filter((n) =>
        n.zoneUuid === zoneParam.uuid && n.owner === owner && n.type === "Isolated" && n.vpcUuid === undefined
      )
      if (mine.length === 0) {
        return yield* Either.left(invalid(`Account ${owner} doesn't have virtual networks in zone ${zoneParam.name}`))
      }
      if (mine.length > 1) return yield* Either.left(invalid("Account has more than one isolated network in the zone"))
      network = mine[0]
    }
    if (network !== undefined) {
      yield* checkAccess(c, network.owner, network.uuid)
      if (network.type === "Shared") {
        return yield* Either.left(invalid(`Can't allocate public IP for the shared network id=${network.uuid}`))
      }
      if (project === undefined) owner = network.owner
    }
    if (vpc !== undefined) {
      yield* checkAccess(c, vpc.owner, vpc.uuid)
      if (project === undefined) owner = vpc.owner
    }
    const zoneUuid = network?.zoneUuid ?? vpc?.zoneUuid ?? zoneParam?.uuid ?? ""
    const wanted = p.get("ipaddress")
    let ip: IpRow | undefined
    if (wanted !== undefined) {
      ip = s.ipsByAddress.get(wanted)
      if (ip === undefined || ip.zoneUuid !== zoneUuid || ip.state !== "Free") {
        return yield* Either.left(
          capacityFail(c, `Insufficient address capacity: ip address ${wanted} is not free in zone ${zoneUuid}`)
        )
      }
    } else {
      for (const candidate of s.ips.values()) {
        if (candidate.state === "Free" && candidate.zoneUuid === zoneUuid) {
          ip = candidate
          break
        }
      }
      if (ip === undefined) {
        return yield* Either.left(
          capacityFail(c, `Insufficient address capacity: no free public IP in zone ${zoneUuid}`)
        )
      }
    }
    const row = ip
    // With a tier's networkid the IP belongs to the tier's VPC and is associated with the tier at once.
    Object.assign(row, {
      state: "Allocating",
      owner,
      associatedNetworkUuid: vpc === undefined ? network?.uuid : undefined,
      vpcUuid: vpc?.uuid ?? network?.vpcUuid,
      sourceNat: false,
      allocated: c.now
    })
    return submit(c, {
      queueKey: vpc !== undefined ? `vpc:${vpc.uuid}` : networkKey(network?.uuid ?? zoneUuid),
      instanceType: "IpAddress",
      instanceUuid: row.uuid,
      createdId: row.uuid,
      execute: () => {
        // Released while its association waited in the queue: nothing is left to associate.
        if (row.state !== "Allocating") return failed(530, defaultJobFailureText("associateIpAddress"))
        // The real job renders its answer before the state change commits (recorded: Allocating).
        const result = { ipaddress: renderIp(s, row, isAdmin(c)) }
        row.state = "Allocated"
        return ok(result)
      },
      onFailure: () => {
        if (row.state === "Allocating") releaseIp(s, row)
      }
    })
  })

const disassociateIpAddress: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const hasId = p.has("id")
    const hasAddr = p.has("ipaddress")
    if (!hasId && !hasAddr) return yield* Either.left(invalid("Please specify either IP address or IP address ID"))
    if (hasId && hasAddr) {
      return yield* Either.left(invalid("id parameter is mutually exclusive with ipaddress parameter"))
    }
    const ip = hasId ? yield* p.reqUuid("id", s.ips) : s.ipsByAddress.get(p.get("ipaddress") ?? "")
    if (ip === undefined) return yield* Either.left(invalid(`Unable to find IP address ${p.get("ipaddress") ?? ""}`))
    const row = ip
    if (row.state === "Free" || row.owner === undefined) {
      return yield* Either.left(invalid(`Unable to find ip address by id=${row.uuid}`))
    }
    yield* checkAccess(c, row.owner, row.uuid)
    // The state changes inside the job (a queued release still shows the IP Allocated), as the server's.
    return submit(c, {
      queueKey: row.associatedNetworkUuid !== undefined
        ? networkKey(row.associatedNetworkUuid)
        : `vpc:${row.vpcUuid ?? row.uuid}`,
      instanceType: "IpAddress",
      instanceUuid: row.uuid,
      execute: () => {
        if (row.sourceNat) {
          return failed(530, "ip address is used for source nat purposes and can not be disassociated.")
        }
        releaseIp(s, row)
        return SUCCESS
      },
      // Refused for source NAT before anything changed; otherwise the rules went and the IP is Releasing.
      onFailure: () => {
        if (!row.sourceNat && row.state !== "Free") halfReleaseIp(s, row)
      }
    })
  })

const enableStaticNat: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const { ip, vm, netParam } = yield* Either.all({
      ip: p.reqUuid("ipaddressid", s.ips),
      vm: p.reqUuid("virtualmachineid", s.vms),
      netParam: p.optUuid("networkid", s.networks)
    })
    if (ip.owner === undefined || ip.state !== "Allocated") {
      return yield* Either.left(invalid(`Unable to enable static NAT; ip id=${ip.uuid} is not allocated`))
    }
    yield* checkAccess(c, ip.owner, ip.uuid)
    yield* checkAccess(c, vm.owner, vm.uuid)
    if (ip.sourceNat) {
      return yield* Either.left(invalid(`Can't enable static, ip address ${ip.address} is a sourceNat ip address`))
    }
    if (ip.staticNatVmUuid !== undefined) {
      return yield* Either.left(
        invalid(`Failed to enable static nat for the ip address id=${ip.uuid} as it's already assigned to a vm`)
      )
    }
    if (s.staticNatByVm.has(vm.uuid)) return yield* Either.left(invalid(`VM ${vm.uuid} already has a static NAT ip`))
    for (const ruleUuid of s.rulesByIp.get(ip.uuid) ?? []) {
      if (s.lbRules.has(ruleUuid)) {
        return yield* Either.left(conflict(`There is already firewall rule specified for the ip address id=${ip.uuid}`))
      }
    }
    const networkUuid = ip.associatedNetworkUuid ?? netParam?.uuid
    if (networkUuid === undefined) {
      return yield* Either.left(invalid(`IP address ID=${ip.uuid} is not associated with any network`))
    }
    if (ip.associatedNetworkUuid === undefined && netParam?.vpcUuid !== ip.vpcUuid) {
      return yield* Either.left(invalid(`Ip address ${ip.address} is not assigned to the network ${networkUuid}`))
    }
    if (nicIn(vm, networkUuid) === undefined) {
      return yield* Either.left(invalid(`VM ${vm.uuid} doesn't belong to the network ${networkUuid}`))
    }
    if (vm.state === "Destroyed" || vm.state === "Expunging") {
      return yield* Either.left(invalid(`Invalid state of vm ${vm.uuid}`))
    }
    ip.associatedNetworkUuid = networkUuid
    ip.staticNatVmUuid = vm.uuid
    s.staticNatByVm.set(vm.uuid, ip.uuid)
    return { success: true }
  })

const disableStaticNat: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const ip = yield* p.reqUuid("ipaddressid", s.ips)
    yield* checkAccess(c, ip.owner, ip.uuid)
    if (ip.staticNatVmUuid === undefined) {
      return yield* Either.left(invalid("Specified IP address id is not associated with any vm Id"))
    }
    return submit(c, {
      queueKey: networkKey(ip.associatedNetworkUuid ?? ip.uuid),
      instanceType: "IpAddress",
      instanceUuid: ip.uuid,
      execute: () => {
        if (ip.staticNatVmUuid !== undefined) s.staticNatByVm.delete(ip.staticNatVmUuid)
        ip.staticNatVmUuid = undefined
        maybeUnassociate(s, ip)
        return SUCCESS
      }
    })
  })

export const commands: Commands = {
  listPublicIpAddresses,
  associateIpAddress,
  disassociateIpAddress,
  enableStaticNat,
  disableStaticNat
}
