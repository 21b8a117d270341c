/**
 * The simulator's load balancer rules: listLoadBalancerRules and create/update/deleteLoadBalancerRule
 * (the create phase checks the rules of reference 6.2 and makes the rule visible in state Add; the
 * job on the network's queue applies the change) and their rendering. Membership (the rule's VMs) is
 * LoadBalancerMembers.ts, policies are LoadBalancerPolicies.ts.
 */
import { Either } from "effect"
import { checkAccess } from "../Access.js"
import { addRuleToIp, removeLbRule } from "../Cascades.js"
import { conflict, type Fail, invalid, paramError } from "../Fail.js"
import type { Commands, Ctx, Handler, Obj } from "../Handler.js"
import { failed, networkKey, ok, submit, SUCCESS } from "../Jobs.js"
import { keywordMatch, listOf, scope, tagFilter } from "../ListQuery.js"
import type { Params } from "../Params.js"
import { ownerFields, tagsOf, zoneName } from "../Render.js"
import { cidrsOf, offeringOf, ruleString } from "../RuleChecks.js"
import type { FirewallRuleRow, IpRow, LbRuleRow, NetworkRow } from "../SimModel.js"
import { atLeast, nextInternalId, nextUuid, type Store } from "../Store.js"

export const renderLb = (s: Store, r: LbRuleRow): Obj => {
  const ip = s.ips.get(r.ipUuid)
  const net = s.networks.get(r.networkUuid)
  const out: Obj = {
    id: r.uuid,
    name: r.name
  }
  if (r.description !== undefined) out.description = r.description
  Object.assign(out, {
    publicipid: r.ipUuid,
    publicip: ip?.address ?? "",
    publicport: String(r.publicPort),
    privateport: String(r.privatePort),
    algorithm: r.algorithm,
    networkid: r.networkUuid,
    cidrlist: r.cidrlist.join(","),
    ...ownerFields(s, r.owner),
    state: r.state,
    zoneid: net?.zoneUuid ?? ip?.zoneUuid ?? "",
    zonename: zoneName(s, net?.zoneUuid ?? ip?.zoneUuid ?? ""),
    protocol: r.protocol,
    tags: tagsOf(s, "LoadBalancer", r.uuid),
    fordisplay: true
  })
  return out
}

const listLoadBalancerRules: Handler = (c, p) =>
  Either.gen(function*() {
    const { id, ip, vm, zone, net } = yield* Either.all({
      id: p.optUuid("id", c.s.lbRules),
      ip: p.optUuid("publicipid", c.s.ips),
      vm: p.optUuid("virtualmachineid", c.s.vms),
      zone: p.optUuid("zoneid", c.s.zones),
      net: p.optUuid("networkid", c.s.networks)
    })
    const sc = yield* scope(c, p, id !== undefined)
    const tf = yield* tagFilter(c, p, "LoadBalancer")
    const name = p.get("name")
    const keyword = p.get("keyword")
    const candidates: Iterable<LbRuleRow> = id !== undefined
      ? [id]
      : ip !== undefined
      ? [...(c.s.rulesByIp.get(ip.uuid) ?? [])].map((r) => c.s.lbRules.get(r)).filter((r): r is LbRuleRow =>
        r !== undefined
      )
        .sort((a, b) => a.internalId - b.internalId)
      : c.s.lbRules.values()
    const rows: Array<LbRuleRow> = []
    for (const r of candidates) {
      if (name !== undefined && r.name !== name) continue
      if (!keywordMatch(keyword, r.name, r.description)) continue
      if (vm !== undefined && !r.members.has(vm.uuid)) continue
      if (net !== undefined && r.networkUuid !== net.uuid) continue
      if (zone !== undefined && c.s.networks.get(r.networkUuid)?.zoneUuid !== zone.uuid) continue
      if (!sc(r.owner)) continue
      if (tf !== undefined && !tf(r.uuid)) continue
      rows.push(r)
    }
    return yield* listOf(p, "loadbalancerrule", rows, (r) => renderLb(c.s, r))
  })

const ALGORITHMS = new Set(["roundrobin", "leastconn", "source"])
const LB_PROTOCOLS = new Set(["tcp", "udp", "tcp-proxy"])

const portOf = (p: Params, name: string, label: string): Either.Either<number, Fail> =>
  Either.gen(function*() {
    const v = yield* p.required(name)
    const n = yield* p.optInt(name)
    if (n === undefined || n < 1 || n > 65535) return yield* Either.left(invalid(`${label} is an invalid value: ${v}`))
    return n
  })

