/**
 * Runs a plan's steps in order, one idempotent CloudStack call (plus its job) each. Knows only the
 * mechanics: the IP acquired and rules created earlier in the same plan are resolved from its own
 * state, an address is recorded on the Service before it is associated, and a failed step stops
 * the run with the step attached, so the caller can re-observe and re-plan.
 */
import { Data, Effect, Option, Random, Ref, Stream } from "effect"
import { CloudStackClient } from "../../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../../cloudstack/CloudStackError.js"
import {
  associateIpAddress,
  disassociateIpAddress,
  listPublicIpAddresses,
  type PublicIpAddress
} from "../../cloudstack/commands/Addresses.js"
import { createFirewallRule, deleteFirewallRule } from "../../cloudstack/commands/Firewall.js"
import {
  assignToLoadBalancerRule,
  createLBHealthCheckPolicy,
  createLBStickinessPolicy,
  createLoadBalancerRule,
  deleteLBHealthCheckPolicy,
  deleteLBStickinessPolicy,
  deleteLoadBalancerRule,
  type LoadBalancerRule,
  removeFromLoadBalancerRule,
  updateLoadBalancerRule
} from "../../cloudstack/commands/LoadBalancers.js"
import { createNetworkACL, deleteNetworkACL } from "../../cloudstack/commands/NetworkAcls.js"
import { createTags } from "../../cloudstack/commands/Tags.js"
import { AclItemId, type IpAddressId, type LbRuleId, type NetworkId } from "../../cloudstack/Ids.js"
import * as JobLanes from "../../cloudstack/JobLanes.js"
import type { LbSpec } from "./LbSpec.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import { equals, type Ownership } from "./Ownership.js"
import { type IpRef, type RuleRef, Step, TagTarget } from "./Plan.js"
import { PolicyStep } from "./Policies.js"

/** Addresses being associated by this process right now: two Services never pick the same free one. */
export type Reservations = Ref.Ref<ReadonlySet<string>>

export interface ExecuteInput<E> {
  readonly spec: LbSpec
  readonly network: NetworkProfile
  readonly aclReason: string
  readonly ownership: Ownership
  readonly persist: (ownership: Ownership) => Effect.Effect<void, E>
  /** Addresses never to pick as a free one (recorded or requested by another Service). */
  readonly avoid: (address: string) => boolean
  readonly reservations: Reservations
  /**
   * The IP adopted through the record's `allocating` address (an association cut short) that no id
   * records yet: recording another address in its place must not be its only trace lost.
   */
  readonly adopted: Option.Option<IpAddressId>
}

export interface Executed {
  readonly acquired: Option.Option<PublicIpAddress>
  readonly created: ReadonlyMap<string, LoadBalancerRule>
  /** Firewall rules and ACL items created, by `<protocol>/<port>`. */
  readonly createdFirewall: ReadonlyMap<string, string>
  readonly createdAcl: ReadonlyMap<string, string>
  readonly updated: ReadonlyMap<LbRuleId, LoadBalancerRule>
  /** The ownership now recorded on the Service. */
  readonly ownership: Ownership
  /** Mutating CloudStack commands sent. */
  readonly mutations: number
}

/** Writing the record on the Service failed (the caller's error inside). */
export class PersistFailedError<E> extends Data.TaggedError("PersistFailedError")<{ readonly cause: E }> {}

/** A step failed; the steps before it took effect. */
export class StepFailedError<E> extends Data.TaggedError("StepFailedError")<{
  readonly step: Step
  readonly cause: CloudStackError | PersistFailedError<E> | NoFreeAddressError
  readonly executed: Executed
  /** The network the plan ran on. */
  readonly networkId: NetworkId
}> {}

/** The zone has no free public address left. */
export class NoFreeAddressError extends Data.TaggedError("NoFreeAddressError")<{ readonly zone: string }> {
  override get message(): string {
    return `no free public IP address left in zone ${this.zone}`
  }
}

