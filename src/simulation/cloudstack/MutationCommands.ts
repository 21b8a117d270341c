/**
 * The state-changing commands of the simulator: synchronous validation and create phase (errors as
 * HTTP envelopes, entities visible in transitional states), then an async job whose execute phase
 * applies the change. Enforces the rules of reference section 6 with the real codes and texts.
 */
import {
  aclOwner,
  addRuleToIp,
  type Answer,
  canAccess,
  checkAccess,
  type Ctx,
  deleteTagsOf,
  failed,
  type Handler,
  isAdmin,
  maybeUnassociate,
  ok,
  releaseIp,
  removeFirewallRule,
  removeLbRule,
  submit,
  SUCCESS,
  TAG_TYPES,
  tagResourceOwner,
  uuidList
} from "./EngineContext.js"
import { renderAclItem, renderFw, renderHealthCheck, renderIp, renderLb, renderStickiness, renderVm, STICKINESS_METHODS, tagKey } from "./Render.js"
import type { AclItemRow, FirewallRuleRow, HealthCheckRow, IpRow, LbRuleRow, NetworkRow, NicRow, StickinessRow, TagRow, VmRow } from "./SimModel.js"
import { type JobOutcome, newMac, nextInternalId, nextUuid, type Store } from "./Store.js"
import {
  conflict,
  CS_INSUFFICIENT_ADDRESS,
  Fail,
  intToIpv4,
  invalid,
  invalidUuid,
  ipv4ToInt,
  isCidr,
  isFail,
  list,
  mapParam,
  optBool,
  optInt,
  optUuid,
  type Params,
  paramError,
  permissionDenied,
  reqUuid,
  required,
  USER_ERROR_MESSAGE
} from "./Wire.js"

const ALGORITHMS = new Set(["roundrobin", "leastconn", "source"])
const LB_PROTOCOLS = new Set(["tcp", "udp", "tcp-proxy"])

/** FirewallRuleVO.toString: `Rule[<internal id>-<Purpose>-<State>]`. */
const ruleString = (r: { readonly internalId: number; readonly state: string }, purpose: string) =>
  `Rule[${r.internalId}-${purpose}-${r.state}]`

const networkKey = (uuid: string) => `network:${uuid}`

/** Whether the world's server version is at least `min` (e.g. [4, 22]). */
const atLeast = (s: Store, min: ReadonlyArray<number>): boolean => {
  for (let i = 0; i < min.length; i++) {
    const have = s.version[i] ?? 0
    const want = min[i] ?? 0
    if (have !== want) return have > want
  }
  return true
}

/** Tag changes queue per set of resources they name. */
const tagsQueueKey = (ids: ReadonlyArray<string>) => `tags:${ids.join(",")}`

const offeringOf = (s: Store, n: NetworkRow) => s.offerings.get(n.offeringUuid)

const capacityFail = (c: Ctx, text: string): Fail =>
  new Fail(533, CS_INSUFFICIENT_ADDRESS, isAdmin(c) ? text : USER_ERROR_MESSAGE)

// ---- public IPs ----------------------------------------------------------------------------

const associateIpAddress: Handler = (c, p) => {
  const s = c.s
  const net = optUuid(p, "networkid", c.command, s.networks)
  if (isFail(net)) return net
  const vpc = optUuid(p, "vpcid", c.command, s.vpcs)
  if (isFail(vpc)) return vpc
  const zoneParam = optUuid(p, "zoneid", c.command, s.zones)
  if (isFail(zoneParam)) return zoneParam
  const project = optUuid(p, "projectid", c.command, s.projects)
  if (isFail(project)) return project
  if (net === undefined && vpc === undefined && zoneParam === undefined) {
    return invalid("Unable to figure out zone to assign IP to. Please specify either zoneId, or networkId, or vpcId in the call")
  }
  let owner = c.caller.account.name
  if (project !== undefined) {
    if (!isAdmin(c) && !project.members.includes(c.caller.account.name)) {
      return permissionDenied(`Account ${c.caller.account.name} can't access project id=${project.uuid}`)
    }
    if (project.state !== "Active") {
      return permissionDenied(`Can't add resources to the project id=${project.uuid} in state=${project.state} as it's no longer active`)
    }
    owner = project.accountName
  }
  let network = net
  if (network === undefined && vpc === undefined && zoneParam !== undefined) {
    const mine = [...s.networks.values()].filter((n) =>
      n.zoneUuid === zoneParam.uuid && n.owner === owner && n.type === "Isolated" && n.vpcUuid === undefined
    )
    if (mine.length === 0) return invalid(`Account ${owner} doesn't have virtual networks in zone ${zoneParam.name}`)
    if (mine.length > 1) return invalid("Account has more than one isolated network in the zone")
    network = mine[0]
  }
  if (network !== undefined) {
    const denied = checkAccess(c, network.owner, network.uuid)
    if (denied !== undefined) return denied
    if (network.type === "Shared") return invalid(`Can't allocate public IP for the shared network id=${network.uuid}`)
    if (project === undefined) owner = network.owner
  }
  if (vpc !== undefined) {
    const denied = checkAccess(c, vpc.owner, vpc.uuid)
    if (denied !== undefined) return denied
    if (project === undefined) owner = vpc.owner
  }
  const zoneUuid = network?.zoneUuid ?? vpc?.zoneUuid ?? zoneParam?.uuid ?? ""
  const wanted = p.get("ipaddress")
  let ip: IpRow | undefined
  if (wanted !== undefined) {
    ip = s.ipsByAddress.get(wanted)
    if (ip === undefined || ip.zoneUuid !== zoneUuid || ip.state !== "Free") {
      return capacityFail(c, `Insufficient address capacity: ip address ${wanted} is not free in zone ${zoneUuid}`)
    }
  } else {
    for (const candidate of s.ips.values()) {
      if (candidate.state === "Free" && candidate.zoneUuid === zoneUuid) {
        ip = candidate
        break
      }
    }
    if (ip === undefined) return capacityFail(c, `Insufficient address capacity: no free public IP in zone ${zoneUuid}`)
  }
  const row = ip
  // With a tier's networkid the IP belongs to the tier's VPC and is associated with the tier at once.
  Object.assign(row, {
    state: "Allocating",
    owner,
    associatedNetworkUuid: vpc === undefined ? network?.uuid : undefined,
    vpcUuid: vpc?.uuid ?? network?.vpcUuid,
    sourceNat: false,
    allocated: c.now
  })
  return submit(c, {
    queueKey: vpc !== undefined ? `vpc:${vpc.uuid}` : networkKey(network?.uuid ?? zoneUuid),
    instanceType: "IpAddress",
    instanceUuid: row.uuid,
    createdId: row.uuid,
    execute: () => {
      // The real job renders its answer before the state change commits (recorded: Allocating).
      const result = { ipaddress: renderIp(s, row, isAdmin(c)) }
      row.state = "Allocated"
      return ok(result)
    },
    onFailure: () => releaseIp(s, row)
  })
}

