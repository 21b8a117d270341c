/**
 * The simulator's load balancer policies: listLBHealthCheckPolicies, listLBStickinessPolicies,
 * create/deleteLBHealthCheckPolicy and create/deleteLBStickinessPolicy (checked against the LB
 * provider of the rule's network; jobs on the network's queue), and their rendering.
 */
import { Either } from "effect"
import { checkAccess } from "../Access.js"
import { CS_SERVER_API, Fail, invalid } from "../Fail.js"
import type { Commands, Ctx, Handler, Obj } from "../Handler.js"
import { networkKey, ok, submit, SUCCESS } from "../Jobs.js"
import { invalidUuid, type Params } from "../Params.js"
import { ownerFields } from "../Render.js"
import { offeringOf } from "../RuleChecks.js"
import type { HealthCheckRow, LbRuleRow, StickinessRow } from "../SimModel.js"
import { nextUuid, type Store } from "../Store.js"
import { lbForChange } from "./LoadBalancers.js"

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
        ...revoked(h.state),
        fordisplay: true
      })
      return o
    })
  }
}

/**
 * A policy's `state` as CloudStack renders it (LB{HealthCheck,Stickiness}PolicyResponse): "Revoked"
 * once revoked, else absent. A policy whose create job is still running is listed like an applied one.
 */
const revoked = (state: string): Obj => (state === "Revoke" ? { state: "Revoked" } : {})

export const renderStickiness = (s: Store, lb: LbRuleRow, ps: ReadonlyArray<StickinessRow>): Obj => {
  const net = s.networks.get(lb.networkUuid)
  const out: Obj = { lbruleid: lb.uuid }
  const first = ps[0]
  if (first !== undefined) {
    out.name = first.name
    if (first.description !== undefined) out.description = first.description
  }
  Object.assign(out, ownerFields(s, lb.owner), { zoneid: net?.zoneUuid ?? "" })
  out.stickinesspolicy = ps.map((p) => {
    const o: Obj = { id: p.uuid, name: p.name, methodname: p.methodname }
    if (p.description !== undefined) o.description = p.description
    Object.assign(o, { params: { ...p.params }, ...revoked(p.state), fordisplay: true })
    return o
  })
  return out
}

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

/** The rule a policy list is for: by a policy's `id` when no `lbruleid` is given, else by `lbruleid`. */
const policyRule = (c: Ctx, p: Params): Either.Either<LbRuleRow, Fail> => {
  if (!p.has("lbruleid") && p.has("id")) {
    const id = p.get("id") ?? ""
    const policy = c.s.stickiness.get(id) ?? c.s.healthChecks.get(id)
    const lb = policy === undefined ? undefined : c.s.lbRules.get(policy.lbUuid)
    return lb === undefined ? Either.left(invalidUuid("id", id, c.command)) : Either.right(lb)
  }
  return p.reqUuid("lbruleid", c.s.lbRules)
}

const listLBStickinessPolicies: Handler = (c, p) =>
  Either.map(policyRule(c, p), (lb) => {
    const ps = [...c.s.stickiness.values()].filter((sp) => sp.lbUuid === lb.uuid)
    return { count: 1, stickinesspolicies: [renderStickiness(c.s, lb, ps)] }
  })

const listLBHealthCheckPolicies: Handler = (c, p) =>
  Either.map(policyRule(c, p), (lb) => {
    const hcs = [...c.s.healthChecks.values()].filter((h) => h.lbUuid === lb.uuid)
    return { count: 1, healthcheckpolicies: [renderHealthCheck(c.s, lb, hcs)] }
  })

const malformed = (text: string) => new Fail(430, CS_SERVER_API, text)