/** Picks a free address of the network's zone, not reserved by another reconcile of this process. */
const pickFree = (network: NetworkProfile, input: ExecuteInput<unknown>) =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    // The first page is plenty: any free address will do, and one page is one call.
    const page = yield* cs.stream(listPublicIpAddresses, {
      zoneId: network.zoneId,
      allocatedOnly: false,
      state: "Free"
    }).pipe(
      Stream.take(500),
      Stream.runCollect
    )
    const reserved = yield* Ref.get(input.reservations)
    const free = [...page].filter((ip) =>
      ip.state === "Free" && !reserved.has(ip.ipAddress) && !input.avoid(ip.ipAddress)
    )
    if (free.length === 0) return yield* new NoFreeAddressError({ zone: network.zoneId })
    // Random among the page, so concurrent CCMs (or a human) rarely race for the same one.
    const index = yield* Random.nextIntBetween(0, free.length)
    return free[index]?.ipAddress ?? ""
  })

export const execute = <E>(
  steps: ReadonlyArray<Step>,
  input: ExecuteInput<E>
): Effect.Effect<Executed, StepFailedError<E>, CloudStackClient> =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const state = {
      acquired: Option.none<PublicIpAddress>(),
      created: new Map<string, LoadBalancerRule>(),
      createdFirewall: new Map<string, string>(),
      createdAcl: new Map<string, string>(),
      updated: new Map<LbRuleId, LoadBalancerRule>(),
      ownership: input.ownership,
      mutations: 0
    }
    const snapshot = (): Executed => ({
      ...state,
      created: new Map(state.created),
      createdFirewall: new Map(state.createdFirewall),
      createdAcl: new Map(state.createdAcl),
      updated: new Map(state.updated)
    })
    const { network, spec } = input
    // CloudStack runs a network's jobs one at a time: waits in its lane cost one poll per job.
    const onNetwork = { lane: JobLanes.networkLane(network.id) }
    const onAddresses = {
      lane: Option.match(network.vpcId, { onNone: () => JobLanes.networkLane(network.id), onSome: JobLanes.vpcLane })
    }
    const onAcl = {
      lane: network.access._tag === "Acl" ? JobLanes.aclLane(network.access.aclId) : JobLanes.networkLane(network.id)
    }

    const ipOf = (ref: IpRef): Effect.Effect<IpAddressId> =>
      ref._tag === "Existing" ? Effect.succeed(ref.id) : Option.match(state.acquired, {
        onNone: () => Effect.dieMessage("a plan used the acquired IP before AcquireIp"),
        onSome: (ip) => Effect.succeed(ip.id)
      })
    const ruleOf = (ref: RuleRef): LbRuleId | undefined =>
      ref._tag === "Existing" ? ref.id : state.created.get(ref.name)?.id
    const mutate = <A>(effect: Effect.Effect<A, CloudStackError>) =>
      Effect.zipLeft(effect, Effect.sync(() => state.mutations++))
    const record = (ownership: Ownership) =>
      input.persist(ownership).pipe(
        Effect.mapError((cause) => new PersistFailedError({ cause })),
        Effect.zipRight(Effect.sync(() => (state.ownership = ownership)))
      )

    const acquire = (address: Option.Option<string>) =>
      Effect.gen(function*() {
        const chosen = Option.isSome(address) ? address.value : yield* pickFree(network, input)
        yield* Ref.update(input.reservations, (s) => new Set(s).add(chosen))
        return yield* Effect.gen(function*() {
          // The adopted IP is recorded by its id first (as the old IP of a move, kept until it goes):
          // the record holds one address being associated, and the new one takes that place.
          const pin = Option.filter(
            input.adopted,
            () => Option.isNone(state.ownership.ipId) && !Option.exists(state.ownership.allocating, (a) => a === chosen)
          )
          if (Option.isSome(pin)) {
            yield* record({ ...state.ownership, ipId: pin, associated: true, allocating: Option.none() })
          }
          const before = state.ownership
          yield* record({ ...before, allocating: Option.some(chosen) })
          const forget = record({ ...before, allocating: Option.none() }).pipe(
            Effect.catchAll((e) =>
              Effect.logWarning("could not clear the record of an address not associated").pipe(
                Effect.annotateLogs({ error: String(e.cause) })
              )
            )
          )
          // A refusal of the request or a failed job means the address is not ours (someone took it):
          // forget it, or a later adoption could take the user's IP for ours. Anything else (a timeout,
          // no answer, a failed poll of the accepted job) keeps it: it may be ours.
          const job = yield* mutate(cs.submit(associateIpAddress, {
            ...Option.match(network.vpcId, {
              onNone: () => ({ networkId: network.id }),
              onSome: (vpcId) => ({ vpcId })
            }),
            ipAddress: chosen
          }, onAddresses)).pipe(
            Effect.tapError((error) => (error._tag === "CloudStackApiError" ? forget : Effect.void))
          )
          const ip = yield* cs.waitForJob(associateIpAddress, job).pipe(
            Effect.tapError((error) => (error._tag === "AsyncJobFailedError" ? forget : Effect.void))
          )
          state.acquired = Option.some(ip)
          // Its id is recorded at once, unless an old IP still needs the record until it goes (a move).
          if (Option.isNone(state.ownership.ipId)) {
            yield* record({ ...state.ownership, ipId: Option.some(ip.id), associated: true, allocating: Option.none() })
          }
        }).pipe(
          Effect.ensuring(Ref.update(input.reservations, (s) => {
            const next = new Set(s)
            next.delete(chosen)
            return next
          }))
        )
      })

    const runPolicy = (policy: PolicyStep) =>
      PolicyStep.$match(policy, {
        CreateStickiness: ({ name, rule, sticky }) => {
          const id = ruleOf(rule)
          if (id === undefined) return Effect.void
          const params = Object.entries(sticky.params).map(([key, value]) => ({
            name: key,
            value: value === "" ? "true" : value
          }))
          // Recorded first: a policy this CCM made is always known as its own, so it goes with the annotation.
          return Effect.zipRight(
            state.ownership.stickyApplied
              ? Effect.void
              : Effect.asVoid(record({ ...state.ownership, stickyApplied: true })),
            mutate(
              cs.run(createLBStickinessPolicy, {
                lbRuleId: id,
                name,
                methodName: sticky.method,
                ...(params.length > 0 ? { param: params } : {})
              }, onNetwork)
            )
          )
        },
        DeleteStickiness: ({ id }) => mutate(cs.run(deleteLBStickinessPolicy, { id }, onNetwork)),
        CreateHealthCheck: ({ check, rule }) => {
          const id = ruleOf(rule)
          return id === undefined ? Effect.void : mutate(cs.run(createLBHealthCheckPolicy, {
            lbRuleId: id,
            pingPath: check.path,
            responseTimeout: check.timeout,
            intervalTime: check.interval,
            healthyThreshold: check.healthy,
            unhealthyThreshold: check.unhealthy
          }, onNetwork))
        },
        DeleteHealthCheck: ({ id }) => mutate(cs.run(deleteLBHealthCheckPolicy, { id }, onNetwork))
      })

    const run = (
      step: Step
    ): Effect.Effect<void, CloudStackError | PersistFailedError<E> | NoFreeAddressError, CloudStackClient> =>
      Effect.asVoid<unknown, CloudStackError | PersistFailedError<E> | NoFreeAddressError, CloudStackClient>(
        Step.$match(step, {
          AcquireIp: ({ address }) => acquire(address),
          CreateRule: ({ ip, port }) =>
            Effect.gen(function*() {
              const publicIpId = yield* ipOf(ip)
              const rule = yield* mutate(cs.run(createLoadBalancerRule, {
                name: port.name,
                algorithm: spec.algorithm,
                privatePort: port.privatePort,
                publicPort: port.publicPort,
                publicIpId,
                networkId: network.id,
                protocol: port.protocol,
                openFirewall: false,
                ...Option.match(spec.ruleCidrs, { onNone: () => ({}), onSome: (cidrList) => ({ cidrList }) })
              }, onNetwork))
              state.created.set(port.name, rule)
            }),
          UpdateRule: ({ id }) =>
            Effect.gen(function*() {
              const rule = yield* mutate(cs.run(updateLoadBalancerRule, {
                id,
                algorithm: spec.algorithm,
                ...Option.match(spec.ruleCidrs, { onNone: () => ({}), onSome: (cidrList) => ({ cidrList }) })
              }, onNetwork))
              state.updated.set(id, rule)
            }),
          DeleteRule: ({ id }) => mutate(cs.run(deleteLoadBalancerRule, { id }, onNetwork)),
          AssignMembers: ({ rule, vms }) => {
            const id = ruleOf(rule)
            return id === undefined
              ? Effect.void
              : mutate(cs.run(assignToLoadBalancerRule, { id, virtualMachineIds: vms }, onNetwork))
          },
          RemoveMembers: ({ rule, vms }) =>
            mutate(cs.run(removeFromLoadBalancerRule, { id: rule, virtualMachineIds: vms }, onNetwork)),
          CreateFirewall: ({ cidrs, ip, port, protocol }) =>
            Effect.flatMap(ipOf(ip), (ipAddressId) =>
              mutate(
                cs.run(
                  createFirewallRule,
                  { ipAddressId, protocol, startPort: port, endPort: port, cidrList: cidrs },
                  onNetwork
                )
              )).pipe(
                Effect.tap((fw) => Effect.sync(() => state.createdFirewall.set(`${protocol}/${port}`, fw.id)))
              ),
          DeleteFirewall: ({ id }) => mutate(cs.run(deleteFirewallRule, { id }, onNetwork)),
          CreateAcl: ({ cidrs, port, protocol }) =>
            network.access._tag !== "Acl" ? Effect.void : mutate(cs.run(createNetworkACL, {
              aclId: network.access.aclId,
              protocol,
              startPort: port,
              endPort: port,
              cidrList: cidrs,
              action: "Allow",
              trafficType: "Ingress",
              reason: input.aclReason
            }, onAcl)).pipe(
              Effect.tap((item) => Effect.sync(() => state.createdAcl.set(`${protocol}/${port}`, item.id)))
            ),
          DeleteAcl: ({ id }) => mutate(cs.run(deleteNetworkACL, { id: AclItemId.make(id) }, onAcl)),
          ReleaseIp: ({ id }) => mutate(cs.run(disassociateIpAddress, { id }, onAddresses)),
          Tag: ({ resourceType, tags, targets }) => {
            const ids = targets.flatMap((t) => {
              const id = TagTarget.$match(t, {
                Existing: ({ id }) => id,
                AcquiredIp: () => Option.getOrUndefined(Option.map(state.acquired, (ip) => ip.id)),
                CreatedRule: ({ name }) => state.created.get(name)?.id,
                CreatedFirewall: ({ port, protocol }) => state.createdFirewall.get(`${protocol}/${port}`),
                CreatedAcl: ({ port, protocol }) => state.createdAcl.get(`${protocol}/${port}`)
              })
              return id === undefined ? [] : [id]
            })
            // Not awaited: tags never add a wait to the create path; a failed job is redone next time.
            return ids.length === 0
              ? Effect.void
              : mutate(cs.submit(createTags, { resourceType, resourceIds: ids, tags }))
          },
          Policy: ({ policy }) => runPolicy(policy),
          Persist: ({ associated, ip, stickyApplied }) =>
            Effect.flatMap(
              Option.match(ip, {
                onNone: () => Effect.succeed(Option.none<IpAddressId>()),
                onSome: (r) => Effect.map(ipOf(r), Option.some)
              }),
              (ipId) => {
                const final: Ownership = { ipId, associated, allocating: Option.none(), stickyApplied }
                return equals(final, state.ownership) ? Effect.void : Effect.asVoid(record(final))
              }
            )
        })
      )

    for (const step of steps) {
      const exit = yield* Effect.either(run(step))
      if (exit._tag === "Left") {
        return yield* new StepFailedError<E>({ step, cause: exit.left, executed: snapshot(), networkId: network.id })
      }
    }
    return snapshot()
  })