/** The LB/firewall conflict rules of reference 6.2 for a new rule on `ip`. */
const lbConflict = (s: Store, ip: IpRow, networkUuid: string, port: number): Either.Either<void, Fail> => {
  for (const ruleUuid of s.rulesByIp.get(ip.uuid) ?? []) {
    const lb = s.lbRules.get(ruleUuid)
    if (lb !== undefined && lb.state === "Deleting") continue
    const fw = lb === undefined ? s.fwRules.get(ruleUuid) : undefined
    const existingNet = lb?.networkUuid ?? fw?.networkUuid
    const str = lb !== undefined ? ruleString(lb, "LoadBalancing") : fw !== undefined ? ruleString(fw, "Firewall") : ""
    if (existingNet !== undefined && existingNet !== networkUuid) {
      return Either.left(conflict(`New rule is for a different network than what's specified in rule ${str}`))
    }
    // LB vs LB conflicts on overlapping public ports whatever the protocol (issue #4481).
    if (lb !== undefined && lb.publicPort === port) {
      return Either.left(
        conflict(
          `The range specified, ${port}-${port}, conflicts with rule ${str} which has ${lb.publicPort}-${lb.publicPort}`
        )
      )
    }
  }
  return Either.void
}

const createLoadBalancerRule: Handler = (c, p) =>
  Either.gen(function*() {
    const s = c.s
    const { name, algorithm, privatePort, publicPort } = yield* Either.all({
      name: p.required("name"),
      algorithm: p.required("algorithm"),
      privatePort: portOf(p, "privateport", "privatePort"),
      publicPort: portOf(p, "publicport", "publicPort")
    })
    if (!ALGORITHMS.has(algorithm.toLowerCase())) return yield* Either.left(invalid(`Invalid algorithm: ${algorithm}`))
    const protocol = (p.get("protocol") ?? "tcp").toLowerCase()
    if (!LB_PROTOCOLS.has(protocol)) return yield* Either.left(invalid(`Invalid protocol ${protocol}`))
    const { ip, netParam, cidrs } = yield* Either.all({
      ip: p.optUuid("publicipid", s.ips),
      netParam: p.optUuid("networkid", s.networks),
      cidrs: cidrsOf(p, (x) => `CIDR [${x}] is invalid.`)
    })
    if (ip === undefined) {
      return yield* Either.left(
        netParam === undefined && !p.has("zoneid")
          ? invalid("Either networkId or zoneId or publicIpId has to be specified")
          : invalid("Elastic load balancing is not supported: publicipid is required")
      )
    }
    // Only an Allocated IP takes rules (IPAddressVO.readyToUse): not while its association or release runs.
    if (ip.owner === undefined || ip.state !== "Allocated") {
      return yield* Either.left(invalid(`Unable to create load balancer rule; ip id=${ip.uuid} is not allocated`))
    }
    yield* checkAccess(c, ip.owner, ip.uuid)
    if (ip.staticNatVmUuid !== undefined) {
      return yield* Either.left(conflict(`Can't do load balance on ip address: ${ip.address}`))
    }
    let network: NetworkRow | undefined
    let associate = false
    if (ip.associatedNetworkUuid !== undefined) {
      network = s.networks.get(ip.associatedNetworkUuid)
    } else if (ip.vpcUuid !== undefined) {
      if (netParam === undefined) {
        return yield* Either.left(invalid(`IP address ID=${ip.uuid} is not associated with any network`))
      }
      if (netParam.vpcUuid !== ip.vpcUuid) {
        return yield* Either.left(invalid(`Ip address ${ip.address} is not assigned to the network ${netParam.uuid}`))
      }
      network = netParam
      associate = true
    }
    if (network === undefined) {
      return yield* Either.left(invalid(`IP address ID=${ip.uuid} is not associated with any network`))
    }
    const inVpc = ip.vpcUuid !== undefined
    const openFirewall = p.optBool("openfirewall") ?? !inVpc
    if (inVpc && openFirewall) {
      return yield* Either.left(invalid("Can't have openFirewall=true when IP address belongs to VPC"))
    }
    const offering = offeringOf(s, network)
    if (offering === undefined || !offering.services.has("Lb")) {
      return yield* Either.left(invalid(`LB service is not supported in specified network id=${network.uuid}`))
    }
    if (inVpc && ip.sourceNat) {
      return yield* Either.left(
        invalid(`Unable to create load balancer rule; ip id=${ip.uuid} is the source NAT IP of the VPC`)
      )
    }
    if (ip.sourceNat && !offering.conserveMode) {
      return yield* Either.left(invalid(`The IP ${ip.address} is already used as SourceNat rather than Lb`))
    }
    if (protocol === "udp" && offering.lbProvider?.supportsUdp !== true) {
      return yield* Either.left(paramError("LB service provider cannot support this rule"))
    }
    yield* lbConflict(s, ip, network.uuid, publicPort)
    if (associate) ip.associatedNetworkUuid = network.uuid
    const lb: LbRuleRow = {
      uuid: nextUuid(s),
      internalId: nextInternalId(s),
      name,
      description: p.get("description"),
      algorithm: algorithm.toLowerCase(),
      publicPort,
      privatePort,
      protocol,
      cidrlist: cidrs,
      state: "Add",
      ipUuid: ip.uuid,
      networkUuid: network.uuid,
      owner: ip.owner,
      members: new Map()
    }
    s.lbRules.set(lb.uuid, lb)
    addRuleToIp(s, ip.uuid, lb.uuid)
    let related: FirewallRuleRow | undefined
    if (openFirewall) {
      related = {
        uuid: nextUuid(s),
        internalId: nextInternalId(s),
        ipUuid: ip.uuid,
        networkUuid: network.uuid,
        protocol: protocol === "udp" ? "udp" : "tcp",
        startport: publicPort,
        endport: publicPort,
        cidrlist: cidrs.length === 0 ? ["0.0.0.0/0"] : cidrs,
        icmptype: undefined,
        icmpcode: undefined,
        state: "Add",
        owner: ip.owner,
        relatedLbUuid: lb.uuid
      }
      s.fwRules.set(related.uuid, related)
      addRuleToIp(s, ip.uuid, related.uuid)
    }
    return submit(c, {
      queueKey: networkKey(network.uuid),
      instanceType: "FirewallRule",
      instanceUuid: lb.uuid,
      createdId: lb.uuid,
      execute: () => {
        if (related !== undefined) related.state = "Active"
        return ok({ loadbalancer: renderLb(s, lb) })
      },
      onFailure: () => {
        if (s.lbRules.has(lb.uuid)) removeLbRule(s, lb)
      }
    })
  })

