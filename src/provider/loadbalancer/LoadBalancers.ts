/**
 * The LoadBalancers provider: one Service's CloudStack load balancer ensured, its members updated
 * or everything it owns deleted, as Desired (pure) → Observed (batched reads) → Plan (pure) →
 * Execute (one call per step), re-observed and re-planned after a failed step. Knows nothing of
 * Kubernetes I/O: plain Service data and node refs in, plain results out; the record on the Service
 * is written through the `persist` function the caller passes.
 */
import { Context, Data, Effect, Either, Layer, Option, Ref } from "effect"
import { CloudStackClient } from "../../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../../cloudstack/CloudStackError.js"
import { assignToLoadBalancerRule, listLoadBalancerRuleInstances, removeFromLoadBalancerRule } from "../../cloudstack/commands/LoadBalancers.js"
import { type LbRuleId, NetworkId, type VmId, ZoneId } from "../../cloudstack/Ids.js"
import type { NodeRef } from "../InstanceLookup.js"
import { Instances } from "../Instances.js"
import * as CloudFacts from "./CloudFacts.js"
import { execute, type Executed, type Reservations } from "./Execute.js"
import { fromService, type LbService, type LbSpec, type LbWarning } from "./LbSpec.js"
import { lbName } from "./LbName.js"
import { chooseNetwork, membersIn } from "./Members.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import { observeBase, observeDetails } from "./Observe.js"
import { aclMarker } from "./ObservedLb.js"
import * as Ownership from "./Ownership.js"
import { type DesiredLb, LbUserError, plan, type Target } from "./Plan.js"

export { LbUserError }

export interface LbRequest<E> {
  readonly service: LbService
  /** The eligible nodes (the controller applied Kubernetes' predicates and externalTrafficPolicy). */
  readonly nodes: ReadonlyArray<NodeRef>
  /** No controller has acted on the Service yet: no discovery reads are needed. */
  readonly fresh: boolean
  /** Whether another Service records this IP id or address (never adopted or released as ours). */
  readonly claimedElsewhere: (idOrAddress: string) => boolean
  /** Whether another Service asks for this address (never picked as a free one). */
  readonly requestedElsewhere: (address: string) => boolean
  /** Writes the ownership record on the Service (annotations). */
  readonly persist: (ownership: Ownership.Ownership) => Effect.Effect<void, E>
}

/** Enough of an ensured LB to update its members without re-reading rules. */
export interface LbSnapshot {
  readonly networkId: NetworkId
  readonly networkName: string
  readonly rules: ReadonlyArray<{ readonly id: LbRuleId; readonly name: string }>
}

export interface EnsureResult {
  /** The public address (None when no port can have a rule). */
  readonly address: Option.Option<string>
  readonly spec: LbSpec
  readonly warnings: ReadonlyArray<LbWarning>
  readonly snapshot: Option.Option<LbSnapshot>
  /** Mutating CloudStack commands this ensure sent. */
  readonly mutations: number
}

export interface MembersResult {
  readonly added: number
  readonly removed: number
  readonly warnings: ReadonlyArray<LbWarning>
}

/** The snapshot no longer matches CloudStack (a rule is gone): ensure the whole LB instead. */
export class LbSnapshotStaleError extends Data.TaggedError("LbSnapshotStaleError")<{ readonly rule: LbRuleId }> {}

export type LbError = LbUserError | CloudStackError

export class LoadBalancers extends Context.Tag("cloudstack-ccm/provider/LoadBalancers")<LoadBalancers, {
  /** Converges the Service's LB; idempotent. Fails with LbUserError when it cannot be built as asked. */
  readonly ensure: <E>(request: LbRequest<E>) => Effect.Effect<EnsureResult, LbError | E>
  /** Adds and removes members of the snapshot's rules (one listing per rule). */
  readonly updateMembers: (
    snapshot: LbSnapshot,
    nodes: ReadonlyArray<NodeRef>
  ) => Effect.Effect<MembersResult, CloudStackError | LbSnapshotStaleError>
  /** Deletes everything the Service owns (its rules, firewall rules, ACL items, an IP it associated). */
  readonly delete: <E>(request: LbRequest<E>) => Effect.Effect<{ readonly mutations: number }, CloudStackError | E>
}>() {}

/** How old a VM listing may be for LB membership (the node controller refreshes it meanwhile). */
const LISTING_MAX_AGE = "10 minutes"
/** Observe/plan/execute rounds per ensure before the last failure is returned. */
const ATTEMPTS = 3

