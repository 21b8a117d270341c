/**
 * The orphan planner: which of the account's public IPs, LB rules, firewall rules and ACL items
 * this cluster's CCM (or the Go CCM / leaseweb fork before it) left for Services that no longer
 * exist, and the order to delete them in. Pure: CloudStack listings and the cluster's Services in,
 * steps and the resources deliberately left (with why) out. Conservative: a resource is an orphan
 * only when it is shown to be this cluster's and every owner it names is gone; anything unsure is
 * left and reported. Untagged and unnamed resources are never looked at.
 */
import { Data } from "effect"
import type { PublicIpAddress } from "../cloudstack/commands/Addresses.js"
import type { FirewallRule } from "../cloudstack/commands/Firewall.js"
import type { LoadBalancerRule } from "../cloudstack/commands/LoadBalancers.js"
import type { NetworkAclItem } from "../cloudstack/commands/NetworkAcls.js"
import type { Tag } from "../cloudstack/Wire.js"
import { claimsOf, serviceKey } from "../controllers/ServicePlan.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import { lbName } from "../provider/loadbalancer/LbName.js"
import { isKept, KEPT } from "../provider/loadbalancer/Tags.js"
import {
  clusterOf,
  combine,
  indexServices,
  markerPointer,
  namePointer,
  type Pointer,
  type ServiceIndex,
  type Status,
  statusOf,
  tagPointer
} from "./OrphanClaims.js"

/** The account's resources, as listed. */
export interface Inventory {
  readonly ips: ReadonlyArray<PublicIpAddress>
  readonly rules: ReadonlyArray<LoadBalancerRule>
  readonly firewall: ReadonlyArray<FirewallRule>
  readonly acl: ReadonlyArray<NetworkAclItem>
}

export interface OrphanInput {
  /** `--cluster-name`. */
  readonly cluster: string
  readonly inventory: Inventory
  /** Every Service of every namespace. */
  readonly services: ReadonlyArray<ServiceView>
  /** Members (VM ids) of the rules `membersWanted` named; a rule missing here has no evidence. */
  readonly members: ReadonlyMap<string, ReadonlyArray<string>>
  /** VM ids of this cluster's Nodes (their providerIDs). */
  readonly nodeVms: ReadonlySet<string>
}

export type ResourceKind = "PublicIpAddress" | "LoadBalancerRule" | "FirewallRule" | "NetworkAclItem"

/** A resource as the report shows it; `label` (address, name, ports) is CloudStack's text. */
export interface Resource {
  readonly kind: ResourceKind
  readonly id: string
  readonly label: string
}

/** One deletion. `ipId`: the IP a rule is on (its release waits for the rule to be gone). */
export type Step = Data.TaggedEnum<{
  DeleteFirewall: { readonly resource: Resource; readonly why: string; readonly ipId: string }
  DeleteAcl: { readonly resource: Resource; readonly why: string }
  DeleteRule: { readonly resource: Resource; readonly why: string; readonly ipId: string }
  ReleaseIp: { readonly resource: Resource; readonly why: string }
}>
export const Step = Data.taggedEnum<Step>()

/** A resource of this cluster (or perhaps of it) that is not deleted, and why. */
export interface Left {
  readonly resource: Resource
  readonly why: string
}

export interface OrphanPlan {
  /** Firewall rules and ACL items, then LB rules, then IPs; each group by label and id. */
  readonly steps: ReadonlyArray<Step>
  readonly left: ReadonlyArray<Left>
}

/** What the planner concludes about one resource. */
type Verdict =
  /** Untagged and unnamed, or another cluster's: never reported. */
  | { readonly _tag: "NotOurs"; readonly why: string }
  /** A Service that exists names it. */
  | { readonly _tag: "InUse"; readonly service: string }
  | { readonly _tag: "Orphan"; readonly why: string }
  /** Ours, or perhaps ours, but not provably an orphan. */
  | { readonly _tag: "Kept"; readonly why: string }

const notOurs = (tags: ReadonlyArray<Tag>): Verdict => {
  const cluster = clusterOf(tags)
  return { _tag: "NotOurs", why: cluster === undefined ? "not tagged as ours" : `tagged for cluster ${cluster}` }
}

const fromStatus = (status: Status): Verdict =>
  status._tag === "Live"
    ? { _tag: "InUse", service: status.service }
    : status._tag === "Unsure"
    ? { _tag: "Kept", why: status.why }
    : { _tag: "Orphan", why: status.why }

const NO_UID = "tagged for this cluster without a Service UID"

