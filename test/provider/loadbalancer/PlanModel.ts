/**
 * A model of CloudStack for the planner's properties: what each step does to a Service's LB (and
 * what CloudStack refuses: a second rule on a public port, overlapping firewall rules, rules on an
 * IP of another network), what the next Observe would see, and an oracle of the LB a Service asks
 * for that does not ask the planner. Pure.
 */
import { Either, Option } from "effect"
import type { FirewallRule } from "../../../src/cloudstack/commands/Firewall.js"
import type { NetworkAclItem } from "../../../src/cloudstack/commands/NetworkAcls.js"
import { AclItemId, FirewallRuleId, IpAddressId, LbRuleId, type VmId } from "../../../src/cloudstack/Ids.js"
import * as Cidr from "../../../src/provider/loadbalancer/Cidr.js"
import type { ObservedIp, ObservedLb, ObservedRule } from "../../../src/provider/loadbalancer/ObservedLb.js"
import type { Ownership } from "../../../src/provider/loadbalancer/Ownership.js"
import type { DesiredLb, IpRef, Step, Target } from "../../../src/provider/loadbalancer/Plan.js"
import { conflicts } from "../../arbitraries/LoadBalancer.js"
import { show } from "./PlanFixtures.js"

/** Everything of the Service in the model, whether the next Observe sees it or not. */
export type Cloud = Omit<ObservedLb, "requested" | "policies">

export interface World {
  /** What the next Observe sees. */
  readonly observed: ObservedLb
  readonly all: Cloud
  /** The IP AcquireIp associated. */
  readonly acquired: Option.Option<IpAddressId>
  readonly ownership: Ownership
}

/** Applies the steps of a plan made from `o`; Left names the first step CloudStack (or the executor) would refuse. */
export const apply = (d: DesiredLb, o: ObservedLb, steps: ReadonlyArray<Step>): Either.Either<World, string> =>
  applyTo(d, o, o, steps)

