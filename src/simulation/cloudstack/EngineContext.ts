/**
 * What every simulator command handler shares: the per-request context, list scoping (reference
 * 4.2), access checks, the async-job queue (per-network FIFO, executed lazily when the Clock
 * passes a job's finish time) and the cascading deletes of 5.7/5.11. Synchronous and pure apart
 * from mutating the store it is given.
 */
import { tagKey } from "./Render.js"
import type { AccountRow, IpRow, JobRow, LbRuleRow } from "./SimModel.js"
import type { Credentials, JobOutcome, PendingJob, Store } from "./Store.js"
import { FREE_IP, nextUuid } from "./Store.js"
import { type Fail, invalid, invalidUuid, isFail, list, mapParam, optBool, type Params, permissionDenied } from "./Wire.js"

export type Obj = Record<string, unknown>
/** A handler's answer: the inner body of `<command>response`, or an error envelope. */
export type Answer = Obj | Fail

export interface Ctx {
  readonly s: Store
  readonly now: number
  readonly caller: Credentials
  readonly command: string
  readonly jobDurationMs: number
  /** Drawn by the layer from the seeded Random: this call's job (if any) fails with 530. */
  readonly jobFails: boolean
  /** Drawn by the layer: this call's job (if any) blocks its queue this long, then is cancelled. */
  readonly jobStuckMs: number | undefined
}

export type Handler = (c: Ctx, p: Params) => Answer

export const isAdmin = (c: Ctx) => c.caller.account.role === "admin"

const projectOfOwner = (s: Store, owner: string): string | undefined => s.accounts.get(owner)?.projectUuid

const isMember = (s: Store, account: AccountRow, projectUuid: string) =>
  s.projects.get(projectUuid)?.members.includes(account.name) ?? false

/** Whether the caller may operate on a resource of `owner` (operations by id, reference 4.2). */
export const canAccess = (c: Ctx, owner: string | undefined): boolean => {
  if (owner === undefined || isAdmin(c) || owner === c.caller.account.name) return true
  const project = projectOfOwner(c.s, owner)
  return project !== undefined && isMember(c.s, c.caller.account, project)
}

export const checkAccess = (c: Ctx, owner: string | undefined, uuid: string): Fail | undefined =>
  canAccess(c, owner)
    ? undefined
    : permissionDenied(`Caller ${c.caller.account.name} does not have permission to operate with resource ${uuid}`)

/**
 * The owner filter of a list call (AccountManagerImpl.buildACLSearchParameters): project
 * resources only with `projectid`, own resources for users, everything (but projects) for an
 * admin with listall=true. `byId`: an admin looking up one id sees it wherever it lives.
 */
export const scope = (c: Ctx, p: Params, byId: boolean): ((owner: string) => boolean) | Fail => {
  const projectId = p.get("projectid")
  const account = p.get("account")
  if (projectId !== undefined && account !== undefined) return invalid("Account and projectId can't be specified together")
  const listall = optBool(p, "listall") === true
  const me = c.caller.account.name
  const admin = isAdmin(c)
  const nonProject = (owner: string): boolean => {
    if (projectOfOwner(c.s, owner) !== undefined) return byId && admin
    if (admin) return byId || (account !== undefined ? owner === account : listall || owner === me)
    return owner === me
  }
  if (projectId === undefined) return nonProject
  if (projectId === "-1") {
    const accessible = (owner: string) => {
      const project = projectOfOwner(c.s, owner)
      return project !== undefined && (admin || isMember(c.s, c.caller.account, project))
    }
    return listall ? (owner) => accessible(owner) || nonProject(owner) : accessible
  }
  const project = c.s.projects.get(projectId)
  if (project === undefined) return invalidUuid("projectid", projectId, c.command)
  if (!admin && !project.members.includes(me)) {
    return permissionDenied(`Account ${me} can't access project id=${project.uuid}`)
  }
  return (owner) => owner === project.accountName
}

/** Resource types of createTags/listTags and where their rows live (case-insensitive names). */
export const TAG_TYPES: ReadonlyMap<string, string> = new Map(
  ["UserVm", "LoadBalancer", "PublicIpAddress", "Network", "FirewallRule", "PortForwardingRule", "NetworkACL", "Vpc", "Project", "Zone"]
    .map((t) => [t.toLowerCase(), t])
)

/** An ACL list's owner is its VPC's owner; the built-in lists (no VPC) belong to no account. */
export const aclOwner = (c: Ctx, aclUuid: string): string | undefined => {
  const vpc = c.s.aclLists.get(aclUuid)?.vpcUuid
  return vpc === undefined ? undefined : c.s.vpcs.get(vpc)?.owner
}

/** Owner of a taggable resource, or undefined when it does not exist. */
export const tagResourceOwner = (c: Ctx, type: string, uuid: string): string | undefined | false => {
  const s = c.s
  switch (type) {
    case "UserVm":
      return s.vms.get(uuid)?.owner ?? false
    case "LoadBalancer":
      return s.lbRules.get(uuid)?.owner ?? false
    case "PublicIpAddress": {
      const ip = s.ips.get(uuid)
      return ip === undefined ? false : ip.owner
    }
    case "Network":
      return s.networks.get(uuid)?.owner ?? false
    case "FirewallRule":
      return s.fwRules.get(uuid)?.owner ?? false
    case "NetworkACL": {
      const item = s.aclItems.get(uuid)
      return item === undefined ? false : aclOwner(c, item.aclUuid)
    }
    case "Vpc":
      return s.vpcs.get(uuid)?.owner ?? false
    case "Project": {
      const project = s.projects.get(uuid)
      return project === undefined ? false : project.accountName
    }
    case "Zone":
      return s.zones.has(uuid) ? undefined : false
    default:
      return false
  }
}

