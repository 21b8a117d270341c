/**
 * The chaos suite's invariants over the final world, reusable by any test that ends with the
 * simulator and FakeKubernetes settled: every Service converged (or excused by a user error it was
 * told of), nothing leaked, nothing duplicated, no foreign resource touched, no Node deleted while
 * its VM exists, and a steady state (no CloudStack mutation once converged). Pure: snapshots in,
 * violations with precise messages out (sorted, so a replay prints the same).
 */
import { Option } from "effect"
import type { EventView } from "../../src/kubernetes/EventView.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import type { ServiceView } from "../../src/kubernetes/ServiceView.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"
import { lbName } from "../../src/provider/loadbalancer/LbName.js"
import { aclMarker } from "../../src/provider/loadbalancer/ObservedLb.js"
import * as Tags from "../../src/provider/loadbalancer/Tags.js"
import * as CallCounts from "../../src/simulation/cloudstack/CallCounts.js"
import type { CallRecord } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import type { SimState } from "../../src/simulation/cloudstack/SimModel.js"
import { expect, type Expectation, key, vmGone, wantsLb } from "./ChaosExpect.js"

export type Invariant = "converged" | "warning" | "leak" | "duplicate" | "foreign" | "node" | "steady" | "deleting"

export interface Violation {
  readonly invariant: Invariant
  readonly message: string
}

export interface NodeDeletion {
  readonly node: string
  readonly vm: string
  readonly vmState: string
  readonly at: number
}

export interface CheckInput {
  readonly cluster: string
  readonly ccmAccount: string
  /** The Lb capabilities of each network by name (the world's definition). */
  readonly providers: ReadonlyMap<string, { readonly udp: boolean; readonly healthChecks: boolean }>
  /** The cloud before the CCM first started: all of it is foreign. */
  readonly before: SimState
  readonly after: SimState
  readonly services: ReadonlyArray<ServiceView>
  readonly nodes: ReadonlyArray<NodeView>
  readonly events: ReadonlyArray<EventView>
  /** IP ids and addresses each Service UID recorded while it asked to keep its IP (keep-ip). */
  readonly kept: ReadonlyMap<string, ReadonlySet<string>>
  /** Nodes the CCM deleted while their VM existed (seen at the moment of the delete call). */
  readonly nodeDeletions: ReadonlyArray<NodeDeletion>
  /** Nodes kubelet registered and the cluster never removed, with their VM. */
  readonly registered: ReadonlyArray<{ readonly node: string; readonly vm: string }>
  /** The CloudStack calls of the steady window (after convergence). */
  readonly steadyCalls: ReadonlyArray<CallRecord>
}

const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  [...a].sort().join(",") === [...b].sort().join(",")
const allSources = (cidrs: ReadonlyArray<string>) => cidrs.length === 0 || sameSet(cidrs, ["0.0.0.0/0"])
const { isMutation } = CallCounts