const ipProtocol = (protocol: string | undefined): string => (protocol?.toLowerCase() === "udp" ? "udp" : "tcp")

const ports = (start: number | undefined, end: number | undefined): string =>
  start === undefined ? "" : end === undefined || end === start ? `/${start}` : `/${start}-${end}`

/** Untagged Go-named rules whose Service is gone: only their members can show they are this cluster's. */
export const membersWanted = (
  cluster: string,
  inventory: Inventory,
  services: ReadonlyArray<ServiceView>
): ReadonlyArray<string> => {
  const index = indexServices(services)
  return inventory.rules.filter((r) => {
    const pointer = namePointer(cluster, r.name)
    return clusterOf(r.tags) === undefined && pointer?._tag === "GoName" &&
      statusOf(index, cluster, pointer)._tag === "Gone"
  }).map((r) => r.id).sort()
}

interface Ctx {
  readonly input: OrphanInput
  readonly index: ServiceIndex
  /** UIDs this cluster's tags or member-proven Go names show to be its Services. */
  readonly clusterUids: ReadonlySet<string>
  readonly clusterLbNames: ReadonlySet<string>
}

/**
 * A Go name made from the UID the tags name: the tags say it all. (A fork name is kept as a pointer:
 * a new Service of the same namespace/name takes such rules for its own.)
 */
const sameService = (tag: Pointer, name: Pointer): boolean =>
  tag._tag === "Uid" && name._tag === "GoName" && lbName(tag.uid) === name.lbName

const hasNodeMember = (input: OrphanInput, ruleId: string): boolean =>
  (input.members.get(ruleId) ?? []).some((vm) => input.nodeVms.has(vm))

/**
 * What a resource's tags say: another cluster's (never touched), this cluster's without a UID
 * (unsure), or the owner they name (none when untagged: only a name or marker can then tell).
 */
const readTags = (
  ctx: Ctx,
  tags: ReadonlyArray<Tag>
): { readonly decided: Verdict } | { readonly byTag: Pointer | undefined } => {
  const cluster = clusterOf(tags)
  if (cluster === undefined) return { byTag: undefined }
  if (cluster !== ctx.input.cluster) return { decided: notOurs(tags) }
  const byTag = tagPointer(tags)
  return byTag === undefined ? { decided: { _tag: "Kept", why: NO_UID } } : { byTag }
}

/** The verdict of everything the resource names together; not ours when it names nothing. */
const judge = (ctx: Ctx, tags: ReadonlyArray<Tag>, pointers: ReadonlyArray<Pointer>): Verdict =>
  pointers.length === 0
    ? notOurs(tags)
    : fromStatus(combine(pointers.map((p) => statusOf(ctx.index, ctx.input.cluster, p))))

const ruleVerdict = (ctx: Ctx, r: LoadBalancerRule): Verdict => {
  const tags = readTags(ctx, r.tags)
  if ("decided" in tags) return tags.decided
  const { byTag } = tags
  const byName = namePointer(ctx.input.cluster, r.name)
  const named = byName !== undefined && (byTag === undefined || !sameService(byTag, byName))
  const verdict = judge(ctx, r.tags, [...(byTag === undefined ? [] : [byTag]), ...(named ? [byName] : [])])
  // A Go name carries no cluster: an untagged one is this cluster's only if a member is one of its Nodes.
  if (verdict._tag !== "Orphan" || byTag !== undefined || byName?._tag !== "GoName") return verdict
  return hasNodeMember(ctx.input, r.id)
    ? { _tag: "Orphan", why: `${verdict.why} (its members are Nodes of this cluster)` }
    : {
      _tag: "Kept",
      why: `${verdict.why}; but none of its members is a Node of this cluster: it may be another cluster's`
    }
}

/** Whether a firewall rule opens the port of an LB rule on the same IP. */
const opens = (f: FirewallRule, r: LoadBalancerRule): boolean => {
  const protocol = f.protocol.toLowerCase()
  if (protocol !== "all" && protocol !== ipProtocol(r.protocol)) return false
  if (f.startPort === undefined) return true
  return r.publicPort >= f.startPort && r.publicPort <= (f.endPort ?? f.startPort)
}

/** Firewall rules and IPs carry no name: only their tags make them ours. */
const taggedOnly = (ctx: Ctx, tags: ReadonlyArray<Tag>): Verdict => {
  const read = readTags(ctx, tags)
  return "decided" in read ? read.decided : judge(ctx, tags, read.byTag === undefined ? [] : [read.byTag])
}