/** Tag filter `tags[i].key/value`: any pair matches (the SQL ORs them); a key without value is 431. */
export const tagFilter = (c: Ctx, p: Params, resourceType: string): ((uuid: string) => boolean) | undefined | Fail => {
  const entries = mapParam(p, "tags")
  if (isFail(entries)) return entries
  if (entries.length === 0) return undefined
  const pairs: Array<readonly [string, string]> = []
  for (const e of entries) {
    const k = e.get("key") ?? ""
    const v = e.get("value")
    if (v === undefined || v === "") return invalid(`No value is passed in for key ${k}`)
    pairs.push([k.toLowerCase(), v.toLowerCase()])
  }
  return (uuid) => {
    const tags = c.s.tags.get(tagKey(resourceType, uuid))
    if (tags === undefined) return false
    return pairs.some(([k, v]) => tags.get(k)?.value.toLowerCase() === v)
  }
}

export const keywordMatch = (keyword: string | undefined, ...fields: ReadonlyArray<string | undefined>): boolean => {
  if (keyword === undefined || keyword === "") return true
  const k = keyword.toLowerCase()
  return fields.some((f) => f !== undefined && f.toLowerCase().includes(k))
}

export const uuidList = (p: Params, name: string, c: Ctx, table: ReadonlyMap<string, unknown>): ReadonlyArray<string> | Fail => {
  const out: Array<string> = []
  for (const id of list(p.get(name))) {
    if (!table.has(id)) return invalidUuid(name, id, c.command)
    out.push(id)
  }
  return out
}

// ---- async jobs ----------------------------------------------------------------------------

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
  const forced = s.forcedFailures.get(c.command)?.shift()
  const execute: () => JobOutcome = c.jobStuckMs !== undefined
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

// ---- cascades ------------------------------------------------------------------------------

export const deleteTagsOf = (s: Store, type: string, uuid: string) => {
  s.tags.delete(tagKey(type, uuid))
}

const rulesOf = (s: Store, ipUuid: string): Set<string> => {
  let set = s.rulesByIp.get(ipUuid)
  if (set === undefined) {
    set = new Set()
    s.rulesByIp.set(ipUuid, set)
  }
  return set
}
export const addRuleToIp = (s: Store, ipUuid: string, ruleUuid: string) => rulesOf(s, ipUuid).add(ruleUuid)

/** A VPC IP that serves no rule and no static NAT goes back to "no tier" (reference 6.1). */
export const maybeUnassociate = (s: Store, ip: IpRow) => {
  if (ip.vpcUuid === undefined || ip.sourceNat || ip.staticNatVmUuid !== undefined) return
  const rules = s.rulesByIp.get(ip.uuid)
  if (rules === undefined || rules.size === 0) ip.associatedNetworkUuid = undefined
}

export const removeFirewallRule = (s: Store, uuid: string) => {
  const fw = s.fwRules.get(uuid)
  if (fw === undefined) return
  s.fwRules.delete(uuid)
  s.rulesByIp.get(fw.ipUuid)?.delete(uuid)
  deleteTagsOf(s, "FirewallRule", uuid)
}

/** Deletes an LB rule with its mappings, policies, related firewall rule and tags (hard delete). */
export const removeLbRule = (s: Store, lb: LbRuleRow) => {
  s.lbRules.delete(lb.uuid)
  s.rulesByIp.get(lb.ipUuid)?.delete(lb.uuid)
  for (const [id, hc] of s.healthChecks) if (hc.lbUuid === lb.uuid) s.healthChecks.delete(id)
  for (const [id, sp] of s.stickiness) if (sp.lbUuid === lb.uuid) s.stickiness.delete(id)
  for (const [id, fw] of s.fwRules) if (fw.relatedLbUuid === lb.uuid) removeFirewallRule(s, id)
  deleteTagsOf(s, "LoadBalancer", lb.uuid)
  const ip = s.ips.get(lb.ipUuid)
  if (ip !== undefined) maybeUnassociate(s, ip)
}

/** Releases an IP: every rule on it, static NAT and its tags go; the row stays, Free (5.7). */
export const releaseIp = (s: Store, ip: IpRow) => {
  for (const ruleUuid of [...(s.rulesByIp.get(ip.uuid) ?? [])]) {
    const lb = s.lbRules.get(ruleUuid)
    if (lb !== undefined) removeLbRule(s, lb)
    else removeFirewallRule(s, ruleUuid)
  }
  s.rulesByIp.delete(ip.uuid)
  if (ip.staticNatVmUuid !== undefined) s.staticNatByVm.delete(ip.staticNatVmUuid)
  deleteTagsOf(s, "PublicIpAddress", ip.uuid)
  Object.assign(ip, FREE_IP)
}

