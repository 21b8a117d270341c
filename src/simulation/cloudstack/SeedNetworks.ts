/**
 * Seeding the world's networking: the public IP pool, VPCs and isolated networks (each taking its
 * source-NAT address from the pool), the default and per-VPC ACL lists. Steps of Seed.ts; pure. The
 * generators yield after every SEED_CHUNK rows counted by the context.
 */
import { Either } from "effect"
import { gatewayOf, intToIpv4, ipv4ToInt, netmaskOf } from "./Ipv4.js"
import { ownerOf, type SeedContext } from "./SeedContext.js"
import type { AclItemRow, AclListRow, IpRow, NetworkRow, VpcRow } from "./SimModel.js"
import { FREE_IP, nextInternalId, nextUuid } from "./Store.js"
import type { World } from "./World.js"

/** The public IP pool, every range expanded; a duplicate address is a problem, not a second row. */
export function* seedPublicIps(ctx: SeedContext, world: World): Generator<void, void> {
  const { errors, s } = ctx
  for (const r of world.publicIps) {
    const zone = ctx.zoneByName.get(r.zone)
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
      if (ctx.tick()) yield
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
}

/** Picks the source-NAT address of a VPC or network: the wanted one, or the zone's first free one. */
export type TakeSourceNat = (zoneUuid: string, wanted: string | undefined, what: string) => IpRow | undefined

/** A source-NAT picker over the seeded pool; reports a missing or taken address as a problem. */
export const sourceNatTaker = (ctx: SeedContext): TakeSourceNat => {
  const { errors, s } = ctx
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
  return (zoneUuid, wanted, what) => {
    const ip = wanted !== undefined ? s.ipsByAddress.get(wanted) : firstFree(zoneUuid)
    if (ip === undefined || ip.state !== "Free") {
      errors.push(`${what}: no free public IP for source NAT${wanted === undefined ? "" : ` (${wanted})`}`)
      return undefined
    }
    return ip
  }
}

/** VPCs, each allocating its source-NAT address. */
export const seedVpcs = (ctx: SeedContext, world: World, takeSourceNat: TakeSourceNat): void => {
  const { errors, id, now, s } = ctx
  for (const v of world.vpcs) {
    const zone = ctx.zoneByName.get(v.zone)
    const owner = ownerOf(ctx, v.owner)
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
    ctx.vpcByName.set(v.name, row)
    const snat = takeSourceNat(zone.uuid, undefined, `vpc ${v.name}`)
    if (snat !== undefined) {
      Object.assign(snat, { state: "Allocated", owner: row.owner, vpcUuid: row.uuid, sourceNat: true, allocated: now })
    }
  }
}

/** The two ACL lists every CloudStack has, outside any VPC. */
export interface DefaultAcls {
  readonly allow: AclListRow
  readonly deny: AclListRow
}

/** The default ACL lists with their rules, then the world's ACL lists of its VPCs. */
export const seedAclLists = (ctx: SeedContext, world: World): DefaultAcls => {
  const { errors, id, s } = ctx
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
  for (const a of world.aclLists) {
    const vpc = ctx.vpcByName.get(a.vpc)
    if (vpc === undefined) {
      errors.push(`aclList ${a.name}: unknown vpc ${a.vpc}`)
      continue
    }
    const row: AclListRow = { uuid: id(a.id), name: a.name, description: a.description ?? a.name, vpcUuid: vpc.uuid }
    s.aclLists.set(row.uuid, row)
    ctx.aclByKey.set(`${a.vpc}/${a.name}`, row)
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
  return { allow: defaultAllow, deny: defaultDeny }
}

/**
 * Guest networks: a VPC tier gets its ACL list (default_deny unless named), an isolated network with
 * SourceNat allocates its source-NAT address.
 */
export function* seedNetworks(
  ctx: SeedContext,
  world: World,
  defaults: DefaultAcls,
  takeSourceNat: TakeSourceNat
): Generator<void, void> {
  const { errors, id, now, s } = ctx
  for (const n of world.networks) {
    if (ctx.tick()) yield
    const zone = ctx.zoneByName.get(n.zone)
    const offering = ctx.offeringByName.get(n.offering)
    const owner = ownerOf(ctx, n.owner)
    const vpc = n.vpc === undefined ? undefined : ctx.vpcByName.get(n.vpc)
    if (zone === undefined) errors.push(`network ${n.name}: unknown zone ${n.zone}`)
    if (offering === undefined) errors.push(`network ${n.name}: unknown offering ${n.offering}`)
    if (Either.isLeft(owner)) errors.push(`network ${n.name}: ${owner.left}`)
    if (n.vpc !== undefined && vpc === undefined) errors.push(`network ${n.name}: unknown vpc ${n.vpc}`)
    let acl: AclListRow | undefined
    if (n.acl !== undefined) {
      acl = n.acl === "default_allow"
        ? defaults.allow
        : n.acl === "default_deny"
        ? defaults.deny
        : ctx.aclByKey.get(`${n.vpc}/${n.acl}`)
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
      aclUuid: vpc === undefined ? undefined : (acl ?? defaults.deny).uuid,
      type: offering.guestIpType,
      created: now
    }
    s.networks.set(row.uuid, row)
    ctx.netByName.set(n.name, row)
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
}
