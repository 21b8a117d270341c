/**
 * LB rule policies: a stickiness policy per rule from the sticky annotations (validated against the
 * network's `SupportedStickinessMethods`), a health-check policy per rule where the provider offers
 * `HealthCheckPolicy` (a TCP check of the node port unless the annotations say more). Pure: the
 * wanted policies against the observed ones → steps and warnings.
 */
import { Data, Option } from "effect"
import type { HealthCheckPolicy, LbProtocol, StickinessPolicy } from "../../cloudstack/commands/LoadBalancers.js"
import type { HealthCheckPolicyId, LbRuleId, StickinessPolicyId } from "../../cloudstack/Ids.js"
import type { HealthCheck, Stickiness } from "./Annotations.js"
import type { LbSpec, LbWarning } from "./LbSpec.js"
import type { NetworkProfile } from "./NetworkProfile.js"
import type { RulePolicies } from "./ObservedLb.js"

/** The rule a policy step applies to: existing, or created earlier in the same plan (by name). */
export type PolicyRule = Data.TaggedEnum<{ Existing: { readonly id: LbRuleId }; Created: { readonly name: string } }>
export const PolicyRule = Data.taggedEnum<PolicyRule>()

/** CloudStack's defaults (createLBHealthCheckPolicy): what an unset annotation means. */
export const HEALTH_CHECK_DEFAULTS = { path: "/", interval: 5, timeout: 2, healthy: 2, unhealthy: 1 } as const

export interface WantedHealthCheck {
  readonly path: string
  readonly interval: number
  readonly timeout: number
  readonly healthy: number
  readonly unhealthy: number
}

export type PolicyStep = Data.TaggedEnum<{
  CreateStickiness: { readonly rule: PolicyRule; readonly name: string; readonly sticky: Stickiness }
  DeleteStickiness: { readonly id: StickinessPolicyId }
  CreateHealthCheck: { readonly rule: PolicyRule; readonly check: WantedHealthCheck }
  DeleteHealthCheck: { readonly id: HealthCheckPolicyId }
}>
export const PolicyStep = Data.taggedEnum<PolicyStep>()

const anyHealthAnnotation = (h: HealthCheck): boolean =>
  Option.isSome(h.path) || Option.isSome(h.interval) || Option.isSome(h.timeout) || Option.isSome(h.healthy) ||
  Option.isSome(h.unhealthy) || Option.exists(h.enabled, (on) => on)

/** The health check wanted on `network`, with the warning when the annotations ask for one it cannot have. */
export const wantedHealthCheck = (
  spec: LbSpec,
  network: NetworkProfile
): { readonly check: Option.Option<WantedHealthCheck>; readonly warning: Option.Option<LbWarning> } => {
  const h = spec.healthCheck
  if (!network.healthChecks) {
    return {
      check: Option.none(),
      warning: anyHealthAnnotation(h)
        ? Option.some({
          reason: "HealthCheckUnsupported",
          message: `the ${
            network.lbProvider || "Lb"
          } provider of network ${network.name} offers no health checks (HealthCheckPolicy): the health-check annotations are ignored`
        })
        : Option.none()
    }
  }
  if (Option.exists(h.enabled, (on) => !on)) return { check: Option.none(), warning: Option.none() }
  const check: WantedHealthCheck = {
    path: Option.getOrElse(h.path, () => HEALTH_CHECK_DEFAULTS.path),
    interval: Option.getOrElse(h.interval, () => HEALTH_CHECK_DEFAULTS.interval),
    timeout: Option.getOrElse(h.timeout, () => HEALTH_CHECK_DEFAULTS.timeout),
    healthy: Option.getOrElse(h.healthy, () => HEALTH_CHECK_DEFAULTS.healthy),
    unhealthy: Option.getOrElse(h.unhealthy, () => HEALTH_CHECK_DEFAULTS.unhealthy)
  }
  // The server's own rule (createLBHealthCheckPolicy): "Monitor interval must be greater than response timeout" when longer.
  if (check.timeout > check.interval) {
    return {
      check: Option.none(),
      warning: Option.some({
        reason: "InvalidAnnotation",
        message:
          `health check: the timeout (${check.timeout} s) must not be longer than the interval (${check.interval} s); no health check is set`
      })
    }
  }
  return { check: Option.some(check), warning: Option.none() }
}

/** The stickiness wanted on `network`, with the warning when the provider does not offer it as asked. */
export const wantedStickiness = (
  spec: LbSpec,
  network: NetworkProfile
): { readonly sticky: Option.Option<Stickiness>; readonly warning: Option.Option<LbWarning> } =>
  Option.match(spec.sticky, {
    onNone: () => ({ sticky: Option.none(), warning: Option.none() }),
    onSome: (sticky) => {
      const unsupported = (why: string) => ({
        sticky: Option.none<Stickiness>(),
        warning: Option.some<LbWarning>({
          reason: "UnsupportedStickiness",
          message: `stickiness ${sticky.method}: ${why}`
        })
      })
      const params = network.stickiness.get(sticky.method.toLowerCase())
      if (params === undefined) {
        return unsupported(
          `the ${network.lbProvider || "Lb"} provider of network ${network.name} offers ${
            [...network.stickiness.keys()].join(", ") || "no stickiness"
          }`
        )
      }
      for (const [name, value] of Object.entries(sticky.params)) {
        const def = params.get(name.toLowerCase())
        if (def === undefined) return unsupported(`no parameter ${name} (it takes ${[...params.keys()].join(", ")})`)
        if (!def.isFlag && value === "") return unsupported(`parameter ${name} needs a value (${name}=...)`)
      }
      return { sticky: Option.some(sticky), warning: Option.none() }
    }
  })