export const check = (input: CheckInput): ReadonlyArray<Violation> => {
  const out: Array<Violation> = []
  const add = (invariant: Invariant, message: string) => out.push({ invariant, message })
  const { after, before } = input
  const foreign = {
    ips: new Set(before.publicIps.filter((i) => i.state !== "Free").map((i) => i.uuid)),
    rules: new Set(before.lbRules.map((r) => r.uuid)),
    firewall: new Set(before.firewallRules.map((f) => f.uuid)),
    acl: new Set(before.aclItems.map((a) => a.uuid))
  }
  const address = (ipUuid: string) => after.publicIps.find((i) => i.uuid === ipUuid)?.address ?? ipUuid
  const tagsOf = (type: string, uuid: string) =>
    after.tags.filter((t) => t.resourceType === type && t.resourceUuid === uuid)

  // ---- foreign resources: all there, unchanged ----
  const tagKey = (type: string, uuid: string) =>
    JSON.stringify(
      before.tags.filter((t) => t.resourceType === type && t.resourceUuid === uuid).map((t) => [t.key, t.value]).sort()
    )
  const sameTags = (type: string, uuid: string) =>
    tagKey(type, uuid) === JSON.stringify(tagsOf(type, uuid).map((t) => [t.key, t.value]).sort())
  const norm = (row: object) =>
    JSON.stringify(
      row,
      (_, v: unknown) => (v instanceof Map
        ? [...v.entries()].map(([k, s]) => [k, s instanceof Set ? [...s].sort() : s]).sort()
        : v instanceof Set
        ? [...v].sort()
        : v)
    )
  for (const ip of before.publicIps.filter((i) => foreign.ips.has(i.uuid))) {
    const now = after.publicIps.find((i) => i.uuid === ip.uuid)
    if (
      now === undefined || now.state !== ip.state || now.owner !== ip.owner ||
      now.associatedNetworkUuid !== ip.associatedNetworkUuid || now.staticNatVmUuid !== ip.staticNatVmUuid
    ) {
      add(
        "foreign",
        `foreign IP ${ip.address} (${ip.owner}) changed: ${
          now === undefined
            ? "gone"
            : `${ip.state}/${ip.associatedNetworkUuid ?? "-"} -> ${now.state}/${
              now.associatedNetworkUuid ?? "-"
            } owner ${now.owner ?? "-"}`
        }`
      )
    }
    if (!sameTags("PublicIpAddress", ip.uuid)) add("foreign", `foreign IP ${ip.address}: tags changed`)
  }
  for (const rule of before.lbRules) {
    const now = after.lbRules.find((r) => r.uuid === rule.uuid)
    if (now === undefined) {
      add("foreign", `foreign LB rule ${rule.name} (${rule.owner}) on ${address(rule.ipUuid)} was deleted`)
    } else if (norm({ ...now, state: "" }) !== norm({ ...rule, state: "" })) {
      add("foreign", `foreign LB rule ${rule.name} (${rule.owner}) changed: ${norm(rule)} -> ${norm(now)}`)
    }
    if (!sameTags("LoadBalancer", rule.uuid)) add("foreign", `foreign LB rule ${rule.name}: tags changed`)
    for (const kind of ["stickiness", "healthChecks"] as const) {
      const was = norm(before[kind].filter((p) => p.lbUuid === rule.uuid))
      const is = norm(after[kind].filter((p) => p.lbUuid === rule.uuid))
      if (was !== is) add("foreign", `foreign LB rule ${rule.name}: ${kind} policies changed`)
    }
  }
  for (const fw of before.firewallRules) {
    const now = after.firewallRules.find((f) => f.uuid === fw.uuid)
    if (now === undefined) {
      add(
        "foreign",
        `foreign firewall rule ${fw.protocol}/${fw.startport ?? "-"} from ${fw.cidrlist.join(",")} on ${
          address(fw.ipUuid)
        } (${fw.owner}) was deleted`
      )
    } else if (norm({ ...now, state: "" }) !== norm({ ...fw, state: "" })) {
      add("foreign", `foreign firewall rule on ${address(fw.ipUuid)} changed`)
    }
    if (!sameTags("FirewallRule", fw.uuid)) {
      add("foreign", `foreign firewall rule on ${address(fw.ipUuid)}: tags changed`)
    }
  }
  for (const item of before.aclItems) {
    const now = after.aclItems.find((a) => a.uuid === item.uuid)
    if (now === undefined) {
      add("foreign", `foreign ACL item #${item.number} ${item.protocol}/${item.startport ?? "-"} was deleted`)
    } else if (norm({ ...now, state: "" }) !== norm({ ...item, state: "" })) {
      add("foreign", `foreign ACL item #${item.number} changed: ${norm(item)} -> ${norm(now)}`)
    }
    if (!sameTags("NetworkACL", item.uuid)) add("foreign", `foreign ACL item #${item.number}: tags changed`)
  }

  // ---- Services ----
  const world = {
    state: after,
    ccmAccount: input.ccmAccount,
    providers: input.providers,
    nodes: input.nodes,
    foreignRules: foreign.rules
  }
  const live = new Map<string, ServiceView>()
  const expectations: Array<Expectation> = []
  for (const service of [...input.services].sort((a, b) => key(a).localeCompare(key(b)))) {
    const name = key(service)
    if (service.metadata.deletionTimestamp !== undefined) {
      add("deleting", `${name}: still deleting after the churn (finalizers ${service.metadata.finalizers.join(",")})`)
    }
    if (!wantsLb(service)) {
      if (service.status.loadBalancer.ingress.length > 0) {
        add(
          "converged",
          `${name}: not a CCM LoadBalancer but its status has ${JSON.stringify(service.status.loadBalancer.ingress)}`
        )
      }
      if (service.metadata.finalizers.includes("service.kubernetes.io/load-balancer-cleanup")) {
        add("converged", `${name}: not a CCM LoadBalancer but still has the cleanup finalizer`)
      }
      continue
    }
    live.set(lbName(service.metadata.uid), service)
    expectations.push(expect(world, service, input.cluster, lbName(service.metadata.uid)))
  }
  const warned = (service: ServiceView, reason: string) =>
    input.events.some((e) =>
      e.type === "Warning" && e.reason === reason && e.involvedObject.uid === service.metadata.uid
    )

  /** IPs a Service asked to keep (keep-ip): the user's from then on, never tagged as this cluster's. */
  const keptIps = new Set([...input.kept.values()].flatMap((s) => [...s]))
  /** Resources a live Service may keep: those of Services whose LB is excused (user error). */
  const allowedRules = new Set<string>()
  const allowedIps = new Set<string>()
  /** Firewall rules and ACL items wanted: `<ip>|<proto>|<port>` and `<uid>|<proto>|<port>`. */
  const wantedFirewall = new Map<string, ReadonlyArray<string>>()
  const wantedAcl = new Set<string>()
  const excusedUids = new Set<string>()

  for (const e of expectations) {
    const svc = e.service
    const name = key(svc)
    const uid = svc.metadata.uid
    const excuses = [...Option.toArray(e.excuse), ...e.warnings]
    for (const x of excuses) {
      if (!warned(svc, x.reason) && (x.or === undefined || !warned(svc, x.or))) {
        add(
          "warning",
          `${name}: expected a Warning ${x.reason}${
            x.or === undefined ? "" : ` or ${x.or}`
          } (${x.why}), none was recorded`
        )
      }
    }
    if (Option.isSome(e.excuse)) {
      // The LB cannot be built as asked: whatever the Service had stays until it can (no outage for a typo).
      for (const r of e.rules) allowedRules.add(r.uuid)
      for (const r of e.rules) allowedIps.add(r.ipUuid)
      // An IP it records (or was associating) is released with it, never lost.
      const recorded = [
        svc.metadata.annotations[Annotations.IP_ID],
        svc.metadata.annotations[Annotations.IP_ALLOCATING]
      ]
      for (const ip of after.publicIps) {
        if (recorded.includes(ip.uuid) || recorded.includes(ip.address)) allowedIps.add(ip.uuid)
      }
      excusedUids.add(uid)
      continue
    }
    const spec = e.spec._tag === "Right" ? e.spec.right : undefined
    if (spec === undefined || Option.isNone(e.network)) continue
    const network = e.network.value
    const ingress = svc.status.loadBalancer.ingress
    if (e.ports.length === 0) {
      if (e.rules.length > 0) {
        add(
          "converged",
          `${name}: no port can have a rule, yet it has ${e.rules.map((r) => r.name).join(", ")}`
        )
      }
      if (ingress.length > 0 && Option.isNone(e.ip)) {
        add("converged", `${name}: no port can have a rule, yet its status is ${JSON.stringify(ingress)}`)
      }
      for (const r of e.rules) allowedRules.add(r.uuid)
      Option.map(e.ip, (ip) => allowedIps.add(ip.uuid))
      continue
    }
    const ips = [...new Set(e.rules.map((r) => r.ipUuid))]
    if (ips.length > 1) add("duplicate", `${name}: rules on ${ips.length} IPs (${ips.map(address).join(", ")})`)
    const ip = Option.getOrUndefined(e.ip) ?? after.publicIps.find((i) => i.uuid === ips[0])
    if (ip === undefined) {
      add(
        "converged",
        `${name}: no load balancer (no IP${
          Option.match(spec.requestedIp, { onNone: () => "", onSome: (r) => `; requested ${r} is free` })
        }) for ports ${e.ports.map((p) => p.publicPort).join(",")}`
      )
      continue
    }
    allowedIps.add(ip.uuid)
    if (ip.state !== "Allocated") add("converged", `${name}: its IP ${ip.address} is ${ip.state}`)
    // Status: the hostname annotation, else the IP.
    const wantIngress = Option.match(spec.hostname, {
      onSome: (h) => ({ hostname: h }),
      onNone: () => ({ ip: ip.address })
    })
    const got = ingress[0]
    if (
      ingress.length !== 1 || (got?.ip ?? undefined) !== ("ip" in wantIngress ? wantIngress.ip : undefined) ||
      (got?.hostname ?? undefined) !== ("hostname" in wantIngress ? wantIngress.hostname : undefined)
    ) {
      add("converged", `${name}: status ${JSON.stringify(ingress)}, wanted ${JSON.stringify([wantIngress])}`)
    }
    const recorded = svc.metadata.annotations["service.beta.kubernetes.io/cloudstack-load-balancer-id"]
    if (recorded !== ip.uuid) {
      add("converged", `${name}: records IP id ${recorded ?? "(none)"}, its LB is on ${ip.address} (${ip.uuid})`)
    }
    if (
      ip.owner === input.ccmAccount && !foreign.ips.has(ip.uuid) && ip.sourceNat === false && !keptIps.has(ip.uuid) &&
      !keptIps.has(ip.address)
    ) {
      const tags = tagsOf("PublicIpAddress", ip.uuid)
      if (!tags.some((t) => t.key === Tags.CLUSTER && t.value === input.cluster)) {
        add("converged", `${name}: its IP ${ip.address} lacks the ownership tag ${Tags.CLUSTER}`)
      }
    }
    for (const port of e.ports) {
      const mine = e.rules.filter((r) => r.publicPort === port.publicPort)
      for (const r of mine) allowedRules.add(r.uuid)
      if (mine.length > 1) {
        add(
          "duplicate",
          `${name}: ${mine.length} rules for port ${port.publicPort} (${
            mine.map((r) => `${r.name} on ${address(r.ipUuid)}`).join(", ")
          })`
        )
      }
      const rule = mine.find((r) => r.ipUuid === ip.uuid)
      const label = `${name} ${port.protocol}/${port.publicPort}`
      if (rule === undefined) {
        add("converged", `${label}: no rule on ${ip.address}`)
        continue
      }
      if (rule.networkUuid !== network.row.uuid) {
        add("converged", `${label}: rule on network ${rule.networkUuid}, wanted ${network.row.name}`)
      }
      if (rule.protocol !== port.protocol || rule.privatePort !== port.privatePort) {
        add(
          "converged",
          `${label}: rule ${rule.protocol} -> ${rule.privatePort}, wanted ${port.protocol} -> node port ${port.privatePort}`
        )
      }
      if (rule.algorithm.toLowerCase() !== spec.algorithm) {
        add("converged", `${label}: algorithm ${rule.algorithm}, wanted ${spec.algorithm}`)
      }
      const cidrsOk = Option.match(spec.ruleCidrs, {
        onNone: () => allSources(rule.cidrlist),
        onSome: (c) => sameSet(c, rule.cidrlist)
      })
      if (!cidrsOk) {
        add(
          "converged",
          `${label}: rule cidrlist ${rule.cidrlist.join(",") || "(none)"}, wanted ${
            Option.getOrElse(Option.map(spec.ruleCidrs, (c) => c.join(",")), () => "all")
          }`
        )
      }
      const members = [...rule.members.keys()].sort()
      const want = [...e.members].sort()
      if (members.join(",") !== want.join(",")) {
        const vm = (id: string) => after.vms.find((v) => v.uuid === id)?.name ?? id
        add("converged", `${label}: members [${members.map(vm).join(",")}], wanted [${want.map(vm).join(",")}]`)
      }
      if (!tagsOf("LoadBalancer", rule.uuid).some((t) => t.key === Tags.SERVICE_UID && t.value === uid)) {
        add("converged", `${label}: rule lacks the ownership tag ${Tags.SERVICE_UID}`)
      }
      // Policies: stickiness as annotated (cookies on TCP only), a health check where offered.
      const sticky = after.stickiness.filter((p) => p.lbUuid === rule.uuid)
      const wantSticky = Option.filter(spec.sticky, (st) => port.protocol !== "udp" || st.method === "SourceBased")
      if (
        Option.isSome(wantSticky)
          ? sticky.length !== 1 || sticky[0]?.methodname !== wantSticky.value.method
          : sticky.length > 0
      ) {
        add(
          "converged",
          `${label}: stickiness [${sticky.map((p) => p.methodname).join(",")}], wanted ${
            Option.match(wantSticky, { onNone: () => "none", onSome: (st) => st.method })
          }`
        )
      }
      const checks = after.healthChecks.filter((p) => p.lbUuid === rule.uuid)
      const hc = spec.healthCheck
      const wantCheck = network.healthChecks && port.protocol !== "udp" && !Option.exists(hc.enabled, (on) => !on) &&
        !(Option.getOrElse(hc.timeout, () => 2) > Option.getOrElse(hc.interval, () => 5))
      if (checks.length !== (wantCheck ? 1 : 0)) {
        add("converged", `${label}: ${checks.length} health checks, wanted ${wantCheck ? 1 : 0}`)
      }
      if (wantCheck && checks[0] !== undefined && checks[0].pingpath !== Option.getOrElse(hc.path, () => "/")) {
        add(
          "converged",
          `${label}: health check path ${checks[0].pingpath}, wanted ${Option.getOrElse(hc.path, () => "/")}`
        )
      }
      // Access from the source ranges.
      if (network.access === "Firewall") {
        wantedFirewall.set(`${ip.uuid}|${port.ipProtocol}|${port.publicPort}`, spec.sourceRanges)
      }
      if (network.access === "Acl") {
        wantedAcl.add(`${uid}|${port.ipProtocol}|${port.publicPort}|${[...spec.sourceRanges].sort().join(",")}`)
      }
    }
    for (const r of e.rules) {
      if (!e.ports.some((p) => p.publicPort === r.publicPort)) {
        add("leak", `${name}: rule ${r.name} on ${address(r.ipUuid)} for a port it no longer has`)
      }
    }
  }

  // ---- every non-foreign resource is wanted by a live Service ----
  for (const rule of after.lbRules) {
    if (foreign.rules.has(rule.uuid) || allowedRules.has(rule.uuid)) continue
    const owner = live.get(rule.name.split("-")[0] ?? "")
    if (owner === undefined) {
      add("leak", `LB rule ${rule.name} on ${address(rule.ipUuid)}: its Service is gone or no CCM LoadBalancer`)
    } else if (!out.some((v) => v.message.includes(rule.name))) {
      add("leak", `LB rule ${rule.name} on ${address(rule.ipUuid)} is not wanted by ${key(owner)}`)
    }
  }
  const fwSeen = new Map<string, number>()
  for (const fw of after.firewallRules) {
    if (foreign.firewall.has(fw.uuid)) continue
    const k = `${fw.ipUuid}|${fw.protocol}|${fw.startport ?? 0}`
    const wanted = wantedFirewall.get(k)
    const label = `firewall rule ${fw.protocol}/${fw.startport ?? "-"} from ${fw.cidrlist.join(",")} on ${
      address(fw.ipUuid)
    }`
    if (wanted === undefined || fw.endport !== fw.startport) {
      if (!allowedIps.has(fw.ipUuid)) add("leak", `${label}: no live Service wants it`)
      continue
    }
    if (!sameSet(wanted, fw.cidrlist)) add("leak", `${label}: the Service wants ${wanted.join(",")}`)
    else fwSeen.set(k, (fwSeen.get(k) ?? 0) + 1)
  }
  for (const [k, wanted] of wantedFirewall) {
    const n = fwSeen.get(k) ?? 0
    const [ip, proto, port] = k.split("|")
    if (n === 0) add("converged", `no firewall rule ${proto}/${port} from ${wanted.join(",")} on ${address(ip ?? "")}`)
    if (n > 1) add("duplicate", `${n} firewall rules ${proto}/${port} from ${wanted.join(",")} on ${address(ip ?? "")}`)
  }
  const aclSeen = new Map<string, number>()
  for (const item of after.aclItems) {
    if (foreign.acl.has(item.uuid)) continue
    const uid = item.reason?.startsWith("cloudstack-ccm:") === true ? item.reason.slice("cloudstack-ccm:".length) : ""
    const k = `${uid}|${item.protocol}|${item.startport ?? 0}|${[...item.cidrlist].sort().join(",")}`
    if (!wantedAcl.has(k)) {
      if (excusedUids.has(uid)) continue
      add(
        "leak",
        `ACL item #${item.number} ${item.protocol}/${item.startport ?? "-"} from ${item.cidrlist.join(",")} (${
          item.reason ?? "no reason"
        }): no live Service wants it`
      )
      continue
    }
    aclSeen.set(k, (aclSeen.get(k) ?? 0) + 1)
    if (!tagsOf("NetworkACL", item.uuid).some((t) => t.key === Tags.SERVICE_UID && t.value === uid)) {
      add("converged", `ACL item #${item.number} of ${uid} lacks the ownership tag`)
    }
  }
  for (const k of wantedAcl) {
    const n = aclSeen.get(k) ?? 0
    const [uid, proto, port] = k.split("|")
    const svc = [...live.values()].find((s) => s.metadata.uid === uid)
    const who = svc === undefined ? uid : key(svc)
    if (n === 0) add("converged", `${who}: no ACL item ${proto}/${port} (${aclMarker(uid ?? "")})`)
    if (n > 1) add("duplicate", `${who}: ${n} ACL items ${proto}/${port}`)
  }
  for (const ip of after.publicIps) {
    if (ip.state === "Free" || foreign.ips.has(ip.uuid) || allowedIps.has(ip.uuid)) continue
    if (keptIps.has(ip.uuid) || keptIps.has(ip.address)) {
      const rules = after.lbRules.filter((r) => r.ipUuid === ip.uuid)
      if (rules.length > 0) add("leak", `kept IP ${ip.address} still carries ${rules.map((r) => r.name).join(", ")}`)
      continue
    }
    add(
      "leak",
      `IP ${ip.address} (${ip.state}, network ${
        ip.associatedNetworkUuid ?? ip.vpcUuid ?? "-"
      }) is held for no live Service`
    )
  }

  // ---- Nodes ----
  for (const d of input.nodeDeletions) {
    add("node", `Node ${d.node} deleted at ${new Date(d.at).toISOString()} while its VM ${d.vm} was ${d.vmState}`)
  }
  for (const r of input.registered) {
    const vm = after.vms.find((v) => v.uuid === r.vm)
    if (vm === undefined || vmGone(vm)) continue
    if (!input.nodes.some((n) => n.metadata.name === r.node)) {
      add("node", `Node ${r.node} is gone although its VM ${vm.name} is ${vm.state}`)
    }
  }

  // ---- steady: nothing changes once converged ----
  const mutations = input.steadyCalls.filter((c) => isMutation(c.command))
  if (mutations.length > 0) {
    const byCommand = new Map<string, number>()
    for (const c of mutations) byCommand.set(c.command, (byCommand.get(c.command) ?? 0) + 1)
    const first = mutations.slice(0, 3).map((c) =>
      `${(c.at / 1000).toFixed(0)}s ${c.command} ${JSON.stringify(c.params)}`
    )
    add(
      "steady",
      `${mutations.length} CloudStack mutations after convergence: ${
        [...byCommand].map(([c, n]) => `${c} ${n}`).join(", ")
      }; first: ${first.join("; ")}`
    )
  }
  return out.sort((a, b) => a.invariant.localeCompare(b.invariant) || a.message.localeCompare(b.message))
}
