/**
 * Seeding a simulator store from a World: every table and index, owners resolved, every error of
 * the world reported at once. Pure in (world, seed, now); yields between chunks so a big world does
 * not block the fiber that seeds it.
 */
import { Either } from "effect"
import { gatewayOf, intToIpv4, ipv4ToInt, netmaskOf } from "./Ipv4.js"
import type {
  AccountRow,
  AclItemRow,
  AclListRow,
  FirewallRuleRow,
  HealthCheckRow,
  IpRow,
  JobRow,
  LbProviderRow,
  LbRuleRow,
  NetworkOfferingRow,
  NetworkRow,
  NicRow,
  ProjectRow,
  ServiceOfferingRow,
  StickinessRow,
  TagRow,
  TemplateRow,
  VmRow,
  VpcRow,
  ZoneRow
} from "./SimModel.js"
import { type Credentials, FREE_IP, newMac, nextInternalId, nextUuid, projectAccountName, type Store } from "./Store.js"
import type { World } from "./World.js"

/** Resolves an owner reference (`account` or `project:<name>`) to the owning account name. */
const ownerOf = (
  s: Store,
  owner: string,
  projectByName: ReadonlyMap<string, ProjectRow>
): Either.Either<string, string> => {
  if (owner.startsWith("project:")) {
    const p = projectByName.get(owner.slice("project:".length))
    return p === undefined ? Either.left(`unknown project in owner ${owner}`) : Either.right(p.accountName)
  }
  return s.accounts.has(owner) ? Either.right(owner) : Either.left(`unknown account ${owner}`)
}

/** Rows seeded between two yields of `seedSteps`. */
const SEED_CHUNK = 2_000

/**
 * Builds the tables from a World: the Store, or every reference problem found (unknown names) so a
 * scenario file is fixed in one go. A generator that yields after every SEED_CHUNK public IPs,
 * networks and VMs, so the caller can let other work (a signal handler) run while a large world is
 * seeded; run it to its end for the result. Pure.
 */
