/**
 * What the LB provider learns about the cloud and keeps for a while, so steady-state reconciles
 * cost no extra reads: network profiles (listNetworks + the tier's ACL list name), LB protocols a
 * network's provider refused (the virtual router's 431 for UDP although it advertises it), and
 * whether the server updates a rule's cidrlist in place (4.22+). Entries expire; a failure that
 * may stem from stale facts invalidates them.
 */
import { Clock, Duration, Effect, Option, Ref } from "effect"
import { CloudStackClient } from "../../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../../cloudstack/CloudStackError.js"
import { listNetworkACLLists } from "../../cloudstack/commands/NetworkAcls.js"
import { listNetworks } from "../../cloudstack/commands/Networks.js"
import type { NetworkId, VpcId } from "../../cloudstack/Ids.js"
import { fromNetwork, type NetworkProfile } from "./NetworkProfile.js"

/** How long a network profile is trusted (offerings and ACL lists rarely change). */
export const PROFILE_TTL = Duration.minutes(10)
/** How long a refused protocol stays refused before it is tried again. */
export const REFUSAL_TTL = Duration.hours(1)

interface Timed<A> {
  readonly at: number
  readonly value: A
}

export interface CloudFacts {
  /** The profile of a network the account can see; None when it cannot. */
  readonly profile: (id: NetworkId) => Effect.Effect<Option.Option<NetworkProfile>, CloudStackError, CloudStackClient>
  readonly forget: (id: NetworkId) => Effect.Effect<void>
  /** The tiers of a VPC (not cached: asked only for a VPC IP that lost its tier). */
  readonly tiers: (vpc: VpcId) => Effect.Effect<ReadonlyArray<NetworkId>, CloudStackError, CloudStackClient>
  /** Protocols refused on a network (unexpired). */
  readonly refused: (id: NetworkId) => Effect.Effect<ReadonlySet<string>>
  readonly refuse: (id: NetworkId, protocol: string) => Effect.Effect<void>
  /** False once the server ignored a cidrlist update (before CloudStack 4.22). */
  readonly cidrUpdateInPlace: Effect.Effect<boolean>
  readonly noCidrUpdateInPlace: Effect.Effect<void>
}

export const make = Effect.gen(function*() {
  const profiles = yield* Ref.make(new Map<NetworkId, Timed<NetworkProfile>>())
  const refusals = yield* Ref.make(new Map<string, number>())
  const cidrInPlace = yield* Ref.make(true)

  const fresh = <A>(entry: Timed<A> | undefined, ttl: Duration.Duration, now: number): entry is Timed<A> =>
    entry !== undefined && now - entry.at < Duration.toMillis(ttl)

  const load = (id: NetworkId) =>
    Effect.gen(function*() {
      const cs = yield* CloudStackClient
      const [network] = (yield* cs.list(listNetworks, { id })).filter((n) => n.id === id)
      if (network === undefined) return Option.none<NetworkProfile>()
      // listNetworks names the tier's list; older servers only give its id.
      const listName = network.vpcId === undefined || network.aclId === undefined
        ? Option.none<string>()
        : network.aclName !== undefined
        ? Option.some(network.aclName)
        : Option.fromNullable(
          (yield* cs.list(listNetworkACLLists, { id: network.aclId })).find((l) => l.id === network.aclId)?.name
        )
      return Option.some(fromNetwork(network, listName))
    })

  const profile: CloudFacts["profile"] = (id) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const cached = (yield* Ref.get(profiles)).get(id)
      if (fresh(cached, PROFILE_TTL, now)) return Option.some(cached.value)
      const loaded = yield* load(id)
      if (Option.isSome(loaded)) {
        yield* Ref.update(profiles, (m) => new Map(m).set(id, { at: now, value: loaded.value }))
      }
      return loaded
    })

  const forget = (id: NetworkId) =>
    Ref.update(profiles, (m) => {
      const next = new Map(m)
      next.delete(id)
      return next
    })

  const refused = (id: NetworkId) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const all = yield* Ref.get(refusals)
      const out = new Set<string>()
      for (const [key, at] of all) {
        const [net, protocol] = key.split("|")
        if (net === id && protocol !== undefined && now - at < Duration.toMillis(REFUSAL_TTL)) out.add(protocol)
      }
      return out
    })

  const refuse = (id: NetworkId, protocol: string) =>
    Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Ref.update(refusals, (m) => new Map(m).set(`${id}|${protocol}`, now))
    )

  const tiers: CloudFacts["tiers"] = (vpc) =>
    Effect.flatMap(
      CloudStackClient,
      (cs) =>
        Effect.map(cs.list(listNetworks, { vpcId: vpc }), (ns) => ns.filter((n) => n.vpcId === vpc).map((n) => n.id))
    )

  return {
    profile,
    forget,
    tiers,
    refused,
    refuse,
    cidrUpdateInPlace: Ref.get(cidrInPlace),
    noCidrUpdateInPlace: Ref.set(cidrInPlace, false)
  } satisfies CloudFacts
})
