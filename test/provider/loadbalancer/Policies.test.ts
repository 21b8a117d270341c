import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import type { HealthCheckPolicy, StickinessPolicy } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { HealthCheckPolicyId, LbRuleId, StickinessPolicyId } from "../../../src/cloudstack/Ids.js"
import type { HealthCheck, Stickiness } from "../../../src/provider/loadbalancer/Annotations.js"
import { stickinessMethods } from "../../../src/provider/loadbalancer/NetworkProfile.js"
import type { RulePolicies } from "../../../src/provider/loadbalancer/ObservedLb.js"
import { plan } from "../../../src/provider/loadbalancer/Plan.js"
import { planPolicies, type PolicyInput, type PolicyStep } from "../../../src/provider/loadbalancer/Policies.js"
import { desired, ip, isolated, members, observed, port, recorded, rule, show, spec } from "./PlanFixtures.js"

const VR_METHODS = JSON.stringify([
  {
    methodname: "LbCookie",
    paramlist: [{ paramname: "cookie-name", isflag: false }, { paramname: "nocache", isflag: true }]
  },
  {
    methodname: "SourceBased",
    paramlist: [{ paramname: "tablesize", isflag: false }, { paramname: "expire", isflag: false }]
  }
])
const vr = { ...isolated(), stickiness: stickinessMethods(VR_METHODS) }
const ns = { ...vr, lbProvider: "Netscaler", healthChecks: true }

const noHealth: HealthCheck = {
  enabled: Option.none(),
  path: Option.none(),
  interval: Option.none(),
  timeout: Option.none(),
  healthy: Option.none(),
  unhealthy: Option.none()
}
const sticky = (method: Stickiness["method"], params: Record<string, string> = {}) => Option.some({ method, params })

const stickyPolicy = (
  id: string,
  methodName: string,
  params: Record<string, string> = {},
  state = "Active"
): StickinessPolicy => ({
  id: StickinessPolicyId.make(id),
  name: "x",
  methodName,
  params,
  state
})
const check = (id: string, overrides: Partial<HealthCheckPolicy> = {}): HealthCheckPolicy => ({
  id: HealthCheckPolicyId.make(id),
  pingPath: "/",
  responseTime: 2,
  interval: 5,
  healthyThreshold: 2,
  unhealthyThreshold: 1,
  state: "Active",
  ...overrides
})
const read = (
  stickiness?: ReadonlyArray<StickinessPolicy>,
  healthChecks?: ReadonlyArray<HealthCheckPolicy>
): Option.Option<RulePolicies> =>
  Option.some({ stickiness: Option.fromNullable(stickiness), healthChecks: Option.fromNullable(healthChecks) })

const input = (overrides: Partial<PolicyInput>): PolicyInput => ({
  spec: spec(),
  network: vr,
  stickyApplied: false,
  kept: [],
  created: [],
  ...overrides
})

const text = (steps: ReadonlyArray<PolicyStep>) =>
  steps.map((s) => {
    switch (s._tag) {
      case "CreateStickiness":
        return `CreateStickiness ${s.rule._tag === "Existing" ? s.rule.id : s.rule.name} ${s.sticky.method}`
      case "CreateHealthCheck":
        return `CreateHealthCheck ${
          s.rule._tag === "Existing" ? s.rule.id : s.rule.name
        } ${s.check.path} ${s.check.interval}/${s.check.timeout}`
      default:
        return `${s._tag} ${s.id}`
    }
  })

