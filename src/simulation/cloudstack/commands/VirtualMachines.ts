/**
 * The simulator's virtual machines as read: listVirtualMachines and the VM rendering every VM answer
 * shares (statistics, NICs, static NAT). Deploy, start, stop and destroy are
 * VirtualMachineLifecycle.ts; templates and service offerings are VirtualMachineCatalogue.ts.
 */
import { Either } from "effect"
import { isAdmin } from "../Access.js"
import { invalid } from "../Fail.js"
import type { Commands, Handler, Obj } from "../Handler.js"
import { keywordMatch, listOf, scope, tagFilter } from "../ListQuery.js"
import { invalidUuid } from "../Params.js"
import { formatDate, ownerFields, tagsOf, zoneName } from "../Render.js"
import type { IpRow, NicRow, VmRow } from "../SimModel.js"
import type { Store } from "../Store.js"

/** The NIC of `vm` on a network, if it has one. */
export const nicIn = (vm: VmRow, networkUuid: string): NicRow | undefined =>
  vm.nics.find((n) => n.networkUuid === networkUuid)

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

const VM_DETAILS = new Set([
  "all",
  "group",
  "nics",
  "stats",
  "secgrp",
  "tmpl",
  "servoff",
  "diskoff",
  "backoff",
  "iso",
  "volume",
  "min",
  "affgrp"
])

const listVirtualMachines: Handler = (c, p) =>
  Either.gen(function*() {
    if (p.has("id") && p.has("ids")) {
      return yield* Either.left(invalid("Specify either id or ids but not both parameters"))
    }
    const id = yield* p.optUuid("id", c.s.vms)
    const ids = p.list("ids")
    for (const i of ids) if (!c.s.vms.has(i)) return yield* Either.left(invalidUuid("ids", i, c.command))
    const { zone, net, vpc } = yield* Either.all({
      zone: p.optUuid("zoneid", c.s.zones),
      net: p.optUuid("networkid", c.s.networks),
      vpc: p.optUuid("vpcid", c.s.vpcs)
    })
    const details = p.list("details")
    for (const d of details) {
      if (!VM_DETAILS.has(d.toLowerCase())) {
        return yield* Either.left(
          invalid(
            `The details parameter contains a non permitted value. The allowed values are ${[...VM_DETAILS].join(", ")}`
          )
        )
      }
    }
    const sc = yield* scope(c, p, id !== undefined || ids.length > 0)
    const tf = yield* tagFilter(c, p, "UserVm")
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
      if (keyword !== undefined && !keywordMatch(keyword, vm.name, vm.displayname, ...vm.nics.map((n) => n.ip))) {
        continue
      }
      if (!sc(vm.owner)) continue
      if (tf !== undefined && !tf(vm.uuid)) continue
      rows.push(vm)
    }
    const all = details.length === 0 || details.some((d) => d.toLowerCase() === "all")
    const withNics = all || details.some((d) => d.toLowerCase() === "nics")
    return yield* listOf(p, "virtualmachine", rows, (vm) => {
      const out = renderVm(c.s, vm)
      if (!withNics) delete out.nic
      return out
    })
  })

export const commands: Commands = {
  listVirtualMachines
}
