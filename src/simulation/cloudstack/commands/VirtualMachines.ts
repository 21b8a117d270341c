/**
 * The simulator's virtual machines: listVirtualMachines, listTemplates and listServiceOfferings,
 * deployVirtualMachine (guest IPs allocated from each network's CIDR) and start, stop and destroy
 * (jobs queued per VM; a destroyed VM leaves its LB rules and static NAT), and their rendering.
 */
import { Either } from "effect"
import { canAccess, capacityFail, checkAccess, isAdmin } from "../Access.js"
import { deleteTagsOf, removeVmFromLbs } from "../Cascades.js"
import { type Fail, invalid, permissionDenied } from "../Fail.js"
import type { Commands, Ctx, Handler, Obj } from "../Handler.js"
import { intToIpv4, ipv4ToInt } from "../Ipv4.js"
import { failed, ok, submit } from "../Jobs.js"
import { keywordMatch, listOf, scope, tagFilter } from "../ListQuery.js"
import { invalidUuid, type Params } from "../Params.js"
import { formatDate, ownerFields, tagsOf, zoneName } from "../Render.js"
import type { IpRow, NetworkRow, NicRow, VmRow } from "../SimModel.js"
import { newMac, nextInternalId, nextUuid, type Store } from "../Store.js"

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

const listTemplates: Handler = (c, p) =>
  Either.gen(function*() {
    const { id } = yield* Either.all({ filter: p.required("templatefilter"), id: p.optUuid("id", c.s.templates) })
    const name = p.get("name")
    const zones = [...c.s.zones.values()]
    const rows = [...c.s.templates.values()].filter((t) =>
      (id === undefined || t === id) && (name === undefined || t.name === name) &&
      keywordMatch(p.get("keyword"), t.name)
    )
    return yield* listOf(p, "template", rows, (t) => ({
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
  })

const listServiceOfferings: Handler = (c, p) =>
  Either.flatMap(p.optUuid("id", c.s.serviceOfferings), (id) => {
    const name = p.get("name")
    const rows = [...c.s.serviceOfferings.values()].filter((o) =>
      (id === undefined || o === id) && (name === undefined || o.name === name) &&
      keywordMatch(p.get("keyword"), o.name)
    )
    return listOf(p, "serviceoffering", rows, (o) => ({
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
  })

const freeGuestIp = (s: Store, net: NetworkRow): string | undefined => {
  const used = new Set<string>([net.gateway])
  for (const vm of s.vms.values()) for (const nic of vm.nics) if (nic.networkUuid === net.uuid) used.add(nic.ip)
  const base = ipv4ToInt(net.cidr.split("/")[0] ?? "") ?? 0
  const size = 2 ** (32 - Number(net.cidr.split("/")[1] ?? "24"))
  for (let i = 2; i < size - 1; i++) {
    const candidate = intToIpv4(base + i)
    if (!used.has(candidate)) return candidate
  }
  return undefined
}

const deployVirtualMachine: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const { zone, so, tpl, project, netIds } = yield* Either.all({
      zone: p.reqUuid("zoneid", s.zones),
      so: p.reqUuid("serviceofferingid", s.serviceOfferings),
      tpl: p.reqUuid("templateid", s.templates),
      project: p.optUuid("projectid", s.projects),
      netIds: p.uuids("networkids", s.networks)
    })
    if (netIds.length === 0) {
      return yield* Either.left(invalid("Can't deploy VM in advanced zone without networks: specify networkids"))
    }
    let owner = c.caller.account.name
    if (project !== undefined) {
      if (!isAdmin(c) && !project.members.includes(owner)) {
        return yield* Either.left(permissionDenied(`Account ${owner} can't access project id=${project.uuid}`))
      }
      owner = project.accountName
    }
    const nics: Array<NicRow> = []
    for (const [i, netId] of netIds.entries()) {
      const net = s.networks.get(netId)
      if (net === undefined) return yield* Either.left(invalidUuid("networkids", netId, c.command))
      if (net.type !== "Shared" && !canAccess(c, net.owner)) {
        return yield* Either.left(
          permissionDenied(`Account ${c.caller.account.name} does not have permission to use network ${net.uuid}`)
        )
      }
      const wanted = i === 0 ? p.get("ipaddress") : undefined
      const ip = wanted ?? freeGuestIp(s, net)
      if (ip === undefined) {
        return yield* Either.left(capacityFail(c, `Insufficient address capacity in network ${net.uuid}`))
      }
      nics.push({
        uuid: nextUuid(s),
        networkUuid: net.uuid,
        ip,
        ip6: undefined,
        isdefault: i === 0,
        mac: newMac(s.counter)
      })
    }
    const uuid = nextUuid(s)
    const name = p.get("name") ?? `VM-${uuid}`
    const vm: VmRow = {
      uuid,
      internalId: nextInternalId(s),
      name,
      displayname: p.get("displayname") ?? name,
      zoneUuid: zone.uuid,
      owner,
      state: "Starting",
      serviceOfferingUuid: so.uuid,
      templateUuid: tpl.uuid,
      nics,
      created: c.now
    }
    s.vms.set(vm.uuid, vm)
    const start = p.optBool("startvm") ?? true
    let jobid = ""
    const answer = submit(c, {
      queueKey: `vm:${vm.uuid}`,
      instanceType: "VirtualMachine",
      instanceUuid: vm.uuid,
      createdId: vm.uuid,
      execute: () => {
        vm.state = start ? "Running" : "Stopped"
        return ok({ virtualmachine: renderVm(s, vm, { jobid, deployed: true }) })
      },
      onFailure: () => {
        vm.state = "Destroyed"
      }
    })
    jobid = typeof answer.jobid === "string" ? answer.jobid : ""
    return answer
  })

/** A VM state change as a job on the VM's queue; `run` answers the job's failure text, if any. */
const vmJob = (c: Ctx, p: Params, run: (vm: VmRow) => string | undefined): Either.Either<Obj, Fail> =>
  Either.gen(function*() {
    const vm = yield* p.reqUuid("id", c.s.vms)
    yield* checkAccess(c, vm.owner, vm.uuid)
    let jobid = ""
    const answer = submit(c, {
      queueKey: `vm:${vm.uuid}`,
      instanceType: "VirtualMachine",
      instanceUuid: vm.uuid,
      execute: () => {
        const error = run(vm)
        return error === undefined ? ok({ virtualmachine: renderVm(c.s, vm, { jobid }) }) : failed(431, error)
      }
    })
    jobid = typeof answer.jobid === "string" ? answer.jobid : ""
    return answer
  })

const startVirtualMachine: Handler = (c, p) =>
  vmJob(c, p, (vm) => {
    if (vm.state === "Destroyed" || vm.state === "Expunging") {
      return `Unable to start VM ${vm.uuid} in state ${vm.state}`
    }
    vm.state = "Running"
    return undefined
  })

const stopVirtualMachine: Handler = (c, p) =>
  vmJob(c, p, (vm) => {
    if (vm.state === "Destroyed" || vm.state === "Expunging") return `Unable to stop VM ${vm.uuid} in state ${vm.state}`
    vm.state = "Stopped"
    return undefined
  })

const destroyVirtualMachine: Handler = (c, p) => {
  const expunge = p.optBool("expunge") === true
  return vmJob(c, p, (vm) => {
    if (vm.state === "Expunging") return `Unable to destroy VM ${vm.uuid} in state ${vm.state}`
    vm.state = expunge ? "Expunging" : "Destroyed"
    removeVmFromLbs(c.s, vm)
    if (expunge) deleteTagsOf(c.s, "UserVm", vm.uuid)
    return undefined
  })
}

export const commands: Commands = {
  listVirtualMachines,
  listTemplates,
  listServiceOfferings,
  deployVirtualMachine,
  startVirtualMachine,
  stopVirtualMachine,
  destroyVirtualMachine
}