export function* seedSteps(
  world: World,
  seed: number,
  now: number
): Generator<void, Either.Either<Store, ReadonlyArray<string>>> {
  let rows = 0
  const errors: Array<string> = []
  const partial = {
    seed,
    version: world.version.split(".").map(Number),
    counter: 0,
    internalId: 0,
    jobSeq: 0,
    accounts: new Map<string, AccountRow>(),
    accountsByUuid: new Map<string, AccountRow>(),
    keys: new Map<string, Credentials>(),
    projects: new Map<string, ProjectRow>(),
    zones: new Map<string, ZoneRow>(),
    zonePublicNetwork: new Map(),
    offerings: new Map<string, NetworkOfferingRow>(),
    serviceOfferings: new Map<string, ServiceOfferingRow>(),
    templates: new Map<string, TemplateRow>(),
    vpcs: new Map<string, VpcRow>(),
    aclLists: new Map<string, AclListRow>(),
    aclItems: new Map<string, AclItemRow>(),
    networks: new Map<string, NetworkRow>(),
    vms: new Map<string, VmRow>(),
    ips: new Map<string, IpRow>(),
    ipsByAddress: new Map<string, IpRow>(),
    lbRules: new Map<string, LbRuleRow>(),
    fwRules: new Map<string, FirewallRuleRow>(),
    rulesByIp: new Map<string, Set<string>>(),
    staticNatByVm: new Map<string, string>(),
    healthChecks: new Map<string, HealthCheckRow>(),
    stickiness: new Map<string, StickinessRow>(),
    tags: new Map<string, Map<string, TagRow>>(),
    jobs: new Map<string, JobRow>(),
    pending: [],
    finished: [],
    queueTail: new Map<string, number>(),
    forcedFailures: new Map()
  }
  // defaultAccount is filled below; the placeholder is replaced before the store escapes.
  const s: Store = {
    ...partial,
    defaultAccount: {
      apiKey: "",
      secretKey: "",
      account: { uuid: "", name: "", role: "user", deniedApis: [], projectUuid: undefined },
      userUuid: ""
    }
  }
  const id = (given: string | undefined) => given ?? nextUuid(s)
  // References are by name, so names (and api keys) must be unique per kind.
  const unique = (kind: string, names: ReadonlyArray<string>) => {
    const seen = new Set<string>()
    for (const n of names) {
      if (seen.has(n)) errors.push(`duplicate ${kind} ${n}`)
      seen.add(n)
    }
  }
  unique("account", world.accounts.map((a) => a.name))
  unique("apiKey", world.accounts.map((a) => a.apiKey))
  unique("project", world.projects.map((p) => p.name))
  unique("zone", world.zones.map((z) => z.name))
  unique("network offering", world.networkOfferings.map((o) => o.name))
  unique("service offering", world.serviceOfferings.map((o) => o.name))
  unique("template", world.templates.map((t) => t.name))
  unique("vpc", world.vpcs.map((v) => v.name))
  unique("aclList", world.aclLists.map((a) => `${a.vpc}/${a.name}`))
  unique("network", world.networks.map((n) => n.name))

  for (const a of world.accounts) {
    const row: AccountRow = {
      uuid: nextUuid(s),
      name: a.name,
      role: a.role,
      deniedApis: a.deniedApis,
      projectUuid: undefined
    }
    s.accounts.set(a.name, row)
    s.accountsByUuid.set(row.uuid, row)
    s.keys.set(a.apiKey, { apiKey: a.apiKey, secretKey: a.secretKey, account: row, userUuid: nextUuid(s) })
  }
  const projectByName = new Map<string, ProjectRow>()
  world.projects.forEach((p, i) => {
    for (const m of p.members) if (!s.accounts.has(m)) errors.push(`project ${p.name}: unknown member ${m}`)
    const row: ProjectRow = {
      uuid: id(p.id),
      name: p.name,
      state: p.state,
      accountName: projectAccountName(p.name, i + 1),
      members: p.members,
      created: now
    }
    s.projects.set(row.uuid, row)
    projectByName.set(p.name, row)
    const acct: AccountRow = {
      uuid: nextUuid(s),
      name: row.accountName,
      role: "user",
      deniedApis: [],
      projectUuid: row.uuid
    }
    s.accounts.set(acct.name, acct)
    s.accountsByUuid.set(acct.uuid, acct)
  })
  const zoneByName = new Map<string, ZoneRow>()
  for (const z of world.zones) {
    const row: ZoneRow = { uuid: id(z.id), name: z.name }
    s.zones.set(row.uuid, row)
    zoneByName.set(z.name, row)
    s.zonePublicNetwork.set(row.uuid, { uuid: nextUuid(s), physical: nextUuid(s), vlan: nextUuid(s) })
  }
  const providers = new Map<string, LbProviderRow>(world.lbProviders.map((p) => [p.name, { ...p }]))
  const offeringByName = new Map<string, NetworkOfferingRow>()
  for (const o of world.networkOfferings) {
    const provider = o.lbProvider === undefined ? undefined : providers.get(o.lbProvider)
    if (o.lbProvider !== undefined && provider === undefined) {
      errors.push(`offering ${o.name}: unknown lbProvider ${o.lbProvider}`)
    }
    if (o.services.includes("Lb") && o.lbProvider === undefined) {
      errors.push(`offering ${o.name}: Lb service needs lbProvider`)
    }
    const row: NetworkOfferingRow = {
      uuid: id(o.id),
      name: o.name,
      displaytext: o.displaytext ?? o.name,
      guestIpType: o.guestIpType,
      forVpc: o.forVpc,
      conserveMode: o.conserveMode,
      services: new Set(o.services),
      lbProvider: provider
    }
    s.offerings.set(row.uuid, row)
    offeringByName.set(o.name, row)
  }
  const soByName = new Map<string, ServiceOfferingRow>()
  for (const o of world.serviceOfferings) {
    const row: ServiceOfferingRow = {
      uuid: id(o.id),
      name: o.name,
      cpunumber: o.cpunumber,
      cpuspeed: o.cpuspeed,
      memory: o.memory,
      created: now
    }
    s.serviceOfferings.set(row.uuid, row)
    soByName.set(o.name, row)
  }
  const tplByName = new Map<string, TemplateRow>()
  for (const t of world.templates) {
    const row: TemplateRow = { uuid: id(t.id), name: t.name, ostype: t.ostype, created: now }
    s.templates.set(row.uuid, row)
    tplByName.set(t.name, row)
  }
  // Public addresses first, so source-NAT IPs of networks come from the pool.
  for (const r of world.publicIps) {
    const zone = zoneByName.get(r.zone)
    if (zone === undefined) {
      errors.push(`publicIps: unknown zone ${r.zone}`)
      continue
    }
    const addresses = [...r.addresses]
    if (r.start !== undefined) {
      const base = ipv4ToInt(r.start)
      const count = r.count ?? 1
      if (base === undefined) errors.push(`publicIps: invalid start ${r.start}`)
      else if (base + count - 1 > 0xffffffff) {
        errors.push(`publicIps: ${count} addresses from ${r.start} run past 255.255.255.255`)
      } else for (let i = 0; i < count; i++) addresses.push(intToIpv4(base + i))
    }
    for (const address of addresses) {
      if (++rows % SEED_CHUNK === 0) yield
      if (s.ipsByAddress.has(address)) {
        errors.push(`publicIps: duplicate address ${address}`)
        continue
      }
      const row: IpRow = {
        uuid: nextUuid(s),
        internalId: nextInternalId(s),
        address,
        zoneUuid: zone.uuid,
        ...FREE_IP
      }
      s.ips.set(row.uuid, row)
      s.ipsByAddress.set(address, row)
    }
  }
  // The first free address of a zone, in pool order. Seeding never frees an address, so one cursor
  // per zone finds it without rescanning the pool for each network (10,000 x 65,536 otherwise).
  const cursors = new Map<string, Iterator<IpRow>>()
  const firstFree = (zoneUuid: string): IpRow | undefined => {
    const cursor = cursors.get(zoneUuid) ?? s.ips.values()
    cursors.set(zoneUuid, cursor)
    for (let r = cursor.next(); r.done !== true; r = cursor.next()) {
      if (r.value.zoneUuid === zoneUuid && r.value.state === "Free") return r.value
    }
    return undefined
  }
  const takeSourceNat = (zoneUuid: string, wanted: string | undefined, what: string): IpRow | undefined => {
    const ip = wanted !== undefined ? s.ipsByAddress.get(wanted) : firstFree(zoneUuid)
    if (ip === undefined || ip.state !== "Free") {
      errors.push(`${what}: no free public IP for source NAT${wanted === undefined ? "" : ` (${wanted})`}`)
      return undefined
    }
    return ip
  }
  const vpcByName = new Map<string, VpcRow>()
  for (const v of world.vpcs) {
    const zone = zoneByName.get(v.zone)
    const owner = ownerOf(s, v.owner, projectByName)
    if (zone === undefined) errors.push(`vpc ${v.name}: unknown zone ${v.zone}`)
    if (Either.isLeft(owner)) errors.push(`vpc ${v.name}: ${owner.left}`)
    if (zone === undefined || Either.isLeft(owner)) continue
    const row: VpcRow = {
      uuid: id(v.id),
      name: v.name,
      zoneUuid: zone.uuid,
      cidr: v.cidr,
      owner: owner.right,
      created: now
    }
    s.vpcs.set(row.uuid, row)
    vpcByName.set(v.name, row)
    const snat = takeSourceNat(zone.uuid, undefined, `vpc ${v.name}`)
    if (snat !== undefined) {
      Object.assign(snat, { state: "Allocated", owner: row.owner, vpcUuid: row.uuid, sourceNat: true, allocated: now })
    }
  }
  const defaultAllow: AclListRow = {
    uuid: nextUuid(s),
    name: "default_allow",
    description: "Default Network ACL Allow All",
    vpcUuid: undefined
  }
  const defaultDeny: AclListRow = {
    uuid: nextUuid(s),
    name: "default_deny",
    description: "Default Network ACL Deny All",
    vpcUuid: undefined
  }
  s.aclLists.set(defaultAllow.uuid, defaultAllow)
  s.aclLists.set(defaultDeny.uuid, defaultDeny)
  const addAclItem = (aclUuid: string, item: Omit<AclItemRow, "uuid" | "internalId" | "aclUuid">) => {
    const row: AclItemRow = { uuid: nextUuid(s), internalId: nextInternalId(s), aclUuid, ...item }
    s.aclItems.set(row.uuid, row)
  }
  const base = {
    startport: undefined,
    endport: undefined,
    icmptype: undefined,
    icmpcode: undefined,
    reason: undefined,
    state: "Active" as const
  }
  addAclItem(defaultAllow.uuid, {
    ...base,
    number: 1,
    protocol: "all",
    cidrlist: ["0.0.0.0/0"],
    action: "Allow",
    traffictype: "Ingress"
  })
  addAclItem(defaultAllow.uuid, {
    ...base,
    number: 2,
    protocol: "all",
    cidrlist: ["0.0.0.0/0"],
    action: "Allow",
    traffictype: "Egress"
  })
  addAclItem(defaultDeny.uuid, {
    ...base,
    number: 1,
    protocol: "all",
    cidrlist: ["0.0.0.0/0"],
    action: "Deny",
    traffictype: "Ingress"
  })
  addAclItem(defaultDeny.uuid, {
    ...base,
    number: 2,
    protocol: "all",
    cidrlist: ["0.0.0.0/0"],
    action: "Deny",
    traffictype: "Egress"
  })
  const aclByKey = new Map<string, AclListRow>()
  for (const a of world.aclLists) {
    const vpc = vpcByName.get(a.vpc)
    if (vpc === undefined) {
      errors.push(`aclList ${a.name}: unknown vpc ${a.vpc}`)
      continue
    }
    const row: AclListRow = { uuid: id(a.id), name: a.name, description: a.description ?? a.name, vpcUuid: vpc.uuid }
    s.aclLists.set(row.uuid, row)
    aclByKey.set(`${a.vpc}/${a.name}`, row)
    for (const it of a.items) {
      addAclItem(row.uuid, {
        ...base,
        number: it.number,
        protocol: it.protocol,
        startport: it.startport,
        endport: it.endport ?? it.startport,
        cidrlist: it.cidrlist,
        action: it.action,
        traffictype: it.traffictype
      })
    }
  }
  const netByName = new Map<string, NetworkRow>()
  for (const n of world.networks) {
    if (++rows % SEED_CHUNK === 0) yield
    const zone = zoneByName.get(n.zone)
    const offering = offeringByName.get(n.offering)
    const owner = ownerOf(s, n.owner, projectByName)
    const vpc = n.vpc === undefined ? undefined : vpcByName.get(n.vpc)
    if (zone === undefined) errors.push(`network ${n.name}: unknown zone ${n.zone}`)
    if (offering === undefined) errors.push(`network ${n.name}: unknown offering ${n.offering}`)
    if (Either.isLeft(owner)) errors.push(`network ${n.name}: ${owner.left}`)
    if (n.vpc !== undefined && vpc === undefined) errors.push(`network ${n.name}: unknown vpc ${n.vpc}`)
    let acl: AclListRow | undefined
    if (n.acl !== undefined) {
      acl = n.acl === "default_allow"
        ? defaultAllow
        : n.acl === "default_deny"
        ? defaultDeny
        : aclByKey.get(`${n.vpc}/${n.acl}`)
      if (acl === undefined) errors.push(`network ${n.name}: unknown acl ${n.acl} in vpc ${n.vpc ?? "(none)"}`)
    }
    if (zone === undefined || offering === undefined || Either.isLeft(owner)) continue
    const row: NetworkRow = {
      uuid: id(n.id),
      name: n.name,
      zoneUuid: zone.uuid,
      offeringUuid: offering.uuid,
      owner: owner.right,
      cidr: n.cidr,
      gateway: gatewayOf(n.cidr),
      netmask: netmaskOf(n.cidr),
      ip6cidr: n.ip6cidr,
      vpcUuid: vpc?.uuid,
      aclUuid: vpc === undefined ? undefined : (acl ?? defaultDeny).uuid,
      type: offering.guestIpType,
      created: now
    }
    s.networks.set(row.uuid, row)
    netByName.set(n.name, row)
    if (vpc === undefined && offering.services.has("SourceNat")) {
      const snat = takeSourceNat(zone.uuid, n.sourceNatIp, `network ${n.name}`)
      if (snat !== undefined) {
        Object.assign(snat, {
          state: "Allocated",
          owner: row.owner,
          associatedNetworkUuid: row.uuid,
          sourceNat: true,
          allocated: now
        })
      }
    }
  }
  for (const v of world.vms) {
    if (++rows % SEED_CHUNK === 0) yield
    const zone = zoneByName.get(v.zone)
    const owner = ownerOf(s, v.owner, projectByName)
    const so = soByName.get(v.serviceOffering)
    const tpl = tplByName.get(v.template)
    if (zone === undefined) errors.push(`vm ${v.name}: unknown zone ${v.zone}`)
    if (Either.isLeft(owner)) errors.push(`vm ${v.name}: ${owner.left}`)
    if (so === undefined) errors.push(`vm ${v.name}: unknown service offering ${v.serviceOffering}`)
    if (tpl === undefined) errors.push(`vm ${v.name}: unknown template ${v.template}`)
    const nics: Array<NicRow> = []
    v.nics.forEach((nic, i) => {
      const net = netByName.get(nic.network)
      if (net === undefined) errors.push(`vm ${v.name}: unknown network ${nic.network}`)
      else {
        nics.push({
          uuid: nextUuid(s),
          networkUuid: net.uuid,
          ip: nic.ip,
          ip6: nic.ip6,
          isdefault: i === 0,
          mac: newMac(s.counter)
        })
      }
    })
    if (zone === undefined || Either.isLeft(owner) || so === undefined || tpl === undefined) continue
    const row: VmRow = {
      uuid: id(v.id),
      internalId: nextInternalId(s),
      name: v.name,
      displayname: v.displayname ?? v.name,
      zoneUuid: zone.uuid,
      owner: owner.right,
      state: v.state,
      serviceOfferingUuid: so.uuid,
      templateUuid: tpl.uuid,
      nics,
      created: now
    }
    s.vms.set(row.uuid, row)
  }
  let defaultAccount: Credentials | undefined
  for (const c of s.keys.values()) if (c.account.name === world.defaultAccount) defaultAccount = c
  if (defaultAccount === undefined) errors.push(`defaultAccount ${world.defaultAccount} is not in accounts`)
  if (errors.length > 0 || defaultAccount === undefined) return Either.left(errors)
  return Either.right({ ...s, defaultAccount })
}