const createLBHealthCheckPolicy: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const lb = yield* lbForChange(c, p, "lbruleid")
    const { rt, iv, hy, uh } = yield* Either.all({
      rt: p.optInt("responsetimeout"),
      iv: p.optInt("intervaltime"),
      hy: p.optInt("healthythreshold"),
      uh: p.optInt("unhealthythreshold")
    })
    const responseTime = rt ?? 2
    const interval = iv ?? 5
    if (lb.state === "Deleting") {
      return yield* Either.left(
        malformed(`Failed to create HealthCheck policy: the LB rule ${lb.uuid} is in revoke state`)
      )
    }
    if (responseTime > interval) {
      return yield* Either.left(malformed("Monitor interval must be greater than response timeout"))
    }
    const net = s.networks.get(lb.networkUuid)
    const provider = net === undefined ? undefined : offeringOf(s, net)?.lbProvider
    if (provider?.supportsHealthCheck !== true) {
      return yield* Either.left(malformed(
        `Failed to create HealthCheck policy: Validation Failed (HealthCheck Policy is not supported by LB Provider for the LB rule:${lb.uuid})`
      ))
    }
    for (const hc of s.healthChecks.values()) {
      if (hc.lbUuid === lb.uuid && hc.state !== "Revoke") {
        return yield* Either.left(malformed("Already policy attached for the LB Rule"))
      }
    }
    const row: HealthCheckRow = {
      uuid: nextUuid(s),
      lbUuid: lb.uuid,
      pingpath: p.get("pingpath") ?? "/",
      description: p.get("description"),
      responsetime: responseTime,
      interval,
      healthy: hy ?? 2,
      unhealthy: uh ?? 1,
      state: "Add"
    }
    s.healthChecks.set(row.uuid, row)
    return submit(c, {
      queueKey: networkKey(lb.networkUuid),
      createdId: row.uuid,
      execute: () => {
        row.state = "Active"
        return ok({ healthcheckpolicies: renderHealthCheck(s, lb, [row]) })
      },
      onFailure: () => s.healthChecks.delete(row.uuid)
    })
  })

/** delete{LBHealthCheck,LBStickiness}Policy: revoke now, remove in the job (on the rule's queue). */
const deletePolicy = (table: (s: Store) => Map<string, HealthCheckRow | StickinessRow>): Handler => (c, p) =>
  Either.gen(function*() {
    const rows = table(c.s)
    const policy = yield* p.reqUuid("id", rows)
    const lb = c.s.lbRules.get(policy.lbUuid)
    yield* checkAccess(c, lb?.owner, policy.uuid)
    policy.state = "Revoke"
    return submit(c, {
      queueKey: networkKey(lb?.networkUuid ?? policy.uuid),
      execute: () => {
        rows.delete(policy.uuid)
        return SUCCESS
      }
    })
  })

const createLBStickinessPolicy: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const lb = yield* lbForChange(c, p, "lbruleid")
    const { name, methodName, params } = yield* Either.all({
      name: p.required("name"),
      methodName: p.required("methodname"),
      params: p.map("param")
    })
    const method = STICKINESS_METHODS.find((m) => m.methodname.toLowerCase() === methodName.toLowerCase())
    const prefix = "Failed to create Stickiness policy: Validation Failed"
    if (method === undefined) {
      return yield* Either.left(
        invalid(
          `${prefix} (Stickiness method: ${methodName} is not supported by LB Provider for the LB rule:${lb.uuid})`
        )
      )
    }
    const values: Record<string, string> = {}
    for (const e of params) {
      const pname = (e.get("name") ?? "").toLowerCase()
      const def = method.params.find((x) => x.name === pname)
      if (def === undefined) {
        return yield* Either.left(invalid(`${prefix} (Stickiness method param ${pname} is not supported)`))
      }
      const value = e.get("value")
      if (!def.isflag && (value === undefined || value === "")) {
        return yield* Either.left(invalid(`${prefix} (Stickiness method param ${pname} requires a value)`))
      }
      values[pname] = value ?? "true"
    }
    const existing = [...s.stickiness.values()].filter((sp) => sp.lbUuid === lb.uuid && sp.state !== "Revoke")
    if (existing.length > 1) {
      return yield* Either.left(invalid("Failed to create Stickiness policy: Already two policies attached"))
    }
    const row: StickinessRow = {
      uuid: nextUuid(s),
      lbUuid: lb.uuid,
      name,
      methodname: method.methodname,
      description: p.get("description"),
      params: values,
      state: "Add"
    }
    s.stickiness.set(row.uuid, row)
    return submit(c, {
      queueKey: networkKey(lb.networkUuid),
      createdId: row.uuid,
      execute: () => {
        // A new policy replaces the old one when applied.
        for (const [id, sp] of s.stickiness) if (sp.lbUuid === lb.uuid && id !== row.uuid) s.stickiness.delete(id)
        row.state = "Active"
        return ok({ stickinesspolicies: renderStickiness(s, lb, [row]) })
      },
      onFailure: () => s.stickiness.delete(row.uuid)
    })
  })

export const commands: Commands = {
  listLBStickinessPolicies,
  listLBHealthCheckPolicies,
  createLBHealthCheckPolicy,
  deleteLBHealthCheckPolicy: deletePolicy((s) => s.healthChecks),
  createLBStickinessPolicy,
  deleteLBStickinessPolicy: deletePolicy((s) => s.stickiness)
}
