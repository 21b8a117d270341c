/**
 * The simulator's network ACLs of VPC tiers: listNetworkACLLists, listNetworkACLs, createNetworkACL,
 * updateNetworkACLItem and deleteNetworkACL (jobs queued per VPC; the built-in lists cannot change)
 * and their rendering.
 */
import { Either } from "effect"
import { aclOwner, checkAccess } from "../Access.js"
import { deleteTagsOf } from "../Cascades.js"
import { type Fail, invalid, paramError } from "../Fail.js"
import type { Commands, Ctx, Handler, Obj } from "../Handler.js"
import { failed, ok, submit, SUCCESS } from "../Jobs.js"
import { keywordMatch, listOf, scope, tagFilter } from "../ListQuery.js"
import type { Params } from "../Params.js"
import { tagsOf } from "../Render.js"
import { cidrsOf } from "../RuleChecks.js"
import type { AclItemRow, AclListRow } from "../SimModel.js"
import { nextInternalId, nextUuid, type Store } from "../Store.js"

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

export const renderAclList = (a: AclListRow): Obj => {
  const out: Obj = { id: a.uuid, name: a.name, description: a.description }
  if (a.vpcUuid !== undefined) out.vpcid = a.vpcUuid
  out.fordisplay = true
  return out
}

const aclListVisible = (c: Ctx, sc: (owner: string) => boolean, a: AclListRow): boolean => {
  if (a.vpcUuid === undefined) return true
  const vpc = c.s.vpcs.get(a.vpcUuid)
  return vpc !== undefined && sc(vpc.owner)
}

const listNetworkACLLists: Handler = (c, p) =>
  Either.gen(function*() {
    const { id, vpc, net } = yield* Either.all({
      id: p.optUuid("id", c.s.aclLists),
      vpc: p.optUuid("vpcid", c.s.vpcs),
      net: p.optUuid("networkid", c.s.networks)
    })
    const sc = yield* scope(c, p, id !== undefined)
    const name = p.get("name")
    const rows = [...c.s.aclLists.values()].filter((a) =>
      (id === undefined || a === id) && (vpc === undefined || a.vpcUuid === vpc.uuid || a.vpcUuid === undefined) &&
      (net === undefined || net.aclUuid === a.uuid) && (name === undefined || a.name === name) &&
      keywordMatch(p.get("keyword"), a.name, a.description) && aclListVisible(c, sc, a)
    )
    return yield* listOf(p, "networkacllist", rows, renderAclList)
  })

const listNetworkACLs: Handler = (c, p) =>
  Either.gen(function*() {
    const { id, acl, net } = yield* Either.all({
      id: p.optUuid("id", c.s.aclItems),
      acl: p.optUuid("aclid", c.s.aclLists),
      net: p.optUuid("networkid", c.s.networks)
    })
    const sc = yield* scope(c, p, id !== undefined)
    const tf = yield* tagFilter(c, p, "NetworkACL")
    const protocol = p.get("protocol")?.toLowerCase()
    const action = p.get("action")?.toLowerCase()
    const traffic = p.get("traffictype")?.toLowerCase()
    const rows = [...c.s.aclItems.values()].filter((r) => {
      const list = c.s.aclLists.get(r.aclUuid)
      return (id === undefined || r === id) && (acl === undefined || r.aclUuid === acl.uuid) &&
        (net === undefined || r.aclUuid === net.aclUuid) && (protocol === undefined || r.protocol === protocol) &&
        (action === undefined || r.action.toLowerCase() === action) &&
        (traffic === undefined || r.traffictype.toLowerCase() === traffic) &&
        list !== undefined && aclListVisible(c, sc, list) && (tf === undefined || tf(r.uuid))
    }).sort((a, b) => b.internalId - a.internalId)
    return yield* listOf(p, "networkacl", rows, (r) => renderAclItem(c.s, r))
  })

const ACL_PROTOCOLS = new Set(["tcp", "udp", "icmp", "all"])
const isDefaultAcl = (c: Ctx, aclUuid: string) => c.s.aclLists.get(aclUuid)?.vpcUuid === undefined