describe("Policies.planPolicies", () => {
  const R1 = LbRuleId.make("r1")
  const cases: ReadonlyArray<
    {
      readonly name: string
      readonly input: PolicyInput
      readonly steps: ReadonlyArray<string>
      readonly warnings?: ReadonlyArray<string>
      readonly applied: boolean
    }
  > = [
    {
      name: "nothing wanted on the VR: nothing",
      input: input({ created: [{ name: "new", protocol: "tcp" }] }),
      steps: [],
      applied: false
    },
    {
      name: "created rules get the stickiness and (Netscaler) the default check; UDP gets neither a check nor a cookie",
      input: input({
        network: ns,
        spec: spec({ sticky: sticky("LbCookie", { "cookie-name": "a" }) }),
        created: [{ name: "tcp", protocol: "tcp" }, { name: "udp", protocol: "udp" }]
      }),
      steps: ["CreateStickiness tcp LbCookie", "CreateHealthCheck tcp / 5/2"],
      applied: true
    },
    {
      name: "SourceBased goes on UDP rules too",
      input: input({ spec: spec({ sticky: sticky("SourceBased") }), created: [{ name: "udp", protocol: "udp" }] }),
      steps: ["CreateStickiness udp SourceBased"],
      applied: true
    },
    {
      name: "a kept rule with the same policy (flags compared by name, case-insensitive): nothing",
      input: input({
        spec: spec({ sticky: sticky("LbCookie", { "Cookie-Name": "a", nocache: "" }) }),
        stickyApplied: true,
        kept: [{
          id: R1,
          protocol: "tcp",
          policies: read([stickyPolicy("s1", "lbcookie", { "cookie-name": "a", nocache: "true" })])
        }]
      }),
      steps: [],
      applied: true
    },
    {
      name: "a changed value: one create (CloudStack replaces the old one)",
      input: input({
        spec: spec({ sticky: sticky("LbCookie", { "cookie-name": "b" }) }),
        stickyApplied: true,
        kept: [{ id: R1, protocol: "tcp", policies: read([stickyPolicy("s1", "LbCookie", { "cookie-name": "a" })]) }]
      }),
      steps: ["CreateStickiness r1 LbCookie"],
      applied: true
    },
    {
      name: "annotation gone, the record says ours: deleted (a revoked one is not)",
      input: input({
        stickyApplied: true,
        kept: [{
          id: R1,
          protocol: "tcp",
          policies: read([stickyPolicy("s1", "SourceBased"), stickyPolicy("s0", "SourceBased", {}, "Revoked")])
        }]
      }),
      steps: ["DeleteStickiness s1"],
      applied: false
    },
    {
      name: "annotation gone, not ours: left alone",
      input: input({ kept: [{ id: R1, protocol: "tcp", policies: read([stickyPolicy("s1", "SourceBased")]) }] }),
      steps: [],
      applied: false
    },
    {
      name: "stickiness not read (a dry run): nothing, and the record stays as it was",
      input: input({ stickyApplied: true, kept: [{ id: R1, protocol: "tcp", policies: Option.none() }] }),
      steps: [],
      applied: true
    },
    {
      name: "an unknown method: a Warning, and our old policy goes",
      input: input({
        spec: spec({ sticky: sticky("AppCookie") }),
        stickyApplied: true,
        kept: [{ id: R1, protocol: "tcp", policies: read([stickyPolicy("s1", "SourceBased")]) }]
      }),
      steps: ["DeleteStickiness s1"],
      warnings: ["UnsupportedStickiness"],
      applied: false
    },
    {
      name: "a flag parameter needs no value, a value parameter does",
      input: input({
        spec: spec({ sticky: sticky("LbCookie", { "cookie-name": "" }) }),
        created: [{ name: "tcp", protocol: "tcp" }]
      }),
      steps: [],
      warnings: ["UnsupportedStickiness"],
      applied: false
    },
    {
      name: "the same check is kept, a changed one replaced (delete first: one per rule)",
      input: input({
        network: ns,
        spec: spec({ healthCheck: { ...noHealth, path: Option.some("/healthz") } }),
        kept: [
          { id: R1, protocol: "tcp", policies: read(undefined, [check("h1")]) },
          {
            id: LbRuleId.make("r2"),
            protocol: "tcp",
            policies: read(undefined, [check("h2", { pingPath: "/healthz" })])
          }
        ]
      }),
      steps: ["DeleteHealthCheck h1", "CreateHealthCheck r1 /healthz 5/2"],
      applied: false
    },
    {
      name: "turned off: deleted; on a UDP rule: deleted",
      input: input({
        network: ns,
        spec: spec({ healthCheck: { ...noHealth, enabled: Option.some(false) } }),
        kept: [{ id: R1, protocol: "tcp", policies: read(undefined, [check("h1")]) }]
      }),
      steps: ["DeleteHealthCheck h1"],
      applied: false
    },
    {
      name: "UDP rule with a check (made by hand): deleted, every member would fail it",
      input: input({ network: ns, kept: [{ id: R1, protocol: "udp", policies: read(undefined, [check("h1")]) }] }),
      steps: ["DeleteHealthCheck h1"],
      applied: false
    },
    {
      name: "the VR with a health-check annotation: one Warning, nothing else",
      input: input({
        spec: spec({ healthCheck: { ...noHealth, enabled: Option.some(true) } }),
        created: [{ name: "a", protocol: "tcp" }, { name: "b", protocol: "tcp" }]
      }),
      steps: [],
      warnings: ["HealthCheckUnsupported"],
      applied: false
    },
    {
      name: "a timeout equal to the interval is what the server accepts",
      input: input({
        network: ns,
        spec: spec({ healthCheck: { ...noHealth, interval: Option.some(3), timeout: Option.some(3) } }),
        created: [{ name: "a", protocol: "tcp-proxy" }]
      }),
      steps: ["CreateHealthCheck a / 3/3"],
      applied: false
    }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const out = planPolicies(c.input)
      assert.deepStrictEqual(text(out.steps), c.steps)
      assert.deepStrictEqual(out.warnings.map((w) => w.reason), c.warnings ?? [])
      assert.strictEqual(out.stickyApplied, c.applied)
    })
  }
})