/** Applies the steps of a plan made from `o` to `cloud` (which may hold more than `o` shows). */
export const applyTo = (
  d: DesiredLb,
  cloud: Cloud,
  o: ObservedLb,
  steps: ReadonlyArray<Step>
): Either.Either<World, string> => {
  let ips: Array<ObservedIp> = [...cloud.ips]
  let rules: Array<ObservedRule> = [...cloud.rules]
  const members = new Map(cloud.members)
  let firewall: Array<FirewallRule> = [...cloud.firewall]
  let acl: Array<NetworkAclItem> = [...cloud.acl]
  let ownership = d.ownership
  let acquired: ObservedIp | undefined
  const created = new Map<string, LbRuleId>()
  // New ids continue after those of an earlier application (the input may be one's result).
  const earlier = [
    ...ips.map((i) => i.id),
    ...rules.map((r) => r.id),
    ...firewall.map((f) => f.id),
    ...acl.map((a) => a.id)
  ]
  let n = Math.max(0, ...earlier.map((id) => (/^new-.*-(\d+)$/.exec(id)?.[1] ?? "0")).map(Number))

  const ipOf = (ref: IpRef): ObservedIp | string => {
    if (ref._tag === "Acquired") return acquired ?? "the acquired IP used before AcquireIp"
    const known = ips.find((i) => i.id === ref.id)
    if (known !== undefined) return known
    // The requested IP that is available is not among the observed ones until it is used.
    const requested = Option.getOrUndefined(o.requested)
    if (requested?._tag === "Available" && requested.ip.id === ref.id) {
      const theirs = { ...requested.ip, recorded: false }
      ips.push(theirs)
      return theirs
    }
    return `unknown IP ${ref.id}`
  }

  for (const step of steps) {
    const refused = (why: string) => Either.left(`${show(step)}: ${why}`)
    switch (step._tag) {
      case "AcquireIp": {
        if (acquired !== undefined) return refused("a second AcquireIp")
        acquired = {
          id: IpAddressId.make(`new-ip-${++n}`),
          address: Option.getOrElse(step.address, () => `198.51.100.${200 + n}`),
          // a VPC IP is associated with the tier by its first rule
          associatedNetworkId: Option.isSome(d.network.vpcId) ? Option.none() : Option.some(d.network.id),
          vpcId: d.network.vpcId,
          owned: true,
          foreignRules: 0,
          foreignPorts: [],
          recorded: false,
          releasing: false,
          tags: Option.some([])
        }
        ips.push(acquired)
        // Execute records the address before it associates it (a crash then adopts, never leaks it).
        ownership = { ...ownership, allocating: Option.some(acquired.address) }
        break
      }
      case "CreateRule": {
        const target = ipOf(step.ip)
        if (typeof target === "string") return refused(target)
        // An associated IP carries rules of its own network only; a VPC IP those of its VPC's tiers.
        if (Option.exists(target.associatedNetworkId, (n) => n !== d.network.id)) {
          return refused("the IP is on another network")
        }
        if (Option.isSome(target.vpcId) && !Option.contains(d.network.vpcId, target.vpcId.value)) {
          return refused("the IP is in another VPC")
        }
        if (rules.some((r) => r.ipId === target.id && r.publicPort === step.port.publicPort)) {
          return refused("537 port conflict")
        }
        const id = LbRuleId.make(`new-rule-${++n}`)
        rules.push({
          id,
          name: step.port.name,
          protocol: step.port.protocol,
          publicPort: step.port.publicPort,
          privatePort: step.port.privatePort,
          algorithm: d.spec.algorithm,
          cidrs: Option.getOrElse(d.spec.ruleCidrs, () => []),
          ipId: target.id,
          networkId: Option.some(d.network.id),
          tags: []
        })
        if (Option.isNone(target.associatedNetworkId)) {
          ips = ips.map((i) => (i.id === target.id ? { ...i, associatedNetworkId: Option.some(d.network.id) } : i))
        }
        created.set(step.port.name, id)
        members.set(id, [])
        break
      }
      case "UpdateRule": {
        if (!rules.some((r) => r.id === step.id)) return refused("431 no such rule")
        // Execute sends the algorithm and, when the annotation is set, the cidrlist.
        rules = rules.map((r) =>
          r.id === step.id
            ? { ...r, algorithm: d.spec.algorithm, cidrs: Option.getOrElse(d.spec.ruleCidrs, () => r.cidrs) }
            : r
        )
        break
      }
      case "DeleteRule": {
        if (!rules.some((r) => r.id === step.id)) return refused("431 no such rule")
        rules = rules.filter((r) => r.id !== step.id)
        members.delete(step.id)
        break
      }
      case "AssignMembers": {
        const id = step.rule._tag === "Existing" ? step.rule.id : created.get(step.rule.name)
        if (id === undefined || !rules.some((r) => r.id === id)) {
          return refused("assigned to a rule that does not exist")
        }
        members.set(id, [...new Set([...(members.get(id) ?? []), ...step.vms])].sort())
        break
      }
      case "RemoveMembers": {
        if (!rules.some((r) => r.id === step.rule)) return refused("431 no such rule")
        const gone = new Set<VmId>(step.vms)
        members.set(step.rule, (members.get(step.rule) ?? []).filter((v) => !gone.has(v)))
        break
      }
      case "CreateFirewall": {
        const target = ipOf(step.ip)
        if (typeof target === "string") return refused(target)
        const rule: FirewallRule = {
          id: FirewallRuleId.make(`new-fw-${++n}`),
          protocol: step.protocol,
          startPort: step.port,
          endPort: step.port,
          ipAddressId: target.id,
          state: "Active",
          cidrList: step.cidrs,
          tags: []
        }
        const clash = firewall.find((f) => conflicts(f, rule))
        if (clash !== undefined) return refused(`537 conflicts with ${clash.id}`)
        firewall.push(rule)
        break
      }
      case "DeleteFirewall": {
        if (!firewall.some((f) => f.id === step.id)) return refused("431 no such firewall rule")
        firewall = firewall.filter((f) => f.id !== step.id)
        break
      }
      case "CreateAcl": {
        if (d.network.access._tag !== "Acl") return refused("an ACL item without an ACL list")
        acl.push({
          id: AclItemId.make(`new-acl-${++n}`),
          protocol: step.protocol,
          startPort: step.port,
          endPort: step.port,
          cidrList: step.cidrs,
          aclId: d.network.access.aclId,
          reason: d.aclReason,
          tags: []
        })
        break
      }
      case "DeleteAcl": {
        if (!acl.some((a) => a.id === step.id)) return refused("431 no such ACL item")
        acl = acl.filter((a) => a.id !== step.id)
        break
      }
      case "ReleaseIp": {
        if (!ips.some((i) => i.id === step.id)) return refused("431 no such IP")
        // Releasing an IP removes its rules and firewall rules with it.
        for (const r of rules) if (r.ipId === step.id) members.delete(r.id)
        rules = rules.filter((r) => r.ipId !== step.id)
        firewall = firewall.filter((f) => f.ipAddressId !== step.id)
        ips = ips.filter((i) => i.id !== step.id)
        break
      }
      case "Tag":
        // Tags change no load-balancer state; the property tests plan with tags off (PlanFixtures.desired).
        break
      case "Persist": {
        const ref = Option.map(step.ip, ipOf)
        if (Option.isSome(ref) && typeof ref.value === "string") return refused(ref.value)
        ownership = {
          ipId: Option.flatMap(ref, (r) => (typeof r === "string" ? Option.none() : Option.some(r.id))),
          associated: step.associated,
          allocating: Option.none(),
          stickyApplied: step.stickyApplied
        }
        break
      }
    }
  }

  // What the next Observe sees: the recorded IP (owned as recorded), the address being associated
  // (adopted as ours), IPs carrying our rules, their firewall rules, our ACL items; the requested
  // address is looked up only if none of them has it.
  const recordedId = Option.getOrUndefined(ownership.ipId)
  const allocating = Option.getOrUndefined(ownership.allocating)
  const adopted = (i: ObservedIp) => i.address === allocating && i.foreignRules === 0
  const visible = ips
    .map((i) =>
      i.id === recordedId
        ? { ...i, recorded: true, owned: ownership.associated }
        : adopted(i)
        ? { ...i, recorded: false, owned: true }
        : { ...i, recorded: false }
    )
    .filter((i) => i.recorded || adopted(i) || rules.some((r) => r.ipId === i.id))
  const visibleIds = new Set(visible.map((i) => i.id))
  const requested = Option.filter(
    o.requested,
    (r) => !visible.some((i) => i.address === (r._tag === "Available" ? r.ip.address : r.address))
  )
  return Either.right({
    observed: {
      ips: visible,
      rules: rules.filter((r) => visibleIds.has(r.ipId)),
      members,
      policies: new Map(),
      firewall: firewall.filter((f) => visibleIds.has(f.ipAddressId)),
      acl,
      requested
    },
    all: { ips, rules, members, firewall, acl },
    acquired: Option.map(Option.fromNullable(acquired), (i) => i.id),
    ownership
  })
}

