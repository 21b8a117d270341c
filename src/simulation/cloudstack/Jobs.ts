/**
 * The simulator's async-job queue: a job is queued behind the others of its queue key (per
 * network, VPC or VM: FIFO like the real server's job queues), executed lazily when the Clock
 * passes its finish time, and forgotten a day after it finished. Synchronous and pure apart from
 * mutating the store it is given.
 */
import type { Ctx, Obj } from "./Handler.js"
import type { JobRow } from "./SimModel.js"
import type { JobOutcome, PendingJob, Store } from "./Store.js"
import { nextUuid } from "./Store.js"

/** Changes of a network's rules and addresses queue per network. */
export const networkKey = (uuid: string) => `network:${uuid}`

const CMD_CLASS: Readonly<Record<string, string>> = {
  associateIpAddress: "address.AssociateIPAddrCmd",
  disassociateIpAddress: "address.DisassociateIPAddrCmd",
  createLoadBalancerRule: "loadbalancer.CreateLoadBalancerRuleCmd",
  updateLoadBalancerRule: "loadbalancer.UpdateLoadBalancerRuleCmd",
  deleteLoadBalancerRule: "loadbalancer.DeleteLoadBalancerRuleCmd",
  assignToLoadBalancerRule: "loadbalancer.AssignToLoadBalancerRuleCmd",
  removeFromLoadBalancerRule: "loadbalancer.RemoveFromLoadBalancerRuleCmd",
  createLBHealthCheckPolicy: "loadbalancer.CreateLBHealthCheckPolicyCmd",
  deleteLBHealthCheckPolicy: "loadbalancer.DeleteLBHealthCheckPolicyCmd",
  createLBStickinessPolicy: "loadbalancer.CreateLBStickinessPolicyCmd",
  deleteLBStickinessPolicy: "loadbalancer.DeleteLBStickinessPolicyCmd",
  createFirewallRule: "firewall.CreateFirewallRuleCmd",
  deleteFirewallRule: "firewall.DeleteFirewallRuleCmd",
  createTags: "tag.CreateTagsCmd",
  deleteTags: "tag.DeleteTagsCmd",
  createNetworkACL: "network.CreateNetworkACLCmd",
  updateNetworkACLItem: "network.UpdateNetworkACLItemCmd",
  deleteNetworkACL: "network.DeleteNetworkACLCmd",
  deployVirtualMachine: "vm.DeployVMCmd",
  startVirtualMachine: "vm.StartVMCmd",
  stopVirtualMachine: "vm.StopVMCmd",
  destroyVirtualMachine: "vm.DestroyVMCmd",
  disableStaticNat: "nat.DisableStaticNatCmd"
}

/** The failure text a job of `command` reports when it fails for an injected reason. */
export const defaultJobFailureText = (command: string): string => {
  switch (command) {
    case "assignToLoadBalancerRule":
      return "Failed to assign load balancer rule"
    case "removeFromLoadBalancerRule":
      return "Failed to remove Instance from load balancer rule"
    case "createLoadBalancerRule":
      return "Failed to create load balancer rule"
    case "deleteLoadBalancerRule":
      return "Failed to delete load balancer rule"
    case "associateIpAddress":
      return "Failed to allocate IP address"
    case "disassociateIpAddress":
      return "Failed to disassociate ip address"
    case "createFirewallRule":
      return "Failed to create firewall rule"
    case "deleteFirewallRule":
      return "Failed to delete firewall rule"
    default:
      return `Failed to execute ${command}`
  }
}

export interface JobSpec {
  readonly queueKey: string
  readonly instanceType?: string | undefined
  readonly instanceUuid?: string | undefined
  /** Create-style commands answer `{id, jobid}`. */
  readonly createdId?: string | undefined
  readonly execute: () => JobOutcome
  readonly onFailure?: () => void
}

