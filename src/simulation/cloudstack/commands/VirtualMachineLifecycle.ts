/**
 * The simulator's VM lifecycle: deployVirtualMachine (guest IPs allocated from each network's CIDR)
 * and start, stop and destroy (jobs queued per VM; a destroyed VM leaves its LB rules and static
 * NAT). Listing and rendering are VirtualMachines.ts.
 */
import { Either } from "effect"
import { canAccess, capacityFail, checkAccess, isAdmin } from "../Access.js"
import { deleteTagsOf, removeVmFromLbs } from "../Cascades.js"
import { type Fail, invalid, permissionDenied } from "../Fail.js"
import type { Commands, Ctx, Handler, Obj } from "../Handler.js"
import { intToIpv4, ipv4ToInt } from "../Ipv4.js"
import { failed, ok, submit } from "../Jobs.js"
import { invalidUuid, type Params } from "../Params.js"
import type { NetworkRow, NicRow, VmRow } from "../SimModel.js"
import { newMac, nextInternalId, nextUuid, type Store } from "../Store.js"
import { renderVm } from "./VirtualMachines.js"

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
  deployVirtualMachine,
  startVirtualMachine,
  stopVirtualMachine,
  destroyVirtualMachine
}
