/**
 * One observe → plan → execute round of a Service's load balancer: reads (live or a drift pass's
 * fleet), the VM lookups and network profile, the pure plan, and unless asked for a dry run its
 * execution. The callers (LoadBalancers) decide what a failure means and whether to go again.
 */
import { Effect, Either, Option } from "effect"
import { CloudStackClient } from "../../cloudstack/CloudStackClient.js"
import { LB_PROVIDER_REFUSAL } from "../../cloudstack/CloudStackError.js"
import { NetworkId, ZoneId } from "../../cloudstack/Ids.js"
import type { NodeRef } from "../InstanceLookup.js"
import type { Instances } from "../Instances.js"
import type { CloudFacts } from "./CloudFacts.js"
import { execute, type Executed, type Reservations } from "./Execute.js"
import type { LbSpec, LbWarning } from "./LbSpec.js"
import { chooseNetwork, type Membership, membershipMemo, withWarnings } from "./Members.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import { observeBase, type ObservedBase, observeDetails } from "./Observe.js"
import { aclMarker } from "./ObservedLb.js"
import type * as Ownership from "./Ownership.js"
import { type DesiredLb, LbUserError, type Plan, plan } from "./Plan.js"
import type { LbReads } from "./Reads.js"
import { settle as settleSteps } from "./Settle.js"

/** What the caller knows of the other Services' IPs. */
export interface Claims {
  /** Whether another Service records this IP id or address (never adopted or released as ours). */
  readonly claimedElsewhere: (idOrAddress: string) => boolean
  /** Whether another Service asks for this address (never picked as a free one). */
  readonly requestedElsewhere: (address: string) => boolean
  /** Whether another Service is associating this address right now (its outcome is not known yet). */
  readonly associatingElsewhere: (address: string) => boolean
}

/** What the controller tells the provider beside the Service itself. */
export interface LbCaller<E> extends Claims {
  /** The eligible nodes (the controller applied Kubernetes' predicates and externalTrafficPolicy). */
  readonly nodes: ReadonlyArray<NodeRef>
  /** No controller has acted on the Service yet: no discovery reads are needed. */
  readonly fresh: boolean
  /**
   * The claims as they are now, asked for once the Service's IP locks are held: a Service that held
   * them meanwhile has settled its record since the request was built (the claims above may predate it).
   */
  readonly claimsNow?: Effect.Effect<Claims> | undefined
  /** Writes the ownership record on the Service (annotations). */
  readonly persist: (ownership: Ownership.Ownership) => Effect.Effect<void, E>
}

/** What a round needs of the Service and its caller. */
export interface RoundRequest<E> extends LbCaller<E> {
  readonly uid: string
  readonly namespace: string
  readonly name: string
}

export interface RoundOptions {
  readonly reads: LbReads
  /** List the VMs afresh (after a membership failure). */
  readonly freshListing: boolean
  /** Delete everything: no ports, no nodes, the network only from what exists. */
  readonly teardown: boolean
  /** Plan only (a drift check): nothing is executed. */
  readonly dryRun: boolean
}

export interface RoundResult {
  readonly planned: Plan
  readonly executed: Option.Option<Executed>
  readonly warnings: ReadonlyArray<LbWarning>
  readonly network: NetworkProfile
  readonly base: ObservedBase
  readonly effective: LbSpec
}

export interface RoundDeps {
  readonly instances: Instances["Type"]
  readonly client: CloudStackClient["Type"]
  readonly facts: CloudFacts
  readonly reservations: Reservations
  readonly cluster: string
  /** Tag what is created (`--lb-ownership-tags`). */
  readonly tags: boolean
}

/** How old a VM listing may be for LB membership (the node controller refreshes it meanwhile). */
const LISTING_MAX_AGE = "10 minutes"

/** A stand-in profile when the network cannot be determined (teardown of an LB without rules). */
const unknownNetwork: NetworkProfile = {
  id: NetworkId.make(""),
  name: "(unknown)",
  zoneId: ZoneId.make(""),
  vpcId: Option.none(),
  aclId: Option.none(),
  hasLb: true,
  lbProvider: "",
  protocols: new Set(),
  access: { _tag: "None" },
  stickiness: new Map(),
  healthChecks: false
}

