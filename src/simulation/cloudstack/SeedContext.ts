/**
 * What one seeding run threads through its steps: the Store being filled, the rows seeded so far by
 * world name (a world refers to everything by name), every problem found, and the yield pacing. The
 * steps are SeedCatalogue.ts, SeedNetworks.ts and SeedVms.ts; Seed.ts runs them in order.
 */
import { Either } from "effect"
import type {
  AclListRow,
  NetworkOfferingRow,
  NetworkRow,
  ProjectRow,
  ServiceOfferingRow,
  TemplateRow,
  VpcRow,
  ZoneRow
} from "./SimModel.js"
import { nextUuid, type Store } from "./Store.js"
import type { World } from "./World.js"

/** Rows seeded between two yields of `seedSteps`. */
export const SEED_CHUNK = 2_000

export interface SeedContext {
  /** The store being filled; its defaultAccount is a placeholder until `seedSteps` ends. */
  readonly s: Store
  readonly now: number
  /** Every reference problem found, reported together so a scenario file is fixed in one go. */
  readonly errors: Array<string>
  /** The given id, or the next deterministic uuid. */
  readonly id: (given: string | undefined) => string
  /** Counts one paced row (public IP, network, VM); true when the seeding should yield. */
  readonly tick: () => boolean
  readonly projectByName: Map<string, ProjectRow>
  readonly zoneByName: Map<string, ZoneRow>
  readonly offeringByName: Map<string, NetworkOfferingRow>
  readonly soByName: Map<string, ServiceOfferingRow>
  readonly tplByName: Map<string, TemplateRow>
  readonly vpcByName: Map<string, VpcRow>
  /** ACL lists of the world by `<vpc>/<name>`. */
  readonly aclByKey: Map<string, AclListRow>
  readonly netByName: Map<string, NetworkRow>
}

/** An empty store for the world and a fresh context around it. */
export const makeSeedContext = (world: World, seed: number, now: number): SeedContext => {
  // The tables start empty, typed by Store; defaultAccount is a placeholder that seedSteps replaces
  // before the store escapes.
  const s: Store = {
    seed,
    version: world.version.split(".").map(Number),
    counter: 0,
    internalId: 0,
    jobSeq: 0,
    accounts: new Map(),
    accountsByUuid: new Map(),
    keys: new Map(),
    projects: new Map(),
    zones: new Map(),
    zonePublicNetwork: new Map(),
    offerings: new Map(),
    serviceOfferings: new Map(),
    templates: new Map(),
    vpcs: new Map(),
    aclLists: new Map(),
    aclItems: new Map(),
    networks: new Map(),
    vms: new Map(),
    ips: new Map(),
    ipsByAddress: new Map(),
    lbRules: new Map(),
    fwRules: new Map(),
    rulesByIp: new Map(),
    staticNatByVm: new Map(),
    healthChecks: new Map(),
    stickiness: new Map(),
    tags: new Map(),
    jobs: new Map(),
    pending: [],
    finished: [],
    queueTail: new Map(),
    forcedFailures: new Map(),
    defaultAccount: {
      apiKey: "",
      secretKey: "",
      account: { uuid: "", name: "", role: "user", deniedApis: [], projectUuid: undefined },
      userUuid: ""
    }
  }
  let rows = 0
  return {
    s,
    now,
    errors: [],
    id: (given) => given ?? nextUuid(s),
    tick: () => ++rows % SEED_CHUNK === 0,
    projectByName: new Map(),
    zoneByName: new Map(),
    offeringByName: new Map(),
    soByName: new Map(),
    tplByName: new Map(),
    vpcByName: new Map(),
    aclByKey: new Map(),
    netByName: new Map()
  }
}

/** References are by name, so names (and api keys) must be unique per kind. */
export const checkUniqueNames = (ctx: SeedContext, world: World): void => {
  const unique = (kind: string, names: ReadonlyArray<string>) => {
    const seen = new Set<string>()
    for (const n of names) {
      if (seen.has(n)) ctx.errors.push(`duplicate ${kind} ${n}`)
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
}

/** Resolves an owner reference (`account` or `project:<name>`) to the owning account name. */
export const ownerOf = (ctx: SeedContext, owner: string): Either.Either<string, string> => {
  if (owner.startsWith("project:")) {
    const p = ctx.projectByName.get(owner.slice("project:".length))
    return p === undefined ? Either.left(`unknown project in owner ${owner}`) : Either.right(p.accountName)
  }
  return ctx.s.accounts.has(owner) ? Either.right(owner) : Either.left(`unknown account ${owner}`)
}