/** A compact text of a counterexample (fast-check's own printing of Options and Maps is unreadable). */
export const describeInput = (d: DesiredLb, o: ObservedLb): string => {
  const opt = <A>(x: Option.Option<A>) => Option.match(x, { onNone: () => "-", onSome: String })
  const list = (xs: ReadonlyArray<string> | undefined) => `[${(xs ?? []).join(",")}]`
  const rule = (r: ObservedRule) =>
    `${r.id} ${r.name.slice(d.spec.lbName.length + 1)} ${r.publicPort}>${r.privatePort} on ${r.ipId} ${r.algorithm} ${
      list(r.cidrs)
    }`
  return [
    `network ${d.network.access._tag}${d.network.access._tag === "Acl" ? `(${d.network.access.listName})` : ""} vpc=${
      opt(d.network.vpcId)
    }`,
    `spec ports=${
      list(d.spec.ports.map((p) => `${p.name.slice(d.spec.lbName.length + 1)} ${p.publicPort}>${p.privatePort}`))
    } requested=${opt(d.spec.requestedIp)} alg=${d.spec.algorithm} sources=${list(d.spec.sourceRanges)} ruleCidrs=${
      Option.match(d.spec.ruleCidrs, { onNone: () => "-", onSome: list })
    } keepIp=${d.spec.keepIp}`,
    `members=${list(d.members)} recreateForCidrs=${d.recreateForCidrs} record=${
      opt(d.ownership.ipId)
    } associated=${d.ownership.associated} allocating=${opt(d.ownership.allocating)}`,
    ...o.ips.map((i) =>
      `ip ${i.id} ${i.address} net=${opt(i.associatedNetworkId)} vpc=${
        opt(i.vpcId)
      } owned=${i.owned} foreign=${i.foreignRules} recorded=${i.recorded}`
    ),
    ...o.rules.map((r) =>
      `rule ${rule(r)} members=${o.members.has(r.id) ? list(o.members.get(r.id)) : "(not listed)"}`
    ),
    ...o.firewall.map((f) =>
      `fw ${f.id} on ${f.ipAddressId} ${f.protocol}/${f.startPort}-${f.endPort} ${list(f.cidrList)}`
    ),
    ...o.acl.map((a) => `acl ${a.id} ${a.protocol}/${a.startPort} ${list(a.cidrList)}`),
    `requested=${
      Option.match(o.requested, {
        onNone: () => "-",
        onSome: (r) => (r._tag === "Available"
          ? `Available ${r.ip.id} ${r.ip.address} foreign=${r.ip.foreignRules}`
          : `${r._tag} ${r.address}`)
      })
    }`
  ].join("\n")
}