const disassociateIpAddress: Handler = (c, p) => {
  const s = c.s
  const hasId = p.has("id")
  const hasAddr = p.has("ipaddress")
  if (!hasId && !hasAddr) return invalid("Please specify either IP address or IP address ID")
  if (hasId && hasAddr) return invalid("id parameter is mutually exclusive with ipaddress parameter")
  let ip: IpRow | undefined
  if (hasId) {
    const r = reqUuid(p, "id", c.command, s.ips)
    if (isFail(r)) return r
    ip = r
  } else {
    ip = s.ipsByAddress.get(p.get("ipaddress") ?? "")
    if (ip === undefined) return invalid(`Unable to find IP address ${p.get("ipaddress") ?? ""}`)
  }
  const row = ip
  if (row.state === "Free" || row.owner === undefined) return invalid(`Unable to find ip address by id=${row.uuid}`)
  const denied = checkAccess(c, row.owner, row.uuid)
  if (denied !== undefined) return denied
  const before = row.state
  row.state = "Releasing"
  return submit(c, {
    queueKey: row.associatedNetworkUuid !== undefined ? networkKey(row.associatedNetworkUuid) : `vpc:${row.vpcUuid ?? row.uuid}`,
    instanceType: "IpAddress",
    instanceUuid: row.uuid,
    execute: () => {
      if (row.sourceNat) return failed(530, "ip address is used for source nat purposes and can not be disassociated.")
      releaseIp(s, row)
      return SUCCESS
    },
    onFailure: () => {
      if (row.state === "Releasing") row.state = before
    }
  })
}

// ---- load balancer rules -------------------------------------------------------------------

const portOf = (p: Params, name: string, label: string, c: Ctx): number | Fail => {
  const v = required(p, name, c.command)
  if (isFail(v)) return v
  const n = optInt(p, name, c.command)
  if (isFail(n)) return n
  if (n === undefined || n < 1 || n > 65535) return invalid(`${label} is an invalid value: ${v}`)
  return n
}

const cidrsOf = (p: Params, text: (bad: string) => string): ReadonlyArray<string> | Fail => {
  const cidrs = list(p.get("cidrlist"))
  for (const x of cidrs) if (!isCidr(x)) return invalid(text(x))
  return cidrs
}

/** The LB/firewall conflict rules of reference 6.2 for a new rule on `ip`. */
const lbConflict = (s: Store, ip: IpRow, networkUuid: string, port: number): Fail | undefined => {
  for (const ruleUuid of s.rulesByIp.get(ip.uuid) ?? []) {
    const lb = s.lbRules.get(ruleUuid)
    if (lb !== undefined && lb.state === "Deleting") continue
    const fw = lb === undefined ? s.fwRules.get(ruleUuid) : undefined
    const existingNet = lb?.networkUuid ?? fw?.networkUuid
    const str = lb !== undefined ? ruleString(lb, "LoadBalancing") : fw !== undefined ? ruleString(fw, "Firewall") : ""
    if (existingNet !== undefined && existingNet !== networkUuid) {
      return conflict(`New rule is for a different network than what's specified in rule ${str}`)
    }
    // LB vs LB conflicts on overlapping public ports whatever the protocol (issue #4481).
    if (lb !== undefined && lb.publicPort === port) {
      return conflict(`The range specified, ${port}-${port}, conflicts with rule ${str} which has ${lb.publicPort}-${lb.publicPort}`)
    }
  }
  return undefined
}