const isApiCode = (cause: CloudStackError, code: number): boolean =>
  (cause._tag === "CloudStackApiError" || cause._tag === "AsyncJobFailedError") && cause.errorCode === code

/** A stand-in profile when the network cannot be determined (delete of an LB without rules). */
const unknownNetwork: NetworkProfile = {
  id: NetworkId.make(""),
  name: "(unknown)",
  zoneId: ZoneId.make(""),
  vpcId: Option.none(),
  aclId: Option.none(),
  hasLb: true,
  lbProvider: "",
  protocols: new Set(),
  access: { _tag: "None" }
}

const addressOf = (target: Option.Option<Target>, executed: Executed | undefined): Option.Option<string> =>
  Option.flatMap(target, (t) =>
    t._tag === "Existing" ? Option.some(t.ip.address) : Option.map(Option.flatMap(Option.fromNullable(executed), (e) => e.acquired), (ip) => ip.ipAddress))

export const make = Effect.gen(function*() {
  const instances = yield* Instances
  const client = yield* CloudStackClient
  const facts = yield* CloudFacts.make
  const reservations: Reservations = yield* Ref.make<ReadonlySet<string>>(new Set())
  const withClient = Effect.provideService(CloudStackClient, client)

  const resolve = (nodes: ReadonlyArray<NodeRef>, fresh: boolean) =>
    instances.resolve(nodes, { maxAge: fresh ? 0 : LISTING_MAX_AGE })

  /** The profile of `id`; a network the account cannot see is the user's to fix. */
  const profileOf = (id: NetworkId) =>
    Effect.flatMap(withClient(facts.profile(id)), (profile) =>
      Option.match(profile, {
        onNone: () => Effect.fail(new LbUserError({ reason: "NetworkNotFound", detail: `network ${id} is not visible to the CCM's account` })),
        onSome: Effect.succeed
      }))

  /** One observe → plan → execute round. */
  const round = <E>(request: LbRequest<E>, spec: LbSpec, ownership: Ownership.Ownership, freshListing: boolean) =>
    Effect.gen(function*() {
      const uid = request.service.uid
      const base = yield* withClient(observeBase({
        uid,
        spec,
        ownership,
        fresh: request.fresh,
        claimedElsewhere: request.claimedElsewhere
      }))
      const lookups = yield* resolve(request.nodes, freshListing)
      const networkId = chooseNetwork(base, lookups, spec.networkId)
      if (Option.isNone(networkId)) {
        return yield* new LbUserError({
          reason: "UnAvailableLoadBalancer",
          detail: request.nodes.length === 0
            ? "There are no available nodes for LoadBalancer"
            : "none of the nodes resolves to a CloudStack VM with a NIC"
        })
      }
      const network = yield* profileOf(networkId.value)
      if (!network.hasLb) {
        return yield* new LbUserError({
          reason: "NoLoadBalancerService",
          detail: `network ${network.name} offers no Lb service (shared and L2 networks cannot have CloudStack load balancers)`
        })
      }
      const refused = yield* facts.refused(network.id)
      const refusedWarnings: Array<LbWarning> = []
      const usable = spec.ports.filter((p) => {
        if (!refused.has(p.protocol)) return true
        refusedWarnings.push({
          reason: "UnsupportedProtocol",
          message: `port ${p.ipProtocol.toUpperCase()}/${p.publicPort}: the ${network.lbProvider || "Lb"} provider of network ${network.name} refuses ${p.protocol} rules (CloudStack answered 431 "LB service provider cannot support this rule")`
        })
        return false
      })
      const effective: LbSpec = { ...spec, ports: usable }
      const members = membersIn(network.id, network.name, request.nodes.map((n) => n.name), lookups)
      const names = new Set(usable.map((p) => p.name))
      const observed = yield* withClient(observeDetails({
        uid,
        fresh: request.fresh,
        spec: effective,
        base,
        network,
        memberRules: base.rules.filter((r) => names.has(r.name)).map((r) => r.id),
        claimedElsewhere: request.claimedElsewhere
      }))
      const desired: DesiredLb = {
        spec: effective,
        network,
        members: members.vms,
        aclReason: aclMarker(uid),
        recreateForCidrs: !(yield* facts.cidrUpdateInPlace),
        ownership
      }
      const planned = yield* Either.match(plan(desired, observed), { onLeft: Effect.fail, onRight: Effect.succeed })
      const warnings = [...spec.warnings, ...refusedWarnings, ...members.warnings, ...planned.warnings]
      const executed = yield* withClient(execute(planned.steps, {
        spec: effective,
        network,
        aclReason: desired.aclReason,
        ownership,
        persist: request.persist,
        avoid: (address) => request.claimedElsewhere(address) || request.requestedElsewhere(address),
        reservations
      }))
      return { planned, executed, warnings, network, base, effective }
    })

  const ensure = <E>(request: LbRequest<E>): Effect.Effect<EnsureResult, LbError | E> =>
    Effect.gen(function*() {
      const spec = yield* Either.match(fromService(request.service), {
        onLeft: (errors) =>
          Effect.fail(new LbUserError({ reason: "InvalidAnnotation", detail: errors.map((e) => e.message).join("; ") })),
        onRight: Effect.succeed
      })
      let ownership = Ownership.fromAnnotations(request.service.annotations)
      let mutations = 0
      let refusals = 0
      // A membership failure may come from a stale VM listing: the next round lists afresh.
      const listing = { fresh: false }
      for (let attempt = 1;; attempt++) {
        const result = yield* Effect.either(round(request, spec, ownership, listing.fresh))
        if (Either.isRight(result)) {
          const { executed, network, planned, warnings } = result.right
          mutations += executed.mutations
          // A server before 4.22 ignores cidrlist on update: learn it and recreate the rule instead.
          const ignored = Option.isSome(spec.ruleCidrs) &&
            [...executed.updated.values()].some((rule) => !sameCidrs(rule.cidrList ?? [], Option.getOrElse(spec.ruleCidrs, () => [])))
          if (ignored && attempt < ATTEMPTS) {
            yield* facts.noCidrUpdateInPlace
            ownership = executed.ownership
            continue
          }
          const rules = result.right.effective.ports.flatMap((p) => {
            const id = executed.created.get(p.name)?.id ??
              result.right.base.rules.find((r) => r.name === p.name && Option.exists(planned.target, (t) => t._tag === "Existing" && t.ip.id === r.ipId))?.id
            return id === undefined ? [] : [{ id, name: p.name }]
          })
          return {
            address: addressOf(planned.target, executed),
            spec,
            warnings,
            snapshot: Option.isSome(planned.target)
              ? Option.some({ networkId: network.id, networkName: network.name, rules })
              : Option.none(),
            mutations
          }
        }
        const error = result.left
        if (error._tag !== "StepFailedError") return yield* Effect.fail(error)
        mutations += error.executed.mutations
        ownership = error.executed.ownership
        const { cause, step } = error
        listing.fresh = step._tag === "AssignMembers"
        switch (cause._tag) {
          case "PersistFailedError":
            return yield* Effect.fail(cause.cause)
          case "NoFreeAddressError":
            return yield* new LbUserError({ reason: "LoadBalancerIPNotAvailable", detail: cause.message })
        }
        if (step._tag === "CreateRule" && isApiCode(cause, 431) && refusals < 2) {
          // The provider refuses this protocol (the virtual router and UDP): remember, drop the port.
          refusals++
          yield* facts.refuse(error.networkId, step.port.protocol)
          continue
        }
        if (step._tag === "CreateRule" && isApiCode(cause, 537)) {
          return yield* new LbUserError({
            reason: "PortConflict",
            detail: `public port ${step.port.publicPort} is already used by another rule on the IP (CloudStack: ${cause.message})`
          })
        }
        if (step._tag === "AcquireIp" && isApiCode(cause, 533) && Option.isSome(step.address)) {
          return yield* new LbUserError({
            reason: "LoadBalancerIPNotAvailable",
            detail: `IP ${step.address.value} could not be associated: ${cause.message}`
          })
        }
        if (attempt >= ATTEMPTS) return yield* Effect.fail(cause)
        yield* Effect.logDebug("load balancer step failed, re-planning").pipe(
          Effect.annotateLogs({ step: step._tag, attempt, error: cause.message })
        )
      }
    }).pipe(Effect.withSpan("LoadBalancers.ensure", { attributes: { service: `${request.service.namespace}/${request.service.name}` } }))

  const updateMembers = (snapshot: LbSnapshot, nodes: ReadonlyArray<NodeRef>) =>
    Effect.gen(function*() {
      const lookups = yield* resolve(nodes, false)
      const wanted = membersIn(snapshot.networkId, snapshot.networkName, nodes.map((n) => n.name), lookups)
      let added = 0
      let removed = 0
      for (const rule of snapshot.rules) {
        const have = yield* client.list(listLoadBalancerRuleInstances, { id: rule.id }).pipe(
          Effect.catchIf((e) => isApiCode(e, 431), () => Effect.fail(new LbSnapshotStaleError({ rule: rule.id })))
        )
        const haveIds = new Set<VmId>(have.map((vm) => vm.id))
        const wantIds = new Set(wanted.vms)
        const add = wanted.vms.filter((id) => !haveIds.has(id))
        const remove = [...haveIds].filter((id) => !wantIds.has(id)).sort()
        if (add.length > 0) yield* client.run(assignToLoadBalancerRule, { id: rule.id, virtualMachineIds: add })
        if (remove.length > 0) yield* client.run(removeFromLoadBalancerRule, { id: rule.id, virtualMachineIds: remove })
        added += add.length
        removed += remove.length
      }
      return { added, removed, warnings: wanted.warnings }
    }).pipe(Effect.withSpan("LoadBalancers.updateMembers"))

  const remove = <E>(request: LbRequest<E>) =>
    Effect.gen(function*() {
      // Deletion never depends on annotations being valid: the name comes from the UID.
      const parsed = fromService(request.service)
      const spec: LbSpec = Either.match(parsed, {
        onRight: (s) => ({ ...s, ports: [] }),
        onLeft: () => ({
          lbName: lbName(request.service.uid),
          ports: [],
          requestedIp: Option.none(),
          algorithm: "roundrobin",
          sourceRanges: [],
          ruleCidrs: Option.none(),
          keepIp: request.service.annotations["service.beta.kubernetes.io/cloudstack-load-balancer-keep-ip"] === "true",
          proxyProtocol: false,
          hostname: Option.none(),
          networkId: Option.none(),
          warnings: []
        })
      })
      let ownership = Ownership.fromAnnotations(request.service.annotations)
      let mutations = 0
      for (let attempt = 1;; attempt++) {
        const outcome = yield* Effect.either(Effect.gen(function*() {
          const base = yield* withClient(observeBase({ uid: request.service.uid, spec, ownership, fresh: false, claimedElsewhere: request.claimedElsewhere }))
          const networkId = chooseNetwork(base, new Map())
          const network = Option.isSome(networkId)
            ? Option.getOrElse(yield* withClient(facts.profile(networkId.value)), () => unknownNetwork)
            : unknownNetwork
          const observed = yield* withClient(observeDetails({ uid: request.service.uid, fresh: false, spec, base, network, memberRules: [], claimedElsewhere: request.claimedElsewhere }))
          const planned = yield* Either.match(
            plan({ spec, network, members: [], aclReason: aclMarker(request.service.uid), recreateForCidrs: false, ownership }, observed),
            { onLeft: Effect.fail, onRight: Effect.succeed }
          )
          return yield* withClient(execute(planned.steps, {
            spec,
            network,
            aclReason: aclMarker(request.service.uid),
            ownership,
            persist: request.persist,
            avoid: (address) => request.claimedElsewhere(address) || request.requestedElsewhere(address),
            reservations
          }))
        }))
        if (Either.isRight(outcome)) return { mutations: mutations + outcome.right.mutations }
        const error = outcome.left
        // A plan without ports never asks for an IP, so it cannot fail as the user's error.
        if (error._tag === "LbUserError") return { mutations }
        if (error._tag !== "StepFailedError") return yield* Effect.fail(error)
        mutations += error.executed.mutations
        ownership = error.executed.ownership
        const cause = error.cause
        if (cause._tag === "PersistFailedError") return yield* Effect.fail(cause.cause)
        if (cause._tag === "NoFreeAddressError") return { mutations }
        if (attempt >= ATTEMPTS) return yield* Effect.fail(cause)
      }
    }).pipe(Effect.withSpan("LoadBalancers.delete", { attributes: { service: `${request.service.namespace}/${request.service.name}` } }))

  return LoadBalancers.of({ ensure, updateMembers, delete: remove })
})

const sameCidrs = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => [...a].sort().join(",") === [...b].sort().join(",")

export const layer: Layer.Layer<LoadBalancers, never, Instances | CloudStackClient> = Layer.effect(LoadBalancers, make)
