/**
 * The LoadBalancers provider: one Service's CloudStack load balancer ensured, its members updated
 * or everything it owns deleted, as Desired (pure) → Observed (batched reads) → Plan (pure) →
 * Execute (one call per step), re-observed and re-planned after a failed step (Round). Knows nothing
 * of Kubernetes I/O: plain Service data and node refs in, plain results out; the record on the
 * Service is written through the `persist` function the caller passes.
 */
import { Context, Data, Effect, Either, Layer, Option, Ref } from "effect"
import { CloudStackClient, PAGE_SIZE } from "../../cloudstack/CloudStackClient.js"
import { type CloudStackError, isLbProviderRefusal } from "../../cloudstack/CloudStackError.js"
import { assignToLoadBalancerRule, removeFromLoadBalancerRule } from "../../cloudstack/commands/LoadBalancers.js"
import type { NetworkAclItem } from "../../cloudstack/commands/NetworkAcls.js"
import type { AclListId, LbRuleId, NetworkId, VmId } from "../../cloudstack/Ids.js"
import * as JobLanes from "../../cloudstack/JobLanes.js"
import type { NodeRef } from "../InstanceLookup.js"
import { Instances } from "../Instances.js"
import { KEEP_IP } from "./Annotations.js"
import * as CloudFacts from "./CloudFacts.js"
import { type DriftKind, driftKindOf } from "./DriftKind.js"
import type { Executed, Reservations } from "./Execute.js"
import * as IpLocks from "./IpLocks.js"
import { lbName } from "./LbName.js"
import { fromService, type LbService, type LbSpec, type LbWarning } from "./LbSpec.js"
import { membersIn } from "./Members.js"
import * as Ownership from "./Ownership.js"
import { LbUserError, type Target } from "./Plan.js"
import { wantedHealthCheck } from "./Policies.js"
import * as Reads from "./Reads.js"
import { type Claims, type LbCaller, makeRound, type RoundRequest } from "./Round.js"

export { type DriftKind, LbUserError }

export interface LbRequest<E> extends LbCaller<E> {
  readonly service: LbService
}

/** Enough of an ensured LB to update its members without re-reading rules. */
export interface LbSnapshot {
  readonly networkId: NetworkId
  readonly networkName: string
  readonly rules: ReadonlyArray<{ readonly id: LbRuleId; readonly name: string }>
  /**
   * Whether the rules carry policies (stickiness, health checks). A member update does not see
   * them: a policy whose create job failed after it was listed, or one deleted by hand, is found
   * only by a full ensure.
   */
  readonly policies: boolean
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
  /** Reads for a drift pass: the account's rules, firewall rules and IPs listed once (a few paged calls). */
  readonly fleet: Effect.Effect<Reads.LbReads, CloudStackError>
  /**
   * What would have to change for the Service's LB to be as wanted (a dry run on `reads`), by kind;
   * members are not compared (CloudStack lists them only rule by rule: `updateMembers` audits them).
   */
  readonly drift: <E>(request: LbRequest<E>, reads: Reads.LbReads) => Effect.Effect<ReadonlyArray<DriftKind>, LbError>
}>() {}

export interface LoadBalancersOptions {
  /** `--cluster-name`: in the ownership tags and the fork's rule names. */
  readonly clusterName?: string | undefined
  /** `--lb-ownership-tags` (default true): tag what is created with the cluster and Service. */
  readonly tags?: boolean | undefined
}

/** Observe/plan/execute rounds per ensure before the last failure is returned. */
const ATTEMPTS = 3

const isApiCode = (cause: CloudStackError, code: number): boolean =>
  (cause._tag === "CloudStackApiError" || cause._tag === "AsyncJobFailedError") && cause.errorCode === code

/** A Service's rules whose members are updated at once (their jobs share the network's queue anyway). */
const MEMBER_RULES_AT_ONCE = 4

const addressOf = (target: Option.Option<Target>, executed: Option.Option<Executed>): Option.Option<string> =>
  Option.flatMap(
    target,
    (t) =>
      t._tag === "Existing"
        ? Option.some(t.ip.address)
        : Option.map(Option.flatMap(executed, (e) => e.acquired), (ip) => ip.ipAddress)
  )

const sameCidrs = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  [...a].sort().join(",") === [...b].sort().join(",")

const roundRequest = <E>(request: LbRequest<E>, claims: Claims = request): RoundRequest<E> => ({
  uid: request.service.uid,
  namespace: request.service.namespace,
  name: request.service.name,
  nodes: request.nodes,
  fresh: request.fresh,
  claimedElsewhere: claims.claimedElsewhere,
  requestedElsewhere: claims.requestedElsewhere,
  associatingElsewhere: claims.associatingElsewhere,
  persist: request.persist
})

/** The request's claims as they are now (called with the Service's IP locks held). */
const claimsNow = <E>(request: LbRequest<E>): Effect.Effect<Claims> => request.claimsNow ?? Effect.succeed(request)