const sameStickiness = (
  have: StickinessPolicy,
  want: Stickiness,
  flags: ReadonlyMap<string, { readonly isFlag: boolean }>
): boolean => {
  if (have.methodName.toLowerCase() !== want.method.toLowerCase()) return false
  const norm = (params: Readonly<Record<string, string>>) =>
    Object.entries(params).map(([k, v]) =>
      [k.toLowerCase(), flags.get(k.toLowerCase())?.isFlag === true ? "" : v] as const
    )
      .sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(",")
  return norm(have.params) === norm(want.params)
}

const sameHealthCheck = (have: HealthCheckPolicy, want: WantedHealthCheck): boolean =>
  (have.pingPath ?? HEALTH_CHECK_DEFAULTS.path) === want.path &&
  (have.interval ?? HEALTH_CHECK_DEFAULTS.interval) === want.interval &&
  (have.responseTime ?? HEALTH_CHECK_DEFAULTS.timeout) === want.timeout &&
  (have.healthyThreshold ?? HEALTH_CHECK_DEFAULTS.healthy) === want.healthy &&
  (have.unhealthyThreshold ?? HEALTH_CHECK_DEFAULTS.unhealthy) === want.unhealthy

export interface PolicyInput {
  readonly spec: LbSpec
  readonly network: NetworkProfile
  /** This CCM put stickiness policies on the rules (the record): they go when the annotation goes. */
  readonly stickyApplied: boolean
  /** Rules that stay, with their policies where they were read. */
  readonly kept: ReadonlyArray<
    { readonly id: LbRuleId; readonly protocol: LbProtocol; readonly policies: Option.Option<RulePolicies> }
  >
  /** The rules the plan creates. */
  readonly created: ReadonlyArray<{ readonly name: string; readonly protocol: LbProtocol }>
}

export interface PolicyPlan {
  readonly steps: ReadonlyArray<PolicyStep>
  readonly warnings: ReadonlyArray<LbWarning>
  /** Whether stickiness policies are this CCM's after the plan (the record). */
  readonly stickyApplied: boolean
}

/** A health check connects over TCP: a UDP rule gets none (every member would fail it). */
const checkable = (protocol: LbProtocol): boolean => protocol !== "udp"

/** Cookies need HTTP over TCP: a UDP rule gets only a source-based policy. */
const stickable = (sticky: Stickiness, protocol: LbProtocol): boolean =>
  protocol !== "udp" || sticky.method === "SourceBased"

/** Policy steps for the plan's rules: created rules get what is wanted, kept rules are compared. */
export const planPolicies = (input: PolicyInput): PolicyPlan => {
  const { network, spec } = input
  const sticky = wantedStickiness(spec, network)
  const health = wantedHealthCheck(spec, network)
  const flags = Option.match(sticky.sticky, {
    onNone: () => new Map(),
    onSome: (s) => network.stickiness.get(s.method.toLowerCase()) ?? new Map()
  })
  const steps: Array<PolicyStep> = []
  const name = `${spec.lbName}-sticky`
  for (const rule of input.created) {
    const ref = PolicyRule.Created({ name: rule.name })
    Option.map(
      Option.filter(sticky.sticky, (s) => stickable(s, rule.protocol)),
      (s) => steps.push(PolicyStep.CreateStickiness({ rule: ref, name, sticky: s }))
    )
    if (checkable(rule.protocol)) {
      Option.map(health.check, (check) => steps.push(PolicyStep.CreateHealthCheck({ rule: ref, check })))
    }
  }
  // Stickiness not read on some rule: the record stays as it was (nothing was compared there).
  let unread = false
  for (const rule of input.kept) {
    const ref = PolicyRule.Existing({ id: rule.id })
    const observed = Option.getOrUndefined(rule.policies)
    const stickiness = Option.getOrUndefined(Option.flatMap(rule.policies, (p) => p.stickiness))
    if (stickiness === undefined) unread = true
    else {
      const live = stickiness.filter((p) => p.state !== "Revoke" && p.state !== "Revoked")
      const want = Option.filter(sticky.sticky, (s) => stickable(s, rule.protocol))
      if (Option.isSome(want)) {
        // A new policy replaces the old one (CloudStack revokes it when the new one is applied).
        if (!live.some((p) => sameStickiness(p, want.value, flags))) {
          steps.push(PolicyStep.CreateStickiness({ rule: ref, name, sticky: want.value }))
        }
      } else if (input.stickyApplied) {
        // Only what this CCM put there goes.
        for (const p of live) steps.push(PolicyStep.DeleteStickiness({ id: p.id }))
      }
    }
    const checks = observed === undefined ? undefined : Option.getOrUndefined(observed.healthChecks)
    if (checks === undefined) continue
    const liveChecks = checks.filter((p) => p.state !== "Revoke" && p.state !== "Revoked")
    const want = checkable(rule.protocol) ? health.check : Option.none()
    const keep = Option.flatMap(want, (w) => Option.fromNullable(liveChecks.find((p) => sameHealthCheck(p, w))))
    // At most one policy per rule: a changed one is deleted before the new one is created.
    for (const p of liveChecks) {
      if (Option.isNone(keep) || keep.value !== p) steps.push(PolicyStep.DeleteHealthCheck({ id: p.id }))
    }
    if (Option.isNone(keep)) Option.map(want, (check) => steps.push(PolicyStep.CreateHealthCheck({ rule: ref, check })))
  }
  return {
    steps,
    warnings: [...Option.toArray(sticky.warning), ...Option.toArray(health.warning)],
    stickyApplied: Option.isSome(sticky.sticky) || (unread && input.stickyApplied)
  }
}