const createLoadBalancerRule: Handler = (c, p) => {
  const s = c.s
  const name = required(p, "name", c.command)
  if (isFail(name)) return name
  const algorithm = required(p, "algorithm", c.command)
  if (isFail(algorithm)) return algorithm
  const privatePort = portOf(p, "privateport", "privatePort", c)
  if (isFail(privatePort)) return privatePort
  const publicPort = portOf(p, "publicport", "publicPort", c)
  if (isFail(publicPort)) return publicPort
  if (!ALGORITHMS.has(algorithm.toLowerCase())) return invalid(`Invalid algorithm: ${algorithm}`)
  const protocol = (p.get("protocol") ?? "tcp").toLowerCase()
  if (!LB_PROTOCOLS.has(protocol)) return invalid(`Invalid protocol ${protocol}`)
  const ip = optUuid(p, "publicipid", c.command, s.ips)
  if (isFail(ip)) return ip
  const netParam = optUuid(p, "networkid", c.command, s.networks)
  if (isFail(netParam)) return netParam
  const cidrs = cidrsOf(p, (x) => `CIDR [${x}] is invalid.`)
  if (isFail(cidrs)) return cidrs
  if (ip === undefined) {
    return netParam === undefined && !p.has("zoneid")
      ? invalid("Either networkId or zoneId or publicIpId has to be specified")
      : invalid("Elastic load balancing is not supported: publicipid is required")
  }
  if (ip.owner === undefined || ip.state === "Free") return invalid(`Unable to create load balancer rule; ip id=${ip.uuid} is not allocated`)
  const denied = checkAccess(c, ip.owner, ip.uuid)
  if (denied !== undefined) return denied
  if (ip.staticNatVmUuid !== undefined) return conflict(`Can't do load balance on ip address: ${ip.address}`)
  let network: NetworkRow | undefined
  let associate = false
  if (ip.associatedNetworkUuid !== undefined) {
    network = s.networks.get(ip.associatedNetworkUuid)
  } else if (ip.vpcUuid !== undefined) {
    if (netParam === undefined) return invalid(`IP address ID=${ip.uuid} is not associated with any network`)
    if (netParam.vpcUuid !== ip.vpcUuid) return invalid(`Ip address ${ip.address} is not assigned to the network ${netParam.uuid}`)
    network = netParam
    associate = true
  }
  if (network === undefined) return invalid(`IP address ID=${ip.uuid} is not associated with any network`)
  const inVpc = ip.vpcUuid !== undefined
  const openFirewall = optBool(p, "openfirewall") ?? !inVpc
  if (inVpc && openFirewall) return invalid("Can't have openFirewall=true when IP address belongs to VPC")
  const offering = offeringOf(s, network)
  if (offering === undefined || !offering.services.has("Lb")) {
    return invalid(`LB service is not supported in specified network id=${network.uuid}`)
  }
  if (inVpc && ip.sourceNat) {
    return invalid(`Unable to create load balancer rule; ip id=${ip.uuid} is the source NAT IP of the VPC`)
  }
  if (ip.sourceNat && !offering.conserveMode) return invalid(`The IP ${ip.address} is already used as SourceNat rather than Lb`)
  if (protocol === "udp" && offering.lbProvider?.supportsUdp !== true) {
    return paramError("LB service provider cannot support this rule")
  }
  const clash = lbConflict(s, ip, network.uuid, publicPort)
  if (clash !== undefined) return clash
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
}

const lbForChange = (c: Ctx, p: Params, name = "id"): LbRuleRow | Fail => {
  const lb = reqUuid(p, name, c.command, c.s.lbRules)
  if (isFail(lb)) return lb
  return checkAccess(c, lb.owner, lb.uuid) ?? lb
}

const updateLoadBalancerRule: Handler = (c, p) => {
  const lb = lbForChange(c, p)
  if (isFail(lb)) return lb
  const algorithm = p.get("algorithm")
  if (algorithm !== undefined && !ALGORITHMS.has(algorithm.toLowerCase())) return invalid(`Invalid algorithm: ${algorithm}`)
  const protocol = p.get("protocol")?.toLowerCase()
  if (protocol !== undefined && !LB_PROTOCOLS.has(protocol)) return invalid(`Invalid protocol ${protocol}`)
  // Before 4.22 the command has no cidrlist parameter: the server ignores it.
  const cidrs = p.has("cidrlist") && atLeast(c.s, [4, 22]) ? cidrsOf(p, (x) => `Invalid CIDR list: ${x}`) : undefined
  if (isFail(cidrs)) return cidrs
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
}

const deleteLoadBalancerRule: Handler = (c, p) => {
  const lb = lbForChange(c, p)
  if (isFail(lb)) return lb
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
}

interface Mapping {
  readonly vm: VmRow
  readonly ip: string | undefined
}

const mappingsOf = (c: Ctx, p: Params): ReadonlyArray<Mapping> | Fail => {
  const ids = uuidList(p, "virtualmachineids", c, c.s.vms)
  if (isFail(ids)) return ids
  const map = mapParam(p, "vmidipmap")
  if (isFail(map)) return map
  const out: Array<Mapping> = []
  for (const id of ids) {
    const vm = c.s.vms.get(id)
    if (vm !== undefined) out.push({ vm, ip: undefined })
  }
  for (const e of map) {
    const id = e.get("vmid") ?? ""
    const vm = c.s.vms.get(id)
    if (vm === undefined) return invalidUuid("vmidipmap", id, c.command)
    out.push({ vm, ip: e.get("vmip") })
  }
  return out
}

const nicIn = (vm: VmRow, networkUuid: string): NicRow | undefined => vm.nics.find((n) => n.networkUuid === networkUuid)

const setLbStateFromMembers = (lb: LbRuleRow) => {
  if (lb.state !== "Deleting") lb.state = lb.members.size > 0 ? "Active" : "Add"
}

/**
 * assign/removeFromLoadBalancerRule: checks the rule, access and VM mappings in the server's order,
 * then runs `execute` as a job on the rule's network queue.
 */