export const makeRound = (deps: RoundDeps) => {
  const withClient = Effect.provideService(CloudStackClient, deps.client)
  const membership = membershipMemo()

  /** The profile of `id`; a network the account cannot see is the user's to fix. */
  const profileOf = (id: NetworkId) =>
    Effect.flatMap(withClient(deps.facts.profile(id)), (profile) =>
      Option.match(profile, {
        onNone: () =>
          Effect.fail(
            new LbUserError({ reason: "NetworkNotFound", detail: `network ${id} is not visible to the CCM's account` })
          ),
        onSome: Effect.succeed
      }))

  const roundOnce = <E>(
    request: RoundRequest<E>,
    spec: LbSpec,
    ownership: Ownership.Ownership,
    options: RoundOptions,
    seen: { base: ObservedBase | undefined; network: NetworkProfile }
  ) =>
    Effect.gen(function*() {
      const { reads } = options
      const base = yield* observeBase(reads, {
        uid: request.uid,
        cluster: deps.cluster,
        spec,
        ownership,
        fresh: request.fresh,
        everywhere: options.teardown,
        claimedElsewhere: request.claimedElsewhere
      })
      seen.base = base
      // The lookups hold a whole VM listing: only the network and the members are kept from them, so
      // a round waiting on its cloud calls never keeps alive a listing the next one has replaced.
      const placed = options.teardown
        ? { networkId: chooseNetwork(base, new Map()), members: Option.none<Membership>() }
        : yield* Effect.map(
          deps.instances.resolve(request.nodes, { maxAge: options.freshListing ? 0 : LISTING_MAX_AGE }),
          (lookups) => {
            const networkId = chooseNetwork(base, lookups, spec.networkId)
            return { networkId, members: Option.map(networkId, (id) => membership(id, request.nodes, lookups)) }
          }
        )
      const networkId = placed.networkId
      let network: NetworkProfile
      if (options.teardown) {
        network = Option.isSome(networkId)
          ? Option.getOrElse(yield* withClient(deps.facts.profile(networkId.value)), () => unknownNetwork)
          : unknownNetwork
      } else {
        if (Option.isNone(networkId)) {
          return yield* new LbUserError({
            reason: "UnAvailableLoadBalancer",
            detail: request.nodes.length === 0
              ? "There are no available nodes for LoadBalancer"
              : "none of the nodes resolves to a CloudStack VM with a NIC"
          })
        }
        network = yield* profileOf(networkId.value)
        seen.network = network
        if (!network.hasLb) {
          return yield* new LbUserError({
            reason: "NoLoadBalancerService",
            detail:
              `network ${network.name} offers no Lb service (shared and L2 networks cannot have CloudStack load balancers)`
          })
        }
      }
      const refused = yield* deps.facts.refused(network.id)
      const refusedWarnings: Array<LbWarning> = []
      const usable = options.teardown ? [] : spec.ports.filter((p) => {
        if (!refused.has(p.protocol)) return true
        refusedWarnings.push({
          reason: "UnsupportedProtocol",
          message: `port ${p.ipProtocol.toUpperCase()}/${p.publicPort}: the ${
            network.lbProvider || "Lb"
          } provider of network ${network.name} refuses ${p.protocol} rules (CloudStack answered 431 "${LB_PROVIDER_REFUSAL}")`
        })
        return false
      })
      const effective: LbSpec = { ...spec, ports: usable }
      const members = Option.match(placed.members, {
        onNone: () => ({ vms: [], warnings: [] }),
        onSome: (m) => withWarnings(m, network.name)
      })
      // A VPC IP whose last rule went (deleted by hand, or by an attempt cut short after) has no tier
      // any more: the Service's ACL items may be on any tier of its VPC, found by their marker.
      const untiered = new Set(
        base.ips.flatMap((ip) => Option.isNone(ip.associatedNetworkId) ? Option.toArray(ip.vpcId) : [])
      )
      const tiers = yield* Effect.forEach(untiered, (vpc) => withClient(deps.facts.tiers(vpc)))
      const elsewhereIds = new Set([
        ...base.ips.flatMap((ip) => Option.toArray(ip.associatedNetworkId)),
        ...base.rules.flatMap((r) => Option.toArray(r.networkId)),
        ...tiers.flat()
      ])
      elsewhereIds.delete(network.id)
      const elsewhere = yield* Effect.forEach(elsewhereIds, (id) => withClient(deps.facts.profile(id)))
      const observed = yield* observeDetails(reads, {
        uid: request.uid,
        fresh: request.fresh,
        spec: effective,
        base,
        network,
        elsewhere: elsewhere.flatMap(Option.toArray),
        // Members matter for the rules that stay: those matching a wanted port, whatever their name.
        memberRules: base.rules.filter((r) =>
          usable.some((p) => p.protocol === r.protocol && p.publicPort === r.publicPort)
        ).map((r) => r.id),
        // A dry run (the drift pass) leaves policies alone: it would cost reads per rule.
        policies: {
          stickiness: !options.dryRun && (Option.isSome(spec.sticky) || ownership.stickyApplied),
          healthChecks: !options.dryRun && network.healthChecks
        },
        claimedElsewhere: request.claimedElsewhere,
        associatingElsewhere: request.associatingElsewhere
      })
      const desired: DesiredLb = {
        spec: effective,
        network,
        members: members.vms,
        aclReason: aclMarker(request.uid),
        recreateForCidrs: !(yield* deps.facts.cidrUpdateInPlace),
        ownership,
        owner: { cluster: deps.cluster, namespace: request.namespace, name: request.name, uid: request.uid },
        tags: deps.tags
      }
      const planned = yield* Either.match(plan(desired, observed), { onLeft: Effect.fail, onRight: Effect.succeed })
      const warnings = [
        ...(options.teardown ? [] : spec.warnings),
        ...refusedWarnings,
        ...members.warnings,
        ...planned.warnings
      ]
      const executed = options.dryRun ? Option.none<Executed>() : Option.some(
        yield* withClient(execute(planned.steps, {
          spec: effective,
          network,
          aclReason: desired.aclReason,
          ownership,
          persist: request.persist,
          avoid: (address) => request.claimedElsewhere(address) || request.requestedElsewhere(address),
          reservations: deps.reservations,
          adopted: Option.map(
            Option.flatMap(
              ownership.allocating,
              (address) =>
                Option.fromNullable(observed.ips.find((ip) => ip.address === address && ip.owned && !ip.recorded))
            ),
            (ip) => ip.id
          )
        }))
      )
      return { planned, executed, warnings, network, base, effective } satisfies RoundResult
    })

  /** After a user error: settles an association cut short and tags the IP kept (Settle). */
  const settle = <E>(
    request: RoundRequest<E>,
    spec: LbSpec,
    ownership: Ownership.Ownership,
    seen: { readonly base: ObservedBase; readonly network: NetworkProfile }
  ) => {
    const steps = settleSteps({
      ownership,
      observed: seen.base,
      requestedIp: spec.requestedIp,
      keepIp: spec.keepIp,
      owner: deps.tags
        ? Option.some({ cluster: deps.cluster, namespace: request.namespace, name: request.name, uid: request.uid })
        : Option.none()
    })
    return steps.length === 0 ? Effect.void : withClient(execute(steps, {
      spec,
      network: seen.network,
      aclReason: aclMarker(request.uid),
      ownership,
      persist: request.persist,
      avoid: () => true,
      reservations: deps.reservations,
      adopted: Option.none()
    })).pipe(
      Effect.asVoid,
      // The user's error is what the caller reports; the next attempt settles again.
      Effect.catchAll((e) =>
        Effect.logDebug("could not settle the record or tags after a user error").pipe(
          Effect.annotateLogs({ step: e.step._tag, error: String(e.cause) })
        )
      )
    )
  }

  return <E>(request: RoundRequest<E>, spec: LbSpec, ownership: Ownership.Ownership, options: RoundOptions) =>
    Effect.suspend(() => {
      const seen: { base: ObservedBase | undefined; network: NetworkProfile } = {
        base: undefined,
        network: unknownNetwork
      }
      const settleOnUserError = (error: LbUserError) =>
        seen.base === undefined || options.dryRun || options.teardown
          ? Effect.fail(error)
          : Effect.zipRight(
            settle(request, spec, ownership, { base: seen.base, network: seen.network }),
            Effect.fail(error)
          )
      return roundOnce(request, spec, ownership, options, seen).pipe(Effect.catchTag("LbUserError", settleOnUserError))
    })
}
