/**
 * Seeding the world's tenants and catalogue: accounts with their keys, projects with their project
 * accounts, zones with their public networks, network offerings with their LB providers, service
 * offerings and templates. Steps of Seed.ts; pure.
 */
import type { SeedContext } from "./SeedContext.js"
import type {
  AccountRow,
  LbProviderRow,
  NetworkOfferingRow,
  ProjectRow,
  ServiceOfferingRow,
  TemplateRow,
  ZoneRow
} from "./SimModel.js"
import { nextUuid, projectAccountName } from "./Store.js"
import type { World } from "./World.js"

/** Accounts (one api key each) and projects, each project owning a hidden project account. */
export const seedAccounts = (ctx: SeedContext, world: World): void => {
  const { errors, id, now, s } = ctx
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
    ctx.projectByName.set(p.name, row)
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
}

/** Zones, network offerings (with their LB provider), service offerings and templates. */
export const seedCatalogue = (ctx: SeedContext, world: World): void => {
  const { errors, id, now, s } = ctx
  for (const z of world.zones) {
    const row: ZoneRow = { uuid: id(z.id), name: z.name }
    s.zones.set(row.uuid, row)
    ctx.zoneByName.set(z.name, row)
    s.zonePublicNetwork.set(row.uuid, { uuid: nextUuid(s), physical: nextUuid(s), vlan: nextUuid(s) })
  }
  const providers = new Map<string, LbProviderRow>(world.lbProviders.map((p) => [p.name, { ...p }]))
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
    ctx.offeringByName.set(o.name, row)
  }
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
    ctx.soByName.set(o.name, row)
  }
  for (const t of world.templates) {
    const row: TemplateRow = { uuid: id(t.id), name: t.name, ostype: t.ostype, created: now }
    s.templates.set(row.uuid, row)
    ctx.tplByName.set(t.name, row)
  }
}