export const make = (options: LoadBalancersOptions = {}) =>
  Effect.gen(function*() {
    const instances = yield* Instances
    const client = yield* CloudStackClient
    const facts = yield* CloudFacts.make
    const locks = yield* IpLocks.make
    const reservations: Reservations = yield* Ref.make<ReadonlySet<string>>(new Set())
    const cluster = options.clusterName ?? "kubernetes"
    const round = makeRound({ instances, client, facts, reservations, cluster, tags: options.tags ?? true })
    const ungated = Reads.live(client)
    // One page of member VMs in flight, whoever reads (Reads.memberGate).
    const gated = Reads.memberGate(yield* Effect.makeSemaphore(PAGE_SIZE), PAGE_SIZE)
    const live = (nodes: number) => gated(ungated, nodes)

    /** The Service's LB as asked, or the user's error naming every bad annotation. */
    const specOf = <E>(request: LbRequest<E>) =>
      Either.match(fromService(request.service, cluster), {
        onLeft: (errors) =>
          Effect.fail(
            new LbUserError({ reason: "InvalidAnnotation", detail: errors.map((e) => e.message).join("; ") })
          ),
        onRight: Effect.succeed
      })

    const ensure = <E>(request: LbRequest<E>): Effect.Effect<EnsureResult, LbError | E> =>
      Effect.gen(function*() {
        const spec = yield* specOf(request)
        let ownership = Ownership.fromAnnotations(request.service.annotations)
        const claims = yield* claimsNow(request)
        let mutations = 0
        let refusals = 0
        // A membership failure may come from a stale VM listing: the next round lists afresh.
        const listing = { fresh: false }
        // The IPs (ids and addresses) this ensure's own jobs associated: ours, whatever the caller's
        // view of other Services' records says (that view is as old as the ensure; seed 85).
        const associatedHere = new Set<string>()
        const notOurs = (elsewhere: (v: string) => boolean) => (v: string) => !associatedHere.has(v) && elsewhere(v)
        const learn = ({ acquired }: Executed) => {
          if (Option.isSome(acquired)) associatedHere.add(acquired.value.id).add(acquired.value.ipAddress)
        }
        for (let attempt = 1;; attempt++) {
          // After a round ran steps the Service is fresh no more: the next one must read all it may have made.
          const fresh = request.fresh && attempt === 1
          const caller = {
            ...roundRequest(request, claims),
            fresh,
            claimedElsewhere: notOurs(claims.claimedElsewhere),
            associatingElsewhere: notOurs(claims.associatingElsewhere)
          }
          const result = yield* Effect.either(
            round(caller, spec, ownership, {
              reads: live(request.nodes.length),
              freshListing: listing.fresh,
              teardown: false,
              dryRun: false
            })
          )
          if (Either.isRight(result)) {
            const { base, effective, executed, network, planned, warnings } = result.right
            const done = Option.getOrUndefined(executed)
            mutations += done?.mutations ?? 0
            // A server before 4.22 ignores cidrlist on update: learn it and recreate the rule instead.
            const ignored = done !== undefined && Option.isSome(spec.ruleCidrs) &&
              [...done.updated.values()].some((rule) =>
                !sameCidrs(rule.cidrList ?? [], Option.getOrElse(spec.ruleCidrs, () => []))
              )
            if (ignored && attempt < ATTEMPTS) {
              yield* facts.noCidrUpdateInPlace
              learn(done)
              ownership = done.ownership
              continue
            }
            const onTarget = (ipId: string) =>
              Option.exists(planned.target, (t) => t._tag === "Existing" && t.ip.id === ipId)
            const rules = effective.ports.flatMap((p) => {
              const id = done?.created.get(p.name)?.id ??
                base.rules.find((r) => r.protocol === p.protocol && r.publicPort === p.publicPort && onTarget(r.ipId))
                  ?.id
              return id === undefined ? [] : [{ id, name: p.name }]
            })
            return {
              address: addressOf(planned.target, executed),
              spec,
              warnings,
              snapshot: Option.isSome(planned.target)
                ? Option.some({
                  networkId: network.id,
                  networkName: network.name,
                  rules,
                  policies: Option.isSome(effective.sticky) ||
                    Option.isSome(wantedHealthCheck(effective, network).check)
                })
                : Option.none(),
              mutations
            }
          }
          const error = result.left
          if (error._tag !== "StepFailedError") return yield* Effect.fail(error)
          mutations += error.executed.mutations
          learn(error.executed)
          ownership = error.executed.ownership
          const { cause, step } = error
          listing.fresh = step._tag === "AssignMembers"
          switch (cause._tag) {
            case "PersistFailedError":
              return yield* Effect.fail(cause.cause)
            case "NoFreeAddressError":
              return yield* new LbUserError({ reason: "LoadBalancerIPNotAvailable", detail: cause.message })
          }
          if (step._tag === "CreateRule" && isLbProviderRefusal(cause) && refusals < 2) {
            // The provider refuses this protocol (the virtual router and UDP): remember, drop the port.
            refusals++
            yield* facts.refuse(error.networkId, step.port.protocol)
            continue
          }
          if (step._tag === "CreateRule" && isApiCode(cause, 537)) {
            return yield* new LbUserError({
              reason: "PortConflict",
              detail:
                `public port ${step.port.publicPort} is already used by another rule on the IP (CloudStack: ${cause.message})`
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
      }).pipe(
        locks.withIps(request.service),
        Effect.withSpan("LoadBalancers.ensure", {
          attributes: { service: `${request.service.namespace}/${request.service.name}` }
        })
      )

    const updateMembers = (snapshot: LbSnapshot, nodes: ReadonlyArray<NodeRef>) =>
      Effect.gen(function*() {
        // Only the members are kept of the lookups (a whole VM listing) while the rules are updated.
        const wanted = yield* Effect.map(
          instances.resolve(nodes, { maxAge: "10 minutes" }),
          (lookups) => membersIn(snapshot.networkId, snapshot.networkName, nodes.map((n) => n.name), lookups)
        )
        const lane = { lane: JobLanes.networkLane(snapshot.networkId) }
        const wantIds = new Set(wanted.vms)
        // Rules side by side (their jobs queue on the network together); per rule new members first.
        const changes = yield* Effect.forEach(snapshot.rules, (rule) =>
          Effect.gen(function*() {
            const have = yield* live(nodes.length).members(rule.id).pipe(
              Effect.catchIf((e) => isApiCode(e, 431), () => Effect.fail(new LbSnapshotStaleError({ rule: rule.id })))
            )
            const haveIds = new Set<VmId>(have)
            const add = wanted.vms.filter((id) => !haveIds.has(id))
            const remove = [...haveIds].filter((id) => !wantIds.has(id)).sort()
            if (add.length > 0) {
              yield* client.run(assignToLoadBalancerRule, { id: rule.id, virtualMachineIds: add }, lane)
            }
            if (remove.length > 0) {
              yield* client.run(removeFromLoadBalancerRule, { id: rule.id, virtualMachineIds: remove }, lane)
            }
            return { added: add.length, removed: remove.length }
          }), { concurrency: MEMBER_RULES_AT_ONCE })
        const added = changes.reduce((n, c) => n + c.added, 0)
        const removed = changes.reduce((n, c) => n + c.removed, 0)
        return { added, removed, warnings: wanted.warnings }
      }).pipe(Effect.withSpan("LoadBalancers.updateMembers"))

    const remove = <E>(request: LbRequest<E>) =>
      Effect.gen(function*() {
        // Deletion never depends on annotations being valid: the names come from the UID and Service.
        const spec: LbSpec = Either.match(fromService(request.service, cluster), {
          onRight: (s) => ({ ...s, ports: [] }),
          onLeft: () => ({
            ...Either.getOrThrow(fromService({ ...request.service, annotations: {} }, cluster)),
            lbName: lbName(request.service.uid),
            ports: [],
            keepIp: request.service.annotations[KEEP_IP] === "true"
          })
        })
        let ownership = Ownership.fromAnnotations(request.service.annotations)
        const claims = yield* claimsNow(request)
        let mutations = 0
        for (let attempt = 1;; attempt++) {
          const outcome = yield* Effect.either(
            round(roundRequest({ ...request, fresh: false }, claims), spec, ownership, {
              reads: live(request.nodes.length),
              freshListing: false,
              teardown: true,
              dryRun: false
            })
          )
          if (Either.isRight(outcome)) {
            return {
              mutations: mutations + Option.match(outcome.right.executed, {
                onNone: () => 0,
                onSome: (e) => e.mutations
              })
            }
          }
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
      }).pipe(
        locks.withIps(request.service),
        Effect.withSpan("LoadBalancers.delete", {
          attributes: { service: `${request.service.namespace}/${request.service.name}` }
        })
      )

    const fleet = Effect.gen(function*() {
      const snapshot = yield* Reads.fetchFleet(client)
      const aclCache = yield* Ref.make<ReadonlyMap<AclListId, ReadonlyArray<NetworkAclItem>>>(new Map())
      return Reads.fleet(snapshot, live(PAGE_SIZE), aclCache)
    }).pipe(Effect.withSpan("LoadBalancers.fleet"))

    const drift = <E>(request: LbRequest<E>, reads: Reads.LbReads) =>
      Effect.gen(function*() {
        const spec = yield* specOf(request)
        const noMembers: Reads.LbReads = { ...reads, members: () => Effect.succeed([]) }
        const result = yield* round(
          roundRequest(request),
          spec,
          Ownership.fromAnnotations(request.service.annotations),
          { reads: noMembers, freshListing: false, teardown: false, dryRun: true }
        ).pipe(Effect.catchTag("StepFailedError", () => Effect.dieMessage("a dry run executes nothing")))
        const kinds = new Set<DriftKind>()
        for (const step of result.planned.steps) {
          const kind = driftKindOf(step)
          if (kind !== undefined) kinds.add(kind)
        }
        return [...kinds].sort()
      }).pipe(Effect.withSpan("LoadBalancers.drift"))

    return LoadBalancers.of({ ensure, updateMembers, delete: remove, fleet, drift })
  })

export const layer = (
  options: LoadBalancersOptions = {}
): Layer.Layer<LoadBalancers, never, Instances | CloudStackClient> => Layer.effect(LoadBalancers, make(options))