describe("Plan with policies", () => {
  it("policy steps follow the rule they need and come before access; the record notes stickiness", () => {
    const d = desired({ spec: spec({ sticky: sticky("SourceBased") }), network: ns })
    const p = Either.getOrThrow(plan(d, observed()))
    assert.deepStrictEqual(p.steps.map(show), [
      "AcquireIp (any)",
      "CreateRule (acquired) tcp-80 80>30080",
      "AssignMembers (created tcp-80) [vm-a,vm-b]",
      "CreateStickiness (created tcp-80)",
      "CreateHealthCheck (created tcp-80)",
      "CreateFirewall (acquired) tcp/80 [0.0.0.0/0]",
      "Persist (acquired) associated=true sticky"
    ])
  })

  it("removing the annotation on a converged LB: delete, then the record without it", () => {
    const r = rule("r1", "ip-1", port("tcp", 80))
    const o = observed({
      ips: [ip("ip-1", { recorded: true, owned: true })],
      rules: [r],
      members: members({ r1: ["vm-a", "vm-b"] }),
      policies: new Map([[r.id, {
        stickiness: Option.some([stickyPolicy("s1", "SourceBased")]),
        healthChecks: Option.none()
      }]]),
      firewall: []
    })
    const d = desired({ network: vr, ownership: { ...recorded("ip-1"), stickyApplied: true } })
    const p = Either.getOrThrow(plan(d, o))
    assert.deepStrictEqual(p.steps.map(show).filter((s) => !s.startsWith("CreateFirewall")), [
      "DeleteStickiness s1",
      "Persist ip-1 associated=true"
    ])
  })

  it("an IP recorded first (found by its rules) keeps the stickiness record until its policy is gone", () => {
    const r = rule("r1", "ip-1", port("tcp", 80))
    const o = observed({
      ips: [ip("ip-1", { owned: true })],
      rules: [r],
      members: members({ r1: ["vm-a", "vm-b"] }),
      policies: new Map([[r.id, {
        stickiness: Option.some([stickyPolicy("s1", "SourceBased")]),
        healthChecks: Option.none()
      }]])
    })
    const d = desired({ network: vr, ownership: { ...recorded("ip-0"), ipId: Option.none(), stickyApplied: true } })
    const steps = Either.getOrThrow(plan(d, o)).steps.map(show).filter((s) => !s.startsWith("CreateFirewall"))
    assert.deepStrictEqual(steps, [
      "Persist ip-1 associated=true sticky",
      "DeleteStickiness s1",
      "Persist ip-1 associated=true"
    ])
  })
})
