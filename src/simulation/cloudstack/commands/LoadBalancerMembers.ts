/**
 * The simulator's load balancer rule membership: listLoadBalancerRuleInstances (the rule's VMs, or
 * the VMs that could join it) and assignTo/removeFromLoadBalancerRule, whose job on the rule's
 * network queue changes the members. The rules themselves are LoadBalancers.ts.
 */
import { Either } from "effect"
import { canAccess } from "../Access.js"
import { setLbStateFromMembers } from "../Cascades.js"
import { type Fail, invalid } from "../Fail.js"
import type { Commands, Ctx, Handler, Obj } from "../Handler.js"
import { failed, networkKey, submit, SUCCESS } from "../Jobs.js"
import { invalidUuid, type Params } from "../Params.js"
import type { LbRuleRow, VmRow } from "../SimModel.js"
import type { JobOutcome } from "../Store.js"
import { lbForChange } from "./LoadBalancers.js"
import { nicIn, renderVm } from "./VirtualMachines.js"

const listLoadBalancerRuleInstances: Handler = (c, p) =>
  Either.map(p.reqUuid("id", c.s.lbRules), (lb) => {
    const applied = p.optBool("applied") ?? true
    const lbvmips = p.optBool("lbvmips") === true
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
        lbrulevmidip: vms.map((vm) => ({
          lbvmipaddresses: [...(lb.members.get(vm.uuid) ?? [])],
          loadbalancerruleinstance: render(vm)
        }))
      }
      : { count: vms.length, loadbalancerruleinstance: vms.map(render) }
  })

interface Mapping {
  readonly vm: VmRow
  readonly ip: string | undefined
}

const mappingsOf = (c: Ctx, p: Params): Either.Either<ReadonlyArray<Mapping>, Fail> =>
  Either.gen(function*() {
    const { ids, map } = yield* Either.all({ ids: p.uuids("virtualmachineids", c.s.vms), map: p.map("vmidipmap") })
    const out: Array<Mapping> = []
    for (const id of ids) {
      const vm = c.s.vms.get(id)
      if (vm !== undefined) out.push({ vm, ip: undefined })
    }
    for (const e of map) {
      const id = e.get("vmid") ?? ""
      const vm = c.s.vms.get(id)
      if (vm === undefined) return yield* Either.left(invalidUuid("vmidipmap", id, c.command))
      out.push({ vm, ip: e.get("vmip") })
    }
    return out
  })

/**
 * assign/removeFromLoadBalancerRule: checks the rule, access and VM mappings in the server's order,
 * then runs `execute` as a job on the rule's network queue.
 */
const membershipJob = (
  c: Ctx,
  p: Params,
  execute: (lb: LbRuleRow, mappings: ReadonlyArray<Mapping>) => JobOutcome
): Either.Either<Obj, Fail> =>
  Either.gen(function*() {
    const lb = yield* lbForChange(c, p)
    if (!p.has("virtualmachineids") && !p.has("vmidipmap[0].vmid")) {
      return yield* Either.left(invalid("Both instanceids and vmidipmap can't be null"))
    }
    const mappings = yield* mappingsOf(c, p)
    return submit(c, { queueKey: networkKey(lb.networkUuid), execute: () => execute(lb, mappings) })
  })

const assignToLoadBalancerRule: Handler = (c, p) =>
  membershipJob(c, p, (lb, mappings) => {
    // Every per-VM problem surfaces as the command's generic 530 (AssignToLoadBalancerRuleCmd).
    const fail = failed(530, "Failed to assign load balancer rule")
    if (!c.s.lbRules.has(lb.uuid)) return fail
    const planned: Array<readonly [string, string]> = []
    for (const m of mappings) {
      if (m.vm.state === "Destroyed" || m.vm.state === "Expunging") return fail
      if (!canAccess(c, m.vm.owner)) return fail
      const nic = nicIn(m.vm, lb.networkUuid)
      if (nic === undefined) return fail
      const vmIp = m.ip ?? nic.ip
      if (vmIp !== nic.ip) return fail
      if (lb.members.get(m.vm.uuid)?.has(vmIp) === true) return fail
      if (planned.some(([v, i]) => v === m.vm.uuid && i === vmIp)) return fail
      planned.push([m.vm.uuid, vmIp])
    }
    for (const [vm, ip] of planned) {
      const set = lb.members.get(vm) ?? new Set<string>()
      set.add(ip)
      lb.members.set(vm, set)
    }
    setLbStateFromMembers(lb)
    return SUCCESS
  })

const removeFromLoadBalancerRule: Handler = (c, p) =>
  membershipJob(c, p, (lb, mappings) => {
    for (const m of mappings) {
      if (m.ip !== undefined && lb.members.get(m.vm.uuid)?.has(m.ip) !== true) {
        return failed(431, "Failed to remove Instance from load balancer rule")
      }
    }
    for (const m of mappings) {
      const set = lb.members.get(m.vm.uuid)
      if (set === undefined) continue
      if (m.ip === undefined) lb.members.delete(m.vm.uuid)
      else {
        set.delete(m.ip)
        if (set.size === 0) lb.members.delete(m.vm.uuid)
      }
    }
    setLbStateFromMembers(lb)
    return SUCCESS
  })

export const commands: Commands = {
  listLoadBalancerRuleInstances,
  assignToLoadBalancerRule,
  removeFromLoadBalancerRule
}