const membershipJob = (
  c: Ctx,
  p: Params,
  execute: (lb: LbRuleRow, mappings: ReadonlyArray<Mapping>) => JobOutcome
): Answer => {
  const lb = lbForChange(c, p)
  if (isFail(lb)) return lb
  if (!p.has("virtualmachineids") && !p.has("vmidipmap[0].vmid")) {
    return invalid("Both instanceids and vmidipmap can't be null")
  }
  const mappings = mappingsOf(c, p)
  if (isFail(mappings)) return mappings
  return submit(c, { queueKey: networkKey(lb.networkUuid), execute: () => execute(lb, mappings) })
}

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

// ---- LB policies ---------------------------------------------------------------------------

const createLBHealthCheckPolicy: Handler = (c, p) => {
  const s = c.s
  const lb = lbForChange(c, p, "lbruleid")
  if (isFail(lb)) return lb
  const ints = ["responsetimeout", "intervaltime", "healthythreshold", "unhealthythreshold"].map((n) => optInt(p, n, c.command))
  for (const v of ints) if (isFail(v)) return v
  const [rt, iv, hy, uh] = ints.map((v) => (typeof v === "number" ? v : undefined))
  const responseTime = rt ?? 2
  const interval = iv ?? 5
  const malformed = (text: string) => new Fail(430, 9999, text)
  if (lb.state === "Deleting") return malformed(`Failed to create HealthCheck policy: the LB rule ${lb.uuid} is in revoke state`)
  if (responseTime > interval) return malformed("Monitor interval must be greater than response timeout")
  const net = s.networks.get(lb.networkUuid)
  const provider = net === undefined ? undefined : offeringOf(s, net)?.lbProvider
  if (provider?.supportsHealthCheck !== true) {
    return malformed(
      `Failed to create HealthCheck policy: Validation Failed (HealthCheck Policy is not supported by LB Provider for the LB rule:${lb.uuid})`
    )
  }
  for (const hc of s.healthChecks.values()) {
    if (hc.lbUuid === lb.uuid && hc.state !== "Revoke") return malformed("Already policy attached for the LB Rule")
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
}

/** delete{LBHealthCheck,LBStickiness}Policy: revoke now, remove in the job (on the rule's queue). */
const deletePolicy = (table: (s: Store) => Map<string, HealthCheckRow | StickinessRow>): Handler => (c, p) => {
  const rows = table(c.s)
  const policy = reqUuid(p, "id", c.command, rows)
  if (isFail(policy)) return policy
  const lb = c.s.lbRules.get(policy.lbUuid)
  const denied = checkAccess(c, lb?.owner, policy.uuid)
  if (denied !== undefined) return denied
  policy.state = "Revoke"
  return submit(c, {
    queueKey: networkKey(lb?.networkUuid ?? policy.uuid),
    execute: () => {
      rows.delete(policy.uuid)
      return SUCCESS
    }
  })
}

const deleteLBHealthCheckPolicy = deletePolicy((s) => s.healthChecks)

const createLBStickinessPolicy: Handler = (c, p) => {
  const s = c.s
  const lb = lbForChange(c, p, "lbruleid")
  if (isFail(lb)) return lb
  const name = required(p, "name", c.command)
  if (isFail(name)) return name
  const methodName = required(p, "methodname", c.command)
  if (isFail(methodName)) return methodName
  const params = mapParam(p, "param")
  if (isFail(params)) return params
  const method = STICKINESS_METHODS.find((m) => m.methodname.toLowerCase() === methodName.toLowerCase())
  const prefix = "Failed to create Stickiness policy: Validation Failed"
  if (method === undefined) {
    return invalid(`${prefix} (Stickiness method: ${methodName} is not supported by LB Provider for the LB rule:${lb.uuid})`)
  }
  const values: Record<string, string> = {}
  for (const e of params) {
    const pname = (e.get("name") ?? "").toLowerCase()
    const def = method.params.find((x) => x.name === pname)
    if (def === undefined) return invalid(`${prefix} (Stickiness method param ${pname} is not supported)`)
    const value = e.get("value")
    if (!def.isflag && (value === undefined || value === "")) {
      return invalid(`${prefix} (Stickiness method param ${pname} requires a value)`)
    }
    values[pname] = value ?? "true"
  }
  const existing = [...s.stickiness.values()].filter((sp) => sp.lbUuid === lb.uuid && sp.state !== "Revoke")
  if (existing.length > 1) return invalid("Failed to create Stickiness policy: Already two policies attached")
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
}

const deleteLBStickinessPolicy = deletePolicy((s) => s.stickiness)

// ---- firewall ------------------------------------------------------------------------------

const FW_PROTOCOLS = new Set(["tcp", "udp", "icmp"])

const overlaps = (a0: number | undefined, a1: number | undefined, b0: number | undefined, b1: number | undefined) =>
  a0 !== undefined && b0 !== undefined && a0 <= (b1 ?? b0) && b0 <= (a1 ?? a0)

const createFirewallRule: Handler = (c, p) => {
  const s = c.s
  const ip = reqUuid(p, "ipaddressid", c.command, s.ips)
  if (isFail(ip)) return ip
  const protocolRaw = required(p, "protocol", c.command)
  if (isFail(protocolRaw)) return protocolRaw
  const protocol = protocolRaw.trim().toLowerCase()
  const start = optInt(p, "startport", c.command)
  if (isFail(start)) return start
  const endRaw = optInt(p, "endport", c.command)
  if (isFail(endRaw)) return endRaw
  const icmptype = optInt(p, "icmptype", c.command)
  if (isFail(icmptype)) return icmptype
  const icmpcode = optInt(p, "icmpcode", c.command)
  if (isFail(icmpcode)) return icmpcode
  const cidrsGiven = cidrsOf(p, (x) => `Source CIDRs formatting error ${x}`)
  if (isFail(cidrsGiven)) return cidrsGiven
  const cidrs = cidrsGiven.length === 0 ? ["0.0.0.0/0"] : cidrsGiven
  const end = endRaw ?? start
  if (ip.owner === undefined || ip.state === "Free") return invalid(`Unable to create firewall rule; ip id=${ip.uuid} is not allocated`)
  const denied = checkAccess(c, ip.owner, ip.uuid)
  if (denied !== undefined) return denied
  if (ip.associatedNetworkUuid === undefined) {
    return invalid(
      `Unable to create firewall rule for the IP address ID=${ip.uuid} as IP is not associated with any network and no networkId is passed in`
    )
  }
  const network = s.networks.get(ip.associatedNetworkUuid)
  if (network === undefined || offeringOf(s, network)?.services.has("Firewall") !== true) {
    return invalid(`Service Firewall is not supported in the network id=${ip.associatedNetworkUuid}`)
  }
  if (!FW_PROTOCOLS.has(protocol)) return invalid(`Protocol ${protocol} is not supported in zone ${network.zoneUuid}`)
  for (const port of [start, end]) {
    if (port !== undefined && (port < 1 || port > 65535)) return invalid(`Invalid port range ${start ?? ""}-${end ?? ""}`)
  }
  if (start !== undefined && end !== undefined && start > end) return invalid("Start port can't be bigger than end port")
  if (protocol === "icmp" && (start !== undefined || end !== undefined)) {
    return invalid("Can't specify start/end port when protocol is ICMP")
  }
  if (protocol !== "icmp" && (icmptype !== undefined || icmpcode !== undefined)) {
    return invalid("Can specify icmpCode and icmpType for ICMP protocol only")
  }
  const type = protocol === "icmp" ? (icmptype ?? -1) : undefined
  const code = protocol === "icmp" ? (icmpcode ?? -1) : undefined
  for (const ruleUuid of s.rulesByIp.get(ip.uuid) ?? []) {
    const fw = s.fwRules.get(ruleUuid)
    if (fw === undefined || fw.state === "Revoke" || fw.protocol !== protocol) continue
    const shared = fw.cidrlist.some((x) => cidrs.includes(x))
    if (!shared) continue
    if (protocol === "icmp") {
      if (fw.icmptype === type && fw.icmpcode === code) {
        return invalid(`New rule conflicts with existing rule: ${ruleString(fw, "Firewall")}`)
      }
      continue
    }
    if (start === undefined && fw.startport === undefined) {
      return conflict(`There is already a firewall rule specified with protocol = ${protocol} and no ports`)
    }
    if (overlaps(start, end, fw.startport, fw.endport)) {
      return conflict(
        `The range specified, ${start ?? ""}-${end ?? ""}, conflicts with rule ${ruleString(fw, "Firewall")} which has ${fw.startport ?? ""}-${fw.endport ?? ""}`
      )
    }
  }
  const row: FirewallRuleRow = {
    uuid: nextUuid(s),
    internalId: nextInternalId(s),
    ipUuid: ip.uuid,
    networkUuid: network.uuid,
    protocol,
    startport: start,
    endport: end,
    cidrlist: cidrs,
    icmptype: type,
    icmpcode: code,
    state: "Add",
    owner: ip.owner,
    relatedLbUuid: undefined
  }
  s.fwRules.set(row.uuid, row)
  addRuleToIp(s, ip.uuid, row.uuid)
  return submit(c, {
    queueKey: networkKey(network.uuid),
    instanceType: "FirewallRule",
    instanceUuid: row.uuid,
    createdId: row.uuid,
    execute: () => {
      row.state = "Active"
      return ok({ firewallrule: renderFw(s, row) })
    },
    onFailure: () => removeFirewallRule(s, row.uuid)
  })
}

const deleteFirewallRule: Handler = (c, p) => {
  const fw = reqUuid(p, "id", c.command, c.s.fwRules)
  if (isFail(fw)) return fw
  const denied = checkAccess(c, fw.owner, fw.uuid)
  if (denied !== undefined) return denied
  return submit(c, {
    queueKey: networkKey(fw.networkUuid),
    execute: () => {
      removeFirewallRule(c.s, fw.uuid)
      return SUCCESS
    }
  })
}

// ---- network ACLs --------------------------------------------------------------------------

const ACL_PROTOCOLS = new Set(["tcp", "udp", "icmp", "all"])
const isDefaultAcl = (c: Ctx, aclUuid: string) => c.s.aclLists.get(aclUuid)?.vpcUuid === undefined

interface AclFields {
  readonly protocol: string
  readonly startport: number | undefined
  readonly endport: number | undefined
  readonly action: "Allow" | "Deny"
  readonly traffictype: "Ingress" | "Egress"
}

const aclFields = (c: Ctx, p: Params, base: AclFields | undefined): AclFields | Fail => {
  const protocolRaw = p.get("protocol") ?? base?.protocol
  if (protocolRaw === undefined) return paramError(`Unable to execute API command ${c.command.toLowerCase()} due to missing parameter protocol`)
  let protocol = protocolRaw.trim().toLowerCase()
  if (protocol === "1") protocol = "icmp"
  const numeric = /^\d+$/.test(protocol)
  if (!ACL_PROTOCOLS.has(protocol) && !(numeric && Number(protocol) <= 255)) return invalid(`Invalid protocol: ${protocol}`)
  const start = optInt(p, "startport", c.command)
  if (isFail(start)) return start
  const end = optInt(p, "endport", c.command)
  if (isFail(end)) return end
  const startport = start ?? (p.has("protocol") ? undefined : base?.startport)
  const endport = end ?? start ?? (p.has("protocol") ? undefined : base?.endport)
  if (protocol === "all" && (startport !== undefined || endport !== undefined)) {
    return invalid("start port and end port must be null if protocol = 'all'")
  }
  if (startport !== undefined && endport !== undefined && startport > endport) return invalid("Start port can't be bigger than end port")
  const actionRaw = p.get("action")
  const action = actionRaw === undefined ? (base?.action ?? "Allow") : actionRaw.toLowerCase() === "allow" ? "Allow" : actionRaw.toLowerCase() === "deny" ? "Deny" : undefined
  if (action === undefined) return invalid("Invalid action. Allowed actions are Allow and Deny")
  const trafficRaw = p.get("traffictype")
  const traffictype = trafficRaw === undefined ? (base?.traffictype ?? "Ingress") : trafficRaw.toLowerCase() === "ingress" ? "Ingress" : trafficRaw.toLowerCase() === "egress" ? "Egress" : undefined
  if (traffictype === undefined) return invalid(`Invalid traffic type ${trafficRaw ?? ""}`)
  return { protocol, startport, endport, action, traffictype }
}

/** ACL changes queue per VPC (the ACL's own id when it belongs to none). */
const aclQueueKey = (s: Store, aclUuid: string) => `vpc:${s.aclLists.get(aclUuid)?.vpcUuid ?? aclUuid}`

/** The ACL item named by `id`, if the caller may change it (like lbForChange). */
const aclItemForChange = (c: Ctx, p: Params): AclItemRow | Fail => {
  const item = reqUuid(p, "id", c.command, c.s.aclItems)
  if (isFail(item)) return item
  return checkAccess(c, aclOwner(c, item.aclUuid), item.uuid) ?? item
}

const createNetworkACL: Handler = (c, p) => {
  const s = c.s
  const protocol = required(p, "protocol", c.command)
  if (isFail(protocol)) return protocol
  const aclParam = optUuid(p, "aclid", c.command, s.aclLists)
  if (isFail(aclParam)) return aclParam
  const net = optUuid(p, "networkid", c.command, s.networks)
  if (isFail(net)) return net
  if (aclParam === undefined && net === undefined) return invalid("ACL Id or network Id is required")
  if (aclParam === undefined && net !== undefined && net.vpcUuid === undefined) {
    return invalid(`Network ${net.uuid} does not belong to VPC`)
  }
  const aclUuid = aclParam?.uuid ?? net?.aclUuid
  if (aclUuid === undefined) return invalid("ACL Id or network Id is required")
  if (isDefaultAcl(c, aclUuid)) return invalid("Default ACL cannot be modified")
  const denied = checkAccess(c, aclOwner(c, aclUuid), aclUuid)
  if (denied !== undefined) return denied
  const fields = aclFields(c, p, undefined)
  if (isFail(fields)) return fields
  const cidrsGiven = cidrsOf(p, (x) => `Invalid cidr ${x}`)
  if (isFail(cidrsGiven)) return cidrsGiven
  const numberParam = optInt(p, "number", c.command)
  if (isFail(numberParam)) return numberParam
  let max = 0
  for (const item of s.aclItems.values()) {
    if (item.aclUuid !== aclUuid) continue
    if (item.number === numberParam) return invalid(`ACL item with number ${numberParam} already exists in ACL: ${aclUuid}`)
    max = Math.max(max, item.number)
  }
  const icmptype = optInt(p, "icmptype", c.command)
  if (isFail(icmptype)) return icmptype
  const icmpcode = optInt(p, "icmpcode", c.command)
  if (isFail(icmpcode)) return icmpcode
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
}

const updateNetworkACLItem: Handler = (c, p) => {
  const item = aclItemForChange(c, p)
  if (isFail(item)) return item
  const numberParam = optInt(p, "number", c.command)
  if (isFail(numberParam)) return numberParam
  const cidrs = p.has("cidrlist") ? cidrsOf(p, (x) => `Invalid cidr ${x}`) : undefined
  if (isFail(cidrs)) return cidrs
  return submit(c, {
    queueKey: aclQueueKey(c.s, item.aclUuid),
    instanceType: "NetworkACL",
    instanceUuid: item.uuid,
    execute: () => {
      if (isDefaultAcl(c, item.aclUuid)) return failed(431, "Default ACL cannot be modified")
      const fields = aclFields(c, p, item)
      if (isFail(fields)) return failed(fields.code, fields.text)
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
}

const deleteNetworkACL: Handler = (c, p) => {
  const item = aclItemForChange(c, p)
  if (isFail(item)) return item
  return submit(c, {
    queueKey: aclQueueKey(c.s, item.aclUuid),
    execute: () => {
      if (isDefaultAcl(c, item.aclUuid)) return failed(431, "Default ACL cannot be modified")
      c.s.aclItems.delete(item.uuid)
      deleteTagsOf(c.s, "NetworkACL", item.uuid)
      return SUCCESS
    }
  })
}

// ---- tags ----------------------------------------------------------------------------------

const tagTarget = (c: Ctx, p: Params) => {
  const rawType = required(p, "resourcetype", c.command)
  if (isFail(rawType)) return rawType
  const ids = required(p, "resourceids", c.command)
  if (isFail(ids)) return ids
  const type = TAG_TYPES.get(rawType.toLowerCase())
  if (type === undefined) return invalid(`Invalid resource type ${rawType}`)
  const tags = mapParam(p, "tags")
  if (isFail(tags)) return tags
  return { type, ids: list(ids), tags }
}

const createTags: Handler = (c, p) => {
  const target = tagTarget(c, p)
  if (isFail(target)) return target
  if (target.tags.length === 0) return paramError(`Unable to execute API command ${c.command.toLowerCase()} due to missing parameter tags`)
  const s = c.s
  return submit(c, {
    queueKey: tagsQueueKey(target.ids),
    execute: () => {
      const planned: Array<TagRow> = []
      for (const uuid of target.ids) {
        const owner = tagResourceOwner(c, target.type, uuid)
        if (owner === false) return failed(431, `Unable to find resource by uuid ${uuid} and type ${target.type}`)
        if (!canAccess(c, owner)) return failed(531, `Account ${c.caller.account.name} does not have permission to tag resource ${uuid}`)
        for (const e of target.tags) {
          const key = e.get("key") ?? ""
          const value = e.get("value")
          if (value === undefined || value === "") return failed(431, `Value for the key ${key} is either null or empty`)
          const existing = s.tags.get(tagKey(target.type, uuid))
          const dup = existing?.has(key.toLowerCase()) === true ||
            planned.some((t) => t.resourceUuid === uuid && t.key.toLowerCase() === key.toLowerCase())
          if (dup) {
            return failed(
              530,
              `DB Exception on: INSERT INTO resource_tags: Duplicate entry '${uuid}-${target.type}-${key}' for key 'i_tags__resource_id__resource_type__key'`
            )
          }
          planned.push({ resourceType: target.type, resourceUuid: uuid, key, value, owner: owner ?? c.caller.account.name })
        }
      }
      for (const t of planned) {
        const k = tagKey(t.resourceType, t.resourceUuid)
        const m = s.tags.get(k) ?? new Map<string, TagRow>()
        m.set(t.key.toLowerCase(), t)
        s.tags.set(k, m)
      }
      return SUCCESS
    }
  })
}

const deleteTags: Handler = (c, p) => {
  const target = tagTarget(c, p)
  if (isFail(target)) return target
  const s = c.s
  return submit(c, {
    queueKey: tagsQueueKey(target.ids),
    execute: () => {
      const doomed: Array<readonly [Map<string, TagRow>, string]> = []
      for (const uuid of target.ids) {
        const m = s.tags.get(tagKey(target.type, uuid))
        if (m === undefined) continue
        for (const [k, t] of m) {
          if (!canAccess(c, t.owner)) continue
          const matches = target.tags.length === 0 || target.tags.some((e) => {
            const key = e.get("key")?.toLowerCase()
            const value = e.get("value")?.toLowerCase()
            return key === k && (value === undefined || value === t.value.toLowerCase())
          })
          if (matches) doomed.push([m, k])
        }
      }
      if (doomed.length === 0) return failed(431, "Unable to find any tags which conform to specified delete parameters.")
      for (const [m, k] of doomed) m.delete(k)
      return SUCCESS
    }
  })
}

// ---- static NAT ----------------------------------------------------------------------------

const enableStaticNat: Handler = (c, p) => {
  const s = c.s
  const ip = reqUuid(p, "ipaddressid", c.command, s.ips)
  if (isFail(ip)) return ip
  const vm = reqUuid(p, "virtualmachineid", c.command, s.vms)
  if (isFail(vm)) return vm
  const netParam = optUuid(p, "networkid", c.command, s.networks)
  if (isFail(netParam)) return netParam
  if (ip.owner === undefined || ip.state !== "Allocated") return invalid(`Unable to enable static NAT; ip id=${ip.uuid} is not allocated`)
  const denied = checkAccess(c, ip.owner, ip.uuid) ?? checkAccess(c, vm.owner, vm.uuid)
  if (denied !== undefined) return denied
  if (ip.sourceNat) return invalid(`Can't enable static, ip address ${ip.address} is a sourceNat ip address`)
  if (ip.staticNatVmUuid !== undefined) return invalid(`Failed to enable static nat for the ip address id=${ip.uuid} as it's already assigned to a vm`)
  if (s.staticNatByVm.has(vm.uuid)) return invalid(`VM ${vm.uuid} already has a static NAT ip`)
  for (const ruleUuid of s.rulesByIp.get(ip.uuid) ?? []) {
    if (s.lbRules.has(ruleUuid)) return conflict(`There is already firewall rule specified for the ip address id=${ip.uuid}`)
  }
  const networkUuid = ip.associatedNetworkUuid ?? netParam?.uuid
  if (networkUuid === undefined) return invalid(`IP address ID=${ip.uuid} is not associated with any network`)
  if (ip.associatedNetworkUuid === undefined && netParam?.vpcUuid !== ip.vpcUuid) {
    return invalid(`Ip address ${ip.address} is not assigned to the network ${networkUuid}`)
  }
  if (nicIn(vm, networkUuid) === undefined) return invalid(`VM ${vm.uuid} doesn't belong to the network ${networkUuid}`)
  if (vm.state === "Destroyed" || vm.state === "Expunging") return invalid(`Invalid state of vm ${vm.uuid}`)
  ip.associatedNetworkUuid = networkUuid
  ip.staticNatVmUuid = vm.uuid
  s.staticNatByVm.set(vm.uuid, ip.uuid)
  return { success: true }
}

const disableStaticNat: Handler = (c, p) => {
  const s = c.s
  const ip = reqUuid(p, "ipaddressid", c.command, s.ips)
  if (isFail(ip)) return ip
  const denied = checkAccess(c, ip.owner, ip.uuid)
  if (denied !== undefined) return denied
  if (ip.staticNatVmUuid === undefined) return invalid("Specified IP address id is not associated with any vm Id")
  return submit(c, {
    queueKey: networkKey(ip.associatedNetworkUuid ?? ip.uuid),
    instanceType: "IpAddress",
    instanceUuid: ip.uuid,
    execute: () => {
      if (ip.staticNatVmUuid !== undefined) s.staticNatByVm.delete(ip.staticNatVmUuid)
      ip.staticNatVmUuid = undefined
      maybeUnassociate(s, ip)
      return SUCCESS
    }
  })
}

// ---- VMs -----------------------------------------------------------------------------------

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

const deployVirtualMachine: Handler = (c, p) => {
  const s = c.s
  const zone = reqUuid(p, "zoneid", c.command, s.zones)
  if (isFail(zone)) return zone
  const so = reqUuid(p, "serviceofferingid", c.command, s.serviceOfferings)
  if (isFail(so)) return so
  const tpl = reqUuid(p, "templateid", c.command, s.templates)
  if (isFail(tpl)) return tpl
  const project = optUuid(p, "projectid", c.command, s.projects)
  if (isFail(project)) return project
  const netIds = uuidList(p, "networkids", c, s.networks)
  if (isFail(netIds)) return netIds
  if (netIds.length === 0) return invalid("Can't deploy VM in advanced zone without networks: specify networkids")
  let owner = c.caller.account.name
  if (project !== undefined) {
    if (!isAdmin(c) && !project.members.includes(owner)) {
      return permissionDenied(`Account ${owner} can't access project id=${project.uuid}`)
    }
    owner = project.accountName
  }
  const nics: Array<NicRow> = []
  for (const [i, netId] of netIds.entries()) {
    const net = s.networks.get(netId)
    if (net === undefined) return invalidUuid("networkids", netId, c.command)
    if (net.type !== "Shared" && !canAccess(c, net.owner)) {
      return permissionDenied(`Account ${c.caller.account.name} does not have permission to use network ${net.uuid}`)
    }
    const wanted = i === 0 ? p.get("ipaddress") : undefined
    const ip = wanted ?? freeGuestIp(s, net)
    if (ip === undefined) return capacityFail(c, `Insufficient address capacity in network ${net.uuid}`)
    nics.push({ uuid: nextUuid(s), networkUuid: net.uuid, ip, ip6: undefined, isdefault: i === 0, mac: newMac(s.counter) })
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
  const start = optBool(p, "startvm") ?? true
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
}

/** Removes a destroyed VM from every LB rule (LoadBalancingRulesManagerImpl.removeVmFromLoadBalancers). */
const removeVmFromLbs = (s: Store, vm: VmRow) => {
  for (const lb of s.lbRules.values()) {
    if (lb.members.delete(vm.uuid)) setLbStateFromMembers(lb)
  }
  const ipUuid = s.staticNatByVm.get(vm.uuid)
  const ip = ipUuid === undefined ? undefined : s.ips.get(ipUuid)
  if (ip !== undefined) {
    ip.staticNatVmUuid = undefined
    maybeUnassociate(s, ip)
  }
  s.staticNatByVm.delete(vm.uuid)
}

const vmJob = (
  c: Ctx,
  p: Params,
  run: (vm: VmRow) => string | undefined
): Answer => {
  const vm = reqUuid(p, "id", c.command, c.s.vms)
  if (isFail(vm)) return vm
  const denied = checkAccess(c, vm.owner, vm.uuid)
  if (denied !== undefined) return denied
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
}

const startVirtualMachine: Handler = (c, p) =>
  vmJob(c, p, (vm) => {
    if (vm.state === "Destroyed" || vm.state === "Expunging") return `Unable to start VM ${vm.uuid} in state ${vm.state}`
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
  const expunge = optBool(p, "expunge") === true
  return vmJob(c, p, (vm) => {
    if (vm.state === "Expunging") return `Unable to destroy VM ${vm.uuid} in state ${vm.state}`
    vm.state = expunge ? "Expunging" : "Destroyed"
    removeVmFromLbs(c.s, vm)
    if (expunge) deleteTagsOf(c.s, "UserVm", vm.uuid)
    return undefined
  })
}

export const mutationCommands: Readonly<Record<string, Handler>> = {
  associateIpAddress,
  disassociateIpAddress,
  createLoadBalancerRule,
  updateLoadBalancerRule,
  deleteLoadBalancerRule,
  assignToLoadBalancerRule,
  removeFromLoadBalancerRule,
  createLBHealthCheckPolicy,
  deleteLBHealthCheckPolicy,
  createLBStickinessPolicy,
  deleteLBStickinessPolicy,
  createFirewallRule,
  deleteFirewallRule,
  createNetworkACL,
  updateNetworkACLItem,
  deleteNetworkACL,
  createTags,
  deleteTags,
  enableStaticNat,
  disableStaticNat,
  deployVirtualMachine,
  startVirtualMachine,
  stopVirtualMachine,
  destroyVirtualMachine
}

