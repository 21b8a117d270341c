/**
 * What the service controller remembers of each Service it converged: the spec signature and
 * backends of the last successful ensure and the LB snapshot that lets a member-only change skip a
 * full ensure; plus the Services due a member audit (drift repair). In memory only: a restart
 * starts with none, and every Service is ensured in full once.
 */
import { Effect, HashMap, HashSet, Option, Ref } from "effect"
import type { NetworkId } from "../cloudstack/Ids.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import type { LbSnapshot } from "../provider/loadbalancer/LoadBalancers.js"
import { sharing } from "../provider/Sharing.js"
import * as ServicePlan from "./ServicePlan.js"

/** What the last successful ensure of a Service saw, to tell a member-only change from a full one. */
export interface Synced {
  /** ServicePlan.specDigest of the Service ensured. */
  readonly signature: string
  readonly backends: string
  readonly snapshot: Option.Option<LbSnapshot>
}

export interface ServiceMemory {
  readonly get: (key: string) => Effect.Effect<Synced | undefined>
  readonly remember: (key: string, entry: Synced) => Effect.Effect<void>
  readonly forget: (key: string) => Effect.Effect<void>
  /**
   * Drops what the last ensure saw; true for the one caller that found it there (a repair is counted
   * once). With `before` (a `mark`), only an entry remembered before it: a drift found in a listing
   * read before the last ensure is not drift (that ensure saw a newer cloud).
   */
  readonly claimRepair: (key: string, before?: number) => Effect.Effect<boolean>
  /** How many ensures were remembered so far: the `before` of a later claimRepair. */
  readonly mark: Effect.Effect<number>
  /** Whether the last ensure of `service` saw its current spec (a converged LB Service). */
  readonly isConverged: (service: ServiceView) => Effect.Effect<boolean>
  /** Marks a Service for a member audit: its next sync compares members even if nothing changed. */
  readonly markAudit: (key: string) => Effect.Effect<void>
  /** Takes the Service's audit mark; true if it had one. */
  readonly takeAudit: (key: string) => Effect.Effect<boolean>
}

/** Distinct networks whose id and name the remembered snapshots share. */
const SHARED_NETWORKS = 256

export const make: Effect.Effect<ServiceMemory> = Effect.gen(function*() {
  // Persistent maps: a change shares the rest instead of copying every Service's entry.
  // Each entry with its place in the order of remembers (ServiceMemory.mark).
  const synced = yield* Ref.make(HashMap.empty<string, { readonly entry: Synced; readonly seq: number }>())
  const remembered = yield* Ref.make(0)
  // Every Service on a network would otherwise keep its own copy of the network's id and name.
  const networkIds = sharing<NetworkId>(SHARED_NETWORKS)
  const networkNames = sharing<string>(SHARED_NETWORKS)
  const kept = (entry: Synced): Synced => ({
    ...entry,
    snapshot: Option.map(entry.snapshot, (snapshot) => ({
      networkId: networkIds(snapshot.networkId),
      networkName: networkNames(snapshot.networkName),
      rules: snapshot.rules.map((rule) => ({ id: rule.id, name: rule.name })),
      policies: snapshot.policies
    }))
  })
  const audits = yield* Ref.make(HashSet.empty<string>())
  const claimRepair = (key: string, before = Infinity) =>
    Ref.modify(synced, (m) =>
      Option.exists(HashMap.get(m, key), (kept) => kept.seq < before)
        ? [true, HashMap.remove(m, key)] as const
        : [false, m] as const)
  return {
    get: (key) => Effect.map(Ref.get(synced), (m) => Option.getOrUndefined(HashMap.get(m, key))?.entry),
    remember: (key, entry) =>
      Effect.flatMap(
        Ref.getAndUpdate(remembered, (n) => n + 1),
        (seq) => Ref.update(synced, HashMap.set(key, { entry: kept(entry), seq }))
      ),
    forget: (key) => Effect.asVoid(claimRepair(key)),
    claimRepair,
    mark: Ref.get(remembered),
    isConverged: (service) =>
      Effect.map(Ref.get(synced), (m) => {
        const last = HashMap.get(m, ServicePlan.serviceKey(service))
        return Option.isSome(last) && last.value.entry.signature === ServicePlan.specDigest(service) &&
          ServicePlan.wantsLoadBalancer(service)
      }),
    markAudit: (key) => Ref.update(audits, HashSet.add(key)),
    takeAudit: (key) =>
      Ref.modify(
        audits,
        (set) => HashSet.has(set, key) ? [true, HashSet.remove(set, key)] as const : [false, set] as const
      )
  }
})