const firewallVerdict = (ctx: Ctx, f: FirewallRule, rules: ReadonlyMap<string, Verdict>): Verdict => {
  const verdict = taggedOnly(ctx, f.tags)
  if (verdict._tag !== "Orphan") return verdict
  // It may open the port of a rule that stays (adopted by another Service, the user's): it stays too.
  const served = ctx.input.inventory.rules.find((r) =>
    r.publicIpId === f.ipAddressId && rules.get(r.id)?._tag !== "Orphan" && opens(f, r)
  )
  return served === undefined
    ? verdict
    : { _tag: "Kept", why: `${verdict.why}; but it opens the port of LB rule ${served.name}, which is not an orphan` }
}

const aclVerdict = (ctx: Ctx, a: NetworkAclItem): Verdict => {
  const tags = readTags(ctx, a.tags)
  if ("decided" in tags) return tags.decided
  const marker = markerPointer(a.reason)
  const verdict = judge(ctx, a.tags, [tags.byTag, marker].filter((p) => p !== undefined))
  // The marker names no cluster: an untagged item is this cluster's only if its UID is known to be.
  const known = (uid: string) => ctx.clusterUids.has(uid) || ctx.clusterLbNames.has(lbName(uid))
  if (verdict._tag === "Orphan" && tags.byTag === undefined && marker?._tag === "Uid" && !known(marker.uid)) {
    return {
      _tag: "Kept",
      why: `${verdict.why}; but nothing shows the Service was this cluster's: it may be another cluster's`
    }
  }
  return verdict
}

const ipVerdict = (
  ctx: Ctx,
  ip: PublicIpAddress,
  claims: ReadonlyMap<string, string>,
  rules: ReadonlyMap<string, Verdict>,
  firewall: ReadonlyMap<string, Verdict>
): Verdict => {
  const { inventory } = ctx.input
  const verdict = taggedOnly(ctx, ip.tags)
  if (verdict._tag !== "Orphan") return verdict
  const keep = (why: string): Verdict => ({ _tag: "Kept", why: `${verdict.why}; but ${why}` })
  const claimant = claims.get(ip.id) ?? claims.get(ip.ipAddress)
  if (claimant !== undefined) return keep(`Service ${claimant} records or requests it`)
  if (isKept(ip.tags)) return keep(`a Service that gave it up asked to keep it (tag ${KEPT})`)
  if (ip.isSourceNat) return keep("it is a source NAT IP")
  if (ip.isStaticNat) return keep("it is a static NAT IP")
  if (ip.state !== "Allocated") return keep(`it is ${ip.state}`)
  const onIt = inventory.rules.filter((r) => r.publicIpId === ip.id)
  const fwOnIt = inventory.firewall.filter((f) => f.ipAddressId === ip.id)
  const staying = onIt.find((r) => rules.get(r.id)?._tag !== "Orphan")
  if (staying !== undefined) return keep(`LB rule ${staying.name} on it is not an orphan`)
  const stayingFw = fwOnIt.find((f) => firewall.get(f.id)?._tag !== "Orphan")
  if (stayingFw !== undefined) {
    return keep(
      `firewall rule ${stayingFw.id} (${stayingFw.protocol}${
        ports(stayingFw.startPort, stayingFw.endPort)
      }) on it is not an orphan`
    )
  }
  // Only a leftover rule shows its Service went without cleanup; a bare IP may be kept on purpose (keep-ip).
  if (onIt.length === 0 && fwOnIt.length === 0) {
    return keep("nothing is on it: it may have been kept on purpose (keep-ip); release it by hand if it is not wanted")
  }
  return verdict
}

const addressOf = (inventory: Inventory, ipId: string, fallback: string | undefined): string =>
  inventory.ips.find((ip) => ip.id === ipId)?.ipAddress ?? fallback ?? ipId

const byLabel = (a: { readonly resource: Resource }, b: { readonly resource: Resource }) =>
  a.resource.label.localeCompare(b.resource.label) || a.resource.id.localeCompare(b.resource.id)