const ipProtocolOf = (protocol: string) => (protocol === "udp" ? "udp" : "tcp")
const isSinglePort = (f: FirewallRule, port: number, protocol: string) =>
  f.protocol.toLowerCase() === protocol && f.startPort === port && (f.endPort ?? port) === port

/** keep-ip keeps the Service's IP, not an address adopted through `allocating` that it does not use. */
export const keptByKeepIp = (d: DesiredLb, ip: ObservedIp): boolean =>
  d.spec.keepIp && !(!ip.recorded && Option.contains(d.ownership.allocating, ip.address))

/**
 * What is wrong with the LB after a plan ran, judged from the Service alone (not from the planner):
 * one IP carrying exactly one rule per port with its algorithm, cidrs and members, the firewall
 * rules or ACL items with the source ranges, the record naming that IP, every IP that was ours
 * alone (and not kept) released, the others still there.
 */
export const problems = (
  d: DesiredLb,
  o: ObservedLb,
  target: Option.Option<Target>,
  w: World
): ReadonlyArray<string> => {
  const out: Array<string> = []
  const { acl, firewall, ips, members, rules } = w.all
  const expect = (ok: boolean, what: string) => {
    if (!ok) out.push(what)
  }
  const lbId = Option.getOrUndefined(
    Option.flatMap(target, (t) => (t._tag === "Existing" ? Option.some(t.ip.id) : w.acquired))
  )
  for (const ip of o.ips) {
    const releasable = ip.owned && ip.foreignRules === 0 && !keptByKeepIp(d, ip) && ip.id !== lbId
    expect(ips.some((i) => i.id === ip.id) !== releasable, `${ip.id} ${releasable ? "not released" : "released"}`)
  }
  expect(Option.isNone(w.ownership.allocating), "the record still says allocating")
  // an associated IP is the LB's or gone: never leaked, never a second one
  const theirs = new Set([
    ...o.ips.map((i) => i.id),
    ...Option.toArray(o.requested).flatMap((r) => (r._tag === "Available" ? [r.ip.id] : []))
  ])
  const leaked = ips.filter((i) => !theirs.has(i.id) && i.id !== lbId)
  expect(leaked.length === 0, `leaked: ${leaked.map((i) => i.address).join(",")}`)
  if (d.spec.ports.length === 0) {
    expect(rules.length === 0, `rules left: ${rules.map((r) => r.id).join(",")}`)
    expect(acl.length === 0, "ACL items left")
    const recorded = Option.getOrUndefined(w.ownership.ipId)
    expect(
      recorded === undefined || ips.some((i) => i.id === recorded && i.owned),
      `recorded ${recorded}, not an IP of ours`
    )
  } else {
    expect(lbId !== undefined, "no IP")
    const lb = ips.find((i) => i.id === lbId) ??
      Option.getOrUndefined(
        Option.flatMap(o.requested, (r) => (r._tag === "Available" ? Option.some(r.ip) : Option.none()))
      )
    expect(
      Option.getOrUndefined(w.ownership.ipId) === lbId,
      `the record names ${Option.getOrUndefined(w.ownership.ipId)}, the LB is on ${lbId}`
    )
    expect(
      lb !== undefined && w.ownership.associated === (Option.isSome(w.acquired) || lb.owned),
      "the record's associated flag"
    )
    expect(
      lb !== undefined && Option.contains(lb.associatedNetworkId, d.network.id),
      `the LB's IP is not on ${d.network.id}`
    )
    expect(
      rules.every((r) => r.ipId === lbId),
      `rules on other IPs: ${rules.filter((r) => r.ipId !== lbId).map((r) => r.id).join(",")}`
    )
    expect(rules.length === d.spec.ports.length, `${rules.length} rules for ${d.spec.ports.length} ports`)
    for (const p of d.spec.ports) {
      const mine = rules.filter((r) =>
        r.name === p.name && r.protocol === p.protocol && r.publicPort === p.publicPort &&
        r.privatePort === p.privatePort
      )
      expect(mine.length === 1, `${mine.length} rules for ${p.name}`)
      const [r] = mine
      if (r === undefined) continue
      expect(r.algorithm.toLowerCase() === d.spec.algorithm, `${r.id} algorithm ${r.algorithm}`)
      expect(
        Option.match(d.spec.ruleCidrs, {
          onNone: () =>
            r.cidrs.length === 0 || Cidr.sameSet(r.cidrs, ["0.0.0.0/0"]) ||
            Cidr.sameSet(r.cidrs, ["0.0.0.0/0", "::/0"]),
          onSome: (wanted) => Cidr.sameSet(wanted, r.cidrs)
        }),
        `${r.id} cidrs [${r.cidrs.join(",")}]`
      )
      expect(
        String([...new Set(members.get(r.id))].sort()) === String([...new Set(d.members)].sort()),
        `${r.id} members`
      )
      if (d.network.access._tag === "Firewall") {
        const open = firewall.filter((f) => f.ipAddressId === lbId && isSinglePort(f, p.publicPort, p.ipProtocol))
        expect(
          open.length === 1 && Cidr.sameSet(open[0]?.cidrList ?? ["0.0.0.0/0"], d.spec.sourceRanges),
          `firewall for ${p.name}: ${open.length}`
        )
        const stale = firewall.filter((f) =>
          f.ipAddressId === lbId && f.startPort === p.publicPort && (f.endPort ?? f.startPort) === p.publicPort &&
          f.protocol.toLowerCase() !== p.ipProtocol && o.rules.some((r) =>
            r.ipId === lbId && r.publicPort === p.publicPort && ipProtocolOf(r.protocol) === f.protocol.toLowerCase()
          )
        )
        expect(stale.length === 0, `a stale firewall rule of the old protocol on ${p.publicPort}`)
      }
    }
    if (d.network.access._tag === "Acl" && d.network.access.listName === "lb-acl") {
      expect(acl.length === d.spec.ports.length, `${acl.length} ACL items for ${d.spec.ports.length} ports`)
      for (const p of d.spec.ports) {
        expect(
          acl.some((a) =>
            a.protocol.toLowerCase() === p.ipProtocol && a.startPort === p.publicPort &&
            Cidr.sameSet(a.cidrList ?? [], d.spec.sourceRanges)
          ),
          `no ACL item for ${p.name}`
        )
      }
    } else {
      expect(acl.length === 0, "ACL items on a list that cannot have them")
    }
  }
  // the firewall rules of our rules on other IPs that are still there are gone with the rules
  for (const r of o.rules) {
    if (r.ipId === lbId || !ips.some((i) => i.id === r.ipId)) continue
    expect(
      !firewall.some((f) => f.ipAddressId === r.ipId && isSinglePort(f, r.publicPort, ipProtocolOf(r.protocol))),
      `firewall of ${r.id} left on ${r.ipId}`
    )
  }
  return out
}