interface AclFields {
  readonly protocol: string
  readonly startport: number | undefined
  readonly endport: number | undefined
  readonly action: "Allow" | "Deny"
  readonly traffictype: "Ingress" | "Egress"
}

const actionOf = (raw: string): "Allow" | "Deny" | undefined =>
  raw.toLowerCase() === "allow" ? "Allow" : raw.toLowerCase() === "deny" ? "Deny" : undefined

const trafficOf = (raw: string): "Ingress" | "Egress" | undefined =>
  raw.toLowerCase() === "ingress" ? "Ingress" : raw.toLowerCase() === "egress" ? "Egress" : undefined

/** The rule fields of a create (no `base`) or an update (unset fields keep `base`'s). */
const aclFields = (c: Ctx, p: Params, base: AclFields | undefined): Either.Either<AclFields, Fail> =>
  Either.gen(function*() {
    const protocolRaw = p.get("protocol") ?? base?.protocol
    if (protocolRaw === undefined) {
      return yield* Either.left(
        paramError(`Unable to execute API command ${c.command.toLowerCase()} due to missing parameter protocol`)
      )
    }
    let protocol = protocolRaw.trim().toLowerCase()
    if (protocol === "1") protocol = "icmp"
    const numeric = /^\d+$/.test(protocol)
    if (!ACL_PROTOCOLS.has(protocol) && !(numeric && Number(protocol) <= 255)) {
      return yield* Either.left(invalid(`Invalid protocol: ${protocol}`))
    }
    const { start, end } = yield* Either.all({ start: p.optInt("startport"), end: p.optInt("endport") })
    const startport = start ?? (p.has("protocol") ? undefined : base?.startport)
    const endport = end ?? start ?? (p.has("protocol") ? undefined : base?.endport)
    if (protocol === "all" && (startport !== undefined || endport !== undefined)) {
      return yield* Either.left(invalid("start port and end port must be null if protocol = 'all'"))
    }
    if (startport !== undefined && endport !== undefined && startport > endport) {
      return yield* Either.left(invalid("Start port can't be bigger than end port"))
    }
    const actionRaw = p.get("action")
    const action = actionRaw === undefined ? (base?.action ?? "Allow") : actionOf(actionRaw)
    if (action === undefined) return yield* Either.left(invalid("Invalid action. Allowed actions are Allow and Deny"))
    const trafficRaw = p.get("traffictype")
    const traffictype = trafficRaw === undefined ? (base?.traffictype ?? "Ingress") : trafficOf(trafficRaw)
    if (traffictype === undefined) return yield* Either.left(invalid(`Invalid traffic type ${trafficRaw ?? ""}`))
    return { protocol, startport, endport, action, traffictype }
  })

/** ACL changes queue per VPC (the ACL's own id when it belongs to none). */
const aclQueueKey = (s: Store, aclUuid: string) => `vpc:${s.aclLists.get(aclUuid)?.vpcUuid ?? aclUuid}`

/** The ACL item named by `id`, if the caller may change it. */
const aclItemForChange = (c: Ctx, p: Params): Either.Either<AclItemRow, Fail> =>
  Either.flatMap(
    p.reqUuid("id", c.s.aclItems),
    (item) => Either.map(checkAccess(c, aclOwner(c, item.aclUuid), item.uuid), () => item)
  )

