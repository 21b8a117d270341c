/**
 * The simulator's tables and indexes, and the deterministic ids they hand out. The store is plain
 * mutable data owned by one simulator layer instance; only the engine mutates it, inside one
 * synchronous step per request, so no fiber ever sees a half-applied change. Seeding is Seed.ts.
 */
import type {
  AccountRow,
  AclItemRow,
  AclListRow,
  FirewallRuleRow,
  HealthCheckRow,
  IpRow,
  JobRow,
  LbRuleRow,
  NetworkOfferingRow,
  NetworkRow,
  ProjectRow,
  ServiceOfferingRow,
  StickinessRow,
  TagRow,
  TemplateRow,
  VmRow,
  VpcRow,
  ZoneRow
} from "./SimModel.js"

export interface Credentials {
  readonly apiKey: string
  readonly secretKey: string
  readonly account: AccountRow
  readonly userUuid: string
}

/** A job's execute phase, run when the simulator's Clock reaches `finishAt`. */
export type JobOutcome =
  | { readonly _tag: "Ok"; readonly result: unknown }
  | { readonly _tag: "Failed"; readonly code: number; readonly text: string }

export interface PendingJob {
  readonly row: JobRow
  readonly seq: number
  readonly execute: () => JobOutcome
  /** Undo of the create phase when the job fails (the entity is removed, reference 6.5). */
  readonly onFailure: () => void
}

export interface Store {
  readonly seed: number
  /** The management server version the world plays (World.version). */
  readonly version: ReadonlyArray<number>
  counter: number
  internalId: number
  jobSeq: number
  readonly defaultAccount: Credentials
  readonly accounts: Map<string, AccountRow>
  readonly accountsByUuid: Map<string, AccountRow>
  readonly keys: Map<string, Credentials>
  readonly projects: Map<string, ProjectRow>
  readonly zones: Map<string, ZoneRow>
  readonly zonePublicNetwork: Map<string, { readonly uuid: string; readonly physical: string; readonly vlan: string }>
  readonly offerings: Map<string, NetworkOfferingRow>
  readonly serviceOfferings: Map<string, ServiceOfferingRow>
  readonly templates: Map<string, TemplateRow>
  readonly vpcs: Map<string, VpcRow>
  readonly aclLists: Map<string, AclListRow>
  readonly aclItems: Map<string, AclItemRow>
  readonly networks: Map<string, NetworkRow>
  readonly vms: Map<string, VmRow>
  readonly ips: Map<string, IpRow>
  readonly ipsByAddress: Map<string, IpRow>
  readonly lbRules: Map<string, LbRuleRow>
  readonly fwRules: Map<string, FirewallRuleRow>
  /** ip uuid -> uuids of its LB and firewall rules (conflict checks without scans). */
  readonly rulesByIp: Map<string, Set<string>>
  /** vm uuid -> its static-NAT ip uuid. */
  readonly staticNatByVm: Map<string, string>
  readonly healthChecks: Map<string, HealthCheckRow>
  readonly stickiness: Map<string, StickinessRow>
  /** `<resourceType>|<uuid>` -> lowercased key -> tag. */
  readonly tags: Map<string, Map<string, TagRow>>
  readonly jobs: Map<string, JobRow>
  /** Sorted by (finishAt, seq). */
  readonly pending: Array<PendingJob>
  /** Finished jobs in completion order, dropped `job.expire.minutes` after completion. */
  readonly finished: Array<JobRow>
  /** queue key -> finishAt of its last job: the per-network FIFO. */
  readonly queueTail: Map<string, number>
  /** command -> remaining forced failures. */
  readonly forcedFailures: Map<string, Array<{ readonly code: number; readonly text: string | undefined }>>
}

/** The fields of a public IP back in the pool (seeded free, or released). */
export const FREE_IP = {
  state: "Free",
  owner: undefined,
  associatedNetworkUuid: undefined,
  vpcUuid: undefined,
  sourceNat: false,
  staticNatVmUuid: undefined,
  allocated: undefined
} as const

export const nextUuid = (s: Store): string => uuidFor(s.seed, s.counter++)
export const nextInternalId = (s: Store): number => ++s.internalId

export const newMac = (n: number): string => {
  const h = n.toString(16).padStart(6, "0").slice(-6)
  return `02:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:01`.slice(0, 17)
}

export const projectAccountName = (name: string, n: number) => `PrjAcct-${name}-${n}`

const fmix = (h0: number): number => {
  let h = h0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
const hex8 = (n: number) => n.toString(16).padStart(8, "0")

/** A version-4-shaped UUID that depends only on (seed, n): reproducible ids for a seed. */
export const uuidFor = (seed: number, n: number): string => {
  const a = fmix(seed ^ fmix(n * 4 + 1))
  const b = fmix(seed + 0x9e3779b9 ^ fmix(n * 4 + 2))
  const c = fmix(seed ^ 0x7f4a7c15 ^ fmix(n * 4 + 3))
  const d = fmix(seed + 0x1b873593 ^ fmix(n * 4 + 4))
  const hb = hex8(b)
  const hc = hex8(c)
  return `${hex8(a)}-${hb.slice(0, 4)}-4${hb.slice(5, 8)}-${((c >>> 28) & 0x3 | 0x8).toString(16)}${hc.slice(1, 4)}-${
    hc.slice(4, 8)
  }${hex8(d)}`
}

/** Whether the world's server version is at least `min` (e.g. [4, 22]). */
export const atLeast = (s: Store, min: ReadonlyArray<number>): boolean => {
  for (let i = 0; i < min.length; i++) {
    const have = s.version[i] ?? 0
    const want = min[i] ?? 0
    if (have !== want) return have > want
  }
  return true
}