export const ok = (result: unknown): JobOutcome => ({ _tag: "Ok", result })
export const failed = (code: number, text: string): JobOutcome => ({ _tag: "Failed", code, text })
export const SUCCESS: JobOutcome = ok({ success: true })

/** Queues a job behind the others of its queue key and answers `{jobid}` or `{id, jobid}`. */
export const submit = (c: Ctx, spec: JobSpec): Obj => {
  const s = c.s
  const tail = s.queueTail.get(spec.queueKey) ?? 0
  const finishAt = Math.max(c.now, tail) + (c.jobStuckMs ?? c.jobDurationMs)
  s.queueTail.set(spec.queueKey, finishAt)
  const row: JobRow = {
    uuid: nextUuid(s),
    command: c.command,
    cmdClass: `org.apache.cloudstack.api.command.user.${CMD_CLASS[c.command] ?? c.command}`,
    accountUuid: c.caller.account.uuid,
    userUuid: c.caller.userUuid,
    created: c.now,
    finishAt,
    queueKey: spec.queueKey,
    status: 0,
    resultCode: 0,
    result: undefined,
    instanceType: spec.instanceType,
    instanceUuid: spec.instanceUuid,
    completed: undefined
  }
  // A stuck job never runs: a forced failure waits for the next job of the command that does.
  const stuck = c.jobStuckMs !== undefined
  const forced = stuck ? undefined : s.forcedFailures.get(c.command)?.shift()
  const execute: () => JobOutcome = stuck
    ? () => failed(0, JOB_CANCELLED_TEXT)
    : forced !== undefined
    ? () => failed(forced.code, forced.text ?? defaultJobFailureText(c.command))
    : c.jobFails
    ? () => failed(530, defaultJobFailureText(c.command))
    : spec.execute
  s.jobs.set(row.uuid, row)
  const job: PendingJob = { row, seq: s.jobSeq++, execute, onFailure: spec.onFailure ?? (() => undefined) }
  // Binary insertion keeps `pending` sorted by (finishAt, seq): FIFO within a queue key.
  let lo = 0
  let hi = s.pending.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const m = s.pending[mid]
    if (m !== undefined && (m.row.finishAt < finishAt || (m.row.finishAt === finishAt && m.seq < job.seq))) lo = mid + 1
    else hi = mid
  }
  s.pending.splice(lo, 0, job)
  return spec.createdId === undefined ? { jobid: row.uuid } : { id: spec.createdId, jobid: row.uuid }
}

/** What the server's cleanup says of a job it cancels for blocking its queue too long (with jobresultcode 0). */
export const JOB_CANCELLED_TEXT = "Job is cancelled as it has been blocking others for too long"

/** `job.expire.minutes` (default 1440): finished jobs are forgotten after a day, as the real server. */
export const JOB_EXPIRE_MS = 1440 * 60_000

/**
 * Runs every job whose finish time has come, in (finishAt, submission) order, then forgets
 * finished jobs older than JOB_EXPIRE_MS (their jobid then resolves to nothing: 431).
 */
export const advance = (s: Store, now: number): void => {
  runDue(s, now)
  while (s.finished.length > 0) {
    const oldest = s.finished[0]
    if (oldest === undefined || (oldest.completed ?? now) + JOB_EXPIRE_MS > now) return
    s.finished.shift()
    s.jobs.delete(oldest.uuid)
  }
}

const runDue = (s: Store, now: number): void => {
  while (s.pending.length > 0) {
    const next = s.pending[0]
    if (next === undefined || next.row.finishAt > now) return
    s.pending.shift()
    const outcome = next.execute()
    const row = next.row
    row.completed = row.finishAt
    if (outcome._tag === "Ok") {
      row.status = 1
      row.resultCode = 0
      row.result = outcome.result
    } else {
      next.onFailure()
      row.status = 2
      row.resultCode = outcome.code
      row.result = { errorcode: outcome.code, errortext: outcome.text }
    }
    s.finished.push(row)
  }
}