/** The orphans in a safe deletion order, and what is left with why. */
export const plan = (input: OrphanInput): OrphanPlan => {
  const { cluster, inventory } = input
  const index = indexServices(input.services)
  const allTags = [...inventory.ips, ...inventory.rules, ...inventory.firewall, ...inventory.acl].map((x) => x.tags)
  const clusterUids = new Set(
    allTags.filter((t) => clusterOf(t) === cluster).flatMap((t) => {
      const p = tagPointer(t)
      return p?._tag === "Uid" ? [p.uid] : []
    })
  )
  const clusterLbNames = new Set(inventory.rules.flatMap((r) => {
    const p = namePointer(cluster, r.name)
    return p?._tag === "GoName" && hasNodeMember(input, r.id) ? [p.lbName] : []
  }))
  const ctx: Ctx = { input, index, clusterUids, clusterLbNames }
  const claims = new Map<string, string>()
  for (const s of input.services) {
    const c = claimsOf([s], "")
    for (const v of [...c.recorded, ...c.requested]) claims.set(v, serviceKey(s))
  }

  const ruleVerdicts = new Map(inventory.rules.map((r) => [r.id, ruleVerdict(ctx, r)] as const))
  const fwVerdicts = new Map(inventory.firewall.map((f) => [f.id, firewallVerdict(ctx, f, ruleVerdicts)] as const))
  const ipVerdicts = new Map(
    inventory.ips.map((ip) => [ip.id, ipVerdict(ctx, ip, claims, ruleVerdicts, fwVerdicts)] as const)
  )

  const firewall: Array<Step> = []
  const acl: Array<Step> = []
  const rules: Array<Step> = []
  const ips: Array<Step> = []
  const left: Array<Left> = []
  const sort = <A extends { readonly resource: Resource }>(xs: Array<A>) => xs.sort(byLabel)

  for (const f of inventory.firewall) {
    const v = fwVerdicts.get(f.id)
    const resource: Resource = {
      kind: "FirewallRule",
      id: f.id,
      label: `${f.protocol}${ports(f.startPort, f.endPort)} on ${addressOf(inventory, f.ipAddressId, f.ipAddress)}`
    }
    if (v?._tag === "Orphan") firewall.push(Step.DeleteFirewall({ resource, why: v.why, ipId: f.ipAddressId }))
    if (v?._tag === "Kept") left.push({ resource, why: v.why })
  }
  for (const a of inventory.acl) {
    const v = aclVerdict(ctx, a)
    const resource: Resource = {
      kind: "NetworkAclItem",
      id: a.id,
      label: `${a.protocol}${ports(a.startPort, a.endPort)} in ACL list ${a.aclId}${
        a.number === undefined ? "" : ` (#${a.number})`
      }`
    }
    if (v._tag === "Orphan") acl.push(Step.DeleteAcl({ resource, why: v.why }))
    if (v._tag === "Kept") left.push({ resource, why: v.why })
  }
  for (const r of inventory.rules) {
    const v = ruleVerdicts.get(r.id)
    const resource: Resource = {
      kind: "LoadBalancerRule",
      id: r.id,
      label: `${r.name} on ${r.publicIp}:${r.publicPort}`
    }
    if (v?._tag === "Orphan") rules.push(Step.DeleteRule({ resource, why: v.why, ipId: r.publicIpId }))
    if (v?._tag === "Kept") left.push({ resource, why: v.why })
  }
  for (const ip of inventory.ips) {
    const v = ipVerdicts.get(ip.id)
    const resource: Resource = { kind: "PublicIpAddress", id: ip.id, label: ip.ipAddress }
    if (v?._tag === "Orphan") ips.push(Step.ReleaseIp({ resource, why: v.why }))
    if (v?._tag === "Kept") left.push({ resource, why: v.why })
  }
  // The IP under an orphan rule that is not released is said so, with why (Kept ones already are).
  const reported = new Set(left.map((l) => l.resource.id))
  for (const r of inventory.rules) {
    if (ruleVerdicts.get(r.id)?._tag !== "Orphan" || reported.has(r.publicIpId)) continue
    const v = ipVerdicts.get(r.publicIpId) ?? { _tag: "NotOurs", why: "not tagged as ours" }
    if (v._tag === "Orphan") continue
    reported.add(r.publicIpId)
    const why = v._tag === "InUse" ? `it belongs to Service ${v.service}, which exists` : v.why
    left.push({
      resource: { kind: "PublicIpAddress", id: r.publicIpId, label: addressOf(inventory, r.publicIpId, r.publicIp) },
      why: `IP left: ${why} (it carries the orphan LB rule ${r.name})`
    })
  }
  return {
    steps: [...sort(firewall), ...sort(acl), ...sort(rules), ...sort(ips)],
    left: sort(left)
  }
}

/** The IP a step's success is a precondition of releasing, if any. */
export const ipOfStep = (step: Step): string | undefined =>
  step._tag === "DeleteFirewall" || step._tag === "DeleteRule" ? step.ipId : undefined
