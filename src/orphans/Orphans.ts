/**
 * The effectful half of the orphan report: lists the account's IPs, LB rules, firewall rules and
 * ACL items (its own account or project only), then the cluster's Services, plans (`OrphanPlan`),
 * and with `--delete` runs the steps one by one. CloudStack is listed BEFORE the Services: a
 * resource seen there was made for a Service that existed then, so a Service created meanwhile can
 * never make its new load balancer look orphaned. No Service list, no plan.
 */
import { Data, Effect, Either } from "effect"
import { CloudStackClient } from "../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../cloudstack/CloudStackError.js"
import { ownedOnly } from "../cloudstack/Command.js"
import { disassociateIpAddress, listPublicIpAddresses } from "../cloudstack/commands/Addresses.js"
import { deleteFirewallRule, listFirewallRules } from "../cloudstack/commands/Firewall.js"
import {
  deleteLoadBalancerRule,
  listLoadBalancerRuleInstances,
  listLoadBalancerRules
} from "../cloudstack/commands/LoadBalancers.js"
import { deleteNetworkACL, listNetworkACLs } from "../cloudstack/commands/NetworkAcls.js"
import { AclItemId, FirewallRuleId, IpAddressId, LbRuleId } from "../cloudstack/Ids.js"
import { NodeApi } from "../kubernetes/NodeApi.js"
import { ServiceApi } from "../kubernetes/ServiceApi.js"
import * as ProviderId from "../provider/ProviderId.js"
import { type Inventory, ipOfStep, membersWanted, type OrphanPlan, plan, Step } from "./OrphanPlan.js"
import type { StepResult } from "./OrphanReport.js"

/** The cluster's Services could not be listed: without them nothing can be called an orphan. */
export class ServicesUnavailableError extends Data.TaggedError("ServicesUnavailableError")<{
  /** The Kubernetes error's message. */
  readonly detail: string
}> {
  override get message(): string {
    return `orphans: cannot list the cluster's Services (${this.detail}); refusing to decide what is an orphan without them`
  }
}

/** The cluster's Nodes could not be listed (needed to tell whose the Go CCM's untagged rules are). */
export class NodesUnavailableError extends Data.TaggedError("NodesUnavailableError")<{ readonly detail: string }> {
  override get message(): string {
    return `orphans: cannot list the cluster's Nodes (${this.detail}), needed to tell whether rules named by the Go CCM are this cluster's`
  }
}

/** The account's own resources: four paged listings, whatever their number. */
const listInventory: Effect.Effect<Inventory, CloudStackError, CloudStackClient> = Effect.gen(function*() {
  const cs = yield* CloudStackClient
  return yield* Effect.all({
    ips: cs.list(ownedOnly(listPublicIpAddresses), {}),
    rules: cs.list(ownedOnly(listLoadBalancerRules), {}),
    firewall: cs.list(ownedOnly(listFirewallRules), {}),
    acl: cs.list(ownedOnly(listNetworkACLs), {})
  })
}).pipe(Effect.withSpan("Orphans.listInventory"))

/**
 * Lists and plans. Nodes and rule members are read only when an untagged rule named by the Go CCM
 * belongs to no Service (one listing of Nodes, one of members per such rule).
 */
export const survey = (cluster: string): Effect.Effect<
  OrphanPlan,
  CloudStackError | ServicesUnavailableError | NodesUnavailableError,
  CloudStackClient | ServiceApi | NodeApi
> =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const inventory = yield* listInventory
    const services = yield* Effect.flatMap(ServiceApi, (api) => api.list).pipe(
      Effect.mapError((e) => new ServicesUnavailableError({ detail: e.message }))
    )
    const wanted = membersWanted(cluster, inventory, services.items)
    const members = new Map<string, ReadonlyArray<string>>()
    const nodeVms = new Set<string>()
    if (wanted.length > 0) {
      const nodes = yield* Effect.flatMap(NodeApi, (api) => api.list).pipe(
        Effect.mapError((e) => new NodesUnavailableError({ detail: e.message }))
      )
      for (const node of nodes.items) {
        const parsed = ProviderId.parse(node.spec.providerID)
        if (Either.isRight(parsed)) nodeVms.add(parsed.right.vmId)
      }
      for (const id of wanted) {
        const vms = yield* cs.list(listLoadBalancerRuleInstances, { id: LbRuleId.make(id) })
        members.set(id, vms.map((vm) => vm.id))
      }
    }
    yield* Effect.logDebug("orphans listed").pipe(Effect.annotateLogs({
      ips: inventory.ips.length,
      rules: inventory.rules.length,
      firewallRules: inventory.firewall.length,
      aclItems: inventory.acl.length,
      services: services.items.length,
      memberListings: wanted.length
    }))
    return plan({ cluster, inventory, services: services.items, members, nodeVms })
  }).pipe(Effect.withSpan("Orphans.survey"))

const run = (cs: CloudStackClient["Type"], step: Step): Effect.Effect<unknown, CloudStackError> =>
  Step.$match(step, {
    DeleteFirewall: ({ resource }) => cs.run(deleteFirewallRule, { id: FirewallRuleId.make(resource.id) }),
    DeleteAcl: ({ resource }) => cs.run(deleteNetworkACL, { id: AclItemId.make(resource.id) }),
    DeleteRule: ({ resource }) => cs.run(deleteLoadBalancerRule, { id: LbRuleId.make(resource.id) }),
    ReleaseIp: ({ resource }) => cs.run(disassociateIpAddress, { id: IpAddressId.make(resource.id) })
  })

/**
 * Runs the steps in order, one at a time, going on after a failure; an IP is not released when a
 * rule on it could not be deleted (skipped). Never fails: each step's outcome is in the result.
 */
export const execute = (
  steps: ReadonlyArray<Step>
): Effect.Effect<ReadonlyArray<StepResult>, never, CloudStackClient> =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const failedIps = new Set<string>()
    const results: Array<StepResult> = []
    for (const step of steps) {
      if (step._tag === "ReleaseIp" && failedIps.has(step.resource.id)) {
        results.push({ step, outcome: { _tag: "Skipped", why: "a rule on it could not be deleted" } })
        continue
      }
      const annotations = { kind: step.resource.kind, id: step.resource.id }
      const done = yield* Effect.either(run(cs, step))
      if (Either.isRight(done)) {
        yield* Effect.logInfo("orphan deleted").pipe(Effect.annotateLogs(annotations))
        results.push({ step, outcome: { _tag: "Deleted" } })
        continue
      }
      const ip = ipOfStep(step)
      if (ip !== undefined) failedIps.add(ip)
      yield* Effect.logWarning("orphan not deleted").pipe(
        Effect.annotateLogs({ ...annotations, error: done.left.message })
      )
      results.push({ step, outcome: { _tag: "Failed", error: done.left.message } })
    }
    return results
  }).pipe(Effect.withSpan("Orphans.execute"))