const createNetworkACL: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const { aclParam, net } = yield* Either.all({
      protocol: p.required("protocol"),
      aclParam: p.optUuid("aclid", s.aclLists),
      net: p.optUuid("networkid", s.networks)
    })
    if (aclParam === undefined && net === undefined) {
      return yield* Either.left(invalid("ACL Id or network Id is required"))
    }
    if (aclParam === undefined && net !== undefined && net.vpcUuid === undefined) {
      return yield* Either.left(invalid(`Network ${net.uuid} does not belong to VPC`))
    }
    const aclUuid = aclParam?.uuid ?? net?.aclUuid
    if (aclUuid === undefined) return yield* Either.left(invalid("ACL Id or network Id is required"))
    if (isDefaultAcl(c, aclUuid)) return yield* Either.left(invalid("Default ACL cannot be modified"))
    yield* checkAccess(c, aclOwner(c, aclUuid), aclUuid)
    const { fields, cidrsGiven, numberParam } = yield* Either.all({
      fields: aclFields(c, p, undefined),
      cidrsGiven: cidrsOf(p, (x) => `Invalid cidr ${x}`),
      numberParam: p.optInt("number")
    })
    let max = 0
    for (const item of s.aclItems.values()) {
      if (item.aclUuid !== aclUuid) continue
      if (item.number === numberParam) {
        return yield* Either.left(invalid(`ACL item with number ${numberParam} already exists in ACL: ${aclUuid}`))
      }
      max = Math.max(max, item.number)
    }
    const { icmptype, icmpcode } = yield* Either.all({ icmptype: p.optInt("icmptype"), icmpcode: p.optInt("icmpcode") })
    const row: AclItemRow = {
      uuid: nextUuid(s),
      internalId: nextInternalId(s),
      aclUuid,
      number: numberParam ?? max + 1,
      ...fields,
      cidrlist: cidrsGiven.length === 0 ? ["0.0.0.0/0", "::/0"] : cidrsGiven,
      icmptype: fields.protocol === "icmp" ? (icmptype ?? -1) : undefined,
      icmpcode: fields.protocol === "icmp" ? (icmpcode ?? -1) : undefined,
      reason: p.get("reason"),
      state: "Add"
    }
    s.aclItems.set(row.uuid, row)
    return submit(c, {
      queueKey: aclQueueKey(s, aclUuid),
      instanceType: "NetworkACL",
      instanceUuid: row.uuid,
      createdId: row.uuid,
      execute: () => {
        row.state = "Active"
        return ok({ networkacl: renderAclItem(s, row) })
      },
      onFailure: () => s.aclItems.delete(row.uuid)
    })
  })

const updateNetworkACLItem: Handler = (c, p) =>
  Either.gen(function*() {
    const item = yield* aclItemForChange(c, p)
    const numberParam = yield* p.optInt("number")
    const cidrs = p.has("cidrlist") ? yield* cidrsOf(p, (x) => `Invalid cidr ${x}`) : undefined
    return submit(c, {
      queueKey: aclQueueKey(c.s, item.aclUuid),
      instanceType: "NetworkACL",
      instanceUuid: item.uuid,
      execute: () => {
        if (isDefaultAcl(c, item.aclUuid)) return failed(431, "Default ACL cannot be modified")
        const decoded = aclFields(c, p, item)
        if (Either.isLeft(decoded)) return failed(decoded.left.code, decoded.left.text)
        const fields = decoded.right
        if (numberParam !== undefined && numberParam !== item.number) {
          for (const other of c.s.aclItems.values()) {
            if (other.aclUuid === item.aclUuid && other.number === numberParam) {
              return failed(431, `ACL item with number ${numberParam} already exists in ACL: ${item.aclUuid}`)
            }
          }
          item.number = numberParam
        }
        Object.assign(item, fields)
        if (cidrs !== undefined) item.cidrlist = cidrs
        if (p.has("reason")) item.reason = p.get("reason")
        return ok({ networkacl: renderAclItem(c.s, item) })
      }
    })
  })

const deleteNetworkACL: Handler = (c, p) =>
  Either.map(aclItemForChange(c, p), (item) =>
    submit(c, {
      queueKey: aclQueueKey(c.s, item.aclUuid),
      execute: () => {
        if (isDefaultAcl(c, item.aclUuid)) return failed(431, "Default ACL cannot be modified")
        c.s.aclItems.delete(item.uuid)
        deleteTagsOf(c.s, "NetworkACL", item.uuid)
        return SUCCESS
      }
    }))

export const commands: Commands = {
  listNetworkACLLists,
  listNetworkACLs,
  createNetworkACL,
  updateNetworkACLItem,
  deleteNetworkACL
}