/** The LB rule named by `name` (default `id`), if the caller may change it. */
export const lbForChange = (c: Ctx, p: Params, name = "id"): Either.Either<LbRuleRow, Fail> =>
  Either.flatMap(p.reqUuid(name, c.s.lbRules), (lb) => Either.map(checkAccess(c, lb.owner, lb.uuid), () => lb))

const updateLoadBalancerRule: Handler = (c, p) =>
  Either.gen(function*() {
    const lb = yield* lbForChange(c, p)
    const algorithm = p.get("algorithm")
    if (algorithm !== undefined && !ALGORITHMS.has(algorithm.toLowerCase())) {
      return yield* Either.left(invalid(`Invalid algorithm: ${algorithm}`))
    }
    const protocol = p.get("protocol")?.toLowerCase()
    if (protocol !== undefined && !LB_PROTOCOLS.has(protocol)) {
      return yield* Either.left(invalid(`Invalid protocol ${protocol}`))
    }
    // Before 4.22 the command has no cidrlist parameter: the server ignores it.
    const cidrs = p.has("cidrlist") && atLeast(c.s, [4, 22])
      ? yield* cidrsOf(p, (x) => `Invalid CIDR list: ${x}`)
      : undefined
    return submit(c, {
      queueKey: networkKey(lb.networkUuid),
      instanceType: "FirewallRule",
      instanceUuid: lb.uuid,
      execute: () => {
        if (!c.s.lbRules.has(lb.uuid)) return failed(431, `Unable to find load balancer rule ${lb.uuid}`)
        const name = p.get("name")
        if (name !== undefined) lb.name = name
        if (p.has("description")) lb.description = p.get("description")
        if (algorithm !== undefined) lb.algorithm = algorithm.toLowerCase()
        if (protocol !== undefined) lb.protocol = protocol
        if (cidrs !== undefined) lb.cidrlist = cidrs
        return ok({ loadbalancer: renderLb(c.s, lb) })
      }
    })
  })

const deleteLoadBalancerRule: Handler = (c, p) =>
  Either.map(lbForChange(c, p), (lb) => {
    const before = lb.state
    lb.state = "Deleting"
    return submit(c, {
      queueKey: networkKey(lb.networkUuid),
      instanceType: "FirewallRule",
      instanceUuid: lb.uuid,
      execute: () => {
        if (c.s.lbRules.has(lb.uuid)) removeLbRule(c.s, lb)
        return SUCCESS
      },
      onFailure: () => {
        if (lb.state === "Deleting") lb.state = before
      }
    })
  })

export const commands: Commands = {
  listLoadBalancerRules,
  createLoadBalancerRule,
  updateLoadBalancerRule,
  deleteLoadBalancerRule
}
