/**
 * CloudStack calls per load-balancer operation, on the in-memory simulator with instant jobs (one
 * queryAsyncJobResult per job, as in the Go CCM's measurement), next to what the Go CCM v1.2.0 made
 * for the same operation against this project's simulator (docs reference go-ccm-measured) and the
 * budget issue 9 sets, and the orphan report's. Deterministic: counts, not times.
 */
import { Effect, Layer, Logger, LogLevel, Option, Random, Ref, Schema } from "effect"
import * as SimulateCommand from "../src/cli/SimulateCommand.js"
import { CloudStackClient } from "../src/cloudstack/CloudStackClient.js"
import { listVirtualMachines } from "../src/cloudstack/commands/VirtualMachines.js"
import { NodeApi } from "../src/kubernetes/NodeApi.js"
import { ServiceApi } from "../src/kubernetes/ServiceApi.js"
import * as Orphans from "../src/orphans/Orphans.js"
import type { NodeRef } from "../src/provider/InstanceLookup.js"
import { Instances } from "../src/provider/Instances.js"
import * as Annotations from "../src/provider/loadbalancer/Annotations.js"
import type { LbService } from "../src/provider/loadbalancer/LbSpec.js"
import {
  layer as LoadBalancersLayer,
  type LbRequest,
  LoadBalancers
} from "../src/provider/loadbalancer/LoadBalancers.js"
import * as Ownership from "../src/provider/loadbalancer/Ownership.js"
import * as CallCounts from "../src/simulation/cloudstack/CallCounts.js"
import { CloudStackSimulator } from "../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../src/simulation/cloudstack/DemoWorld.js"
import { World } from "../src/simulation/cloudstack/World.js"
import type { BenchRow } from "./run.js"

let serial = 0
const service = (overrides: Partial<LbService> = {}): LbService => {
  serial++
  return {
    namespace: "default",
    name: `bench-${serial}`,
    uid: `${serial.toString(16).padStart(8, "0")}-be9c-4000-a000-00000000be9c`,
    annotations: {},
    ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }],
    loadBalancerIP: undefined,
    loadBalancerSourceRanges: [],
    sessionAffinity: "None",
    ...overrides
  }
}

const calls = Effect.flatMap(CloudStackSimulator, (s) => s.counters).pipe(Effect.map(CallCounts.total))
const mutations = Effect.flatMap(CloudStackSimulator, (s) => s.counters).pipe(
  Effect.map((c) => CallCounts.total(c, CallCounts.isMutation))
)
const counted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const [c0, m0] = [yield* calls, yield* mutations]
    const result = yield* effect
    return { result, calls: (yield* calls) - c0, mutating: (yield* mutations) - m0 }
  })

/** A Service's record, kept in memory as the annotations on the Service would keep it. */
const recorded = (svc: LbService) =>
  Effect.map(Ref.make<Readonly<Record<string, string>>>({}), (ref) => {
    const persist = (o: Ownership.Ownership) =>
      Ref.update(ref, (a) => {
        const next: Record<string, string> = { ...a }
        for (const [k, v] of Object.entries(Ownership.toAnnotations(o))) {
          if (v === null) delete next[k]
          else next[k] = v
        }
        return next
      })
    const request = (nodes: ReadonlyArray<NodeRef>, fresh: boolean, change: Partial<LbService> = {}) =>
      Effect.map(Ref.get(ref), (a): LbRequest<never> => ({
        service: { ...svc, ...change, annotations: { ...svc.annotations, ...change.annotations, ...a } },
        nodes,
        fresh,
        claimedElsewhere: () => false,
        requestedElsewhere: () => false,
        associatingElsewhere: () => false,
        persist
      }))
    return { request }
  })

const nodesFor = (...names: ReadonlyArray<string>) =>
  Effect.map(
    Effect.flatMap(CloudStackClient, (cs) => cs.list(listVirtualMachines, {})),
    (vms) =>
      names.map((name): NodeRef => ({
        name,
        providerID: `external-cloudstack://${vms.find((v) => v.name === name)?.id ?? ""}`
      }))
  )

interface Figure {
  readonly scenario: string
  readonly ours: number
  readonly go: string
  readonly budget: string
}

const scenarios = Effect.gen(function*() {
  const lbs = yield* LoadBalancers
  const instances = yield* Instances
  const out: Array<Figure> = []
  const two = yield* nodesFor("node-1", "node-2")
  const three = yield* nodesFor("node-1", "node-2", "node-3")

  // The running CCM's node controller lists the VMs at least every --node-status-update-frequency
  // (5 min; the LB code reuses a listing up to 10 min old): warm it as the CCM has it. Right after a
  // restart the first ensure lists them once more, for every Service together.
  const cold = yield* counted(instances.resolve(two))
  out.push({
    scenario: "VM listing after a restart (once, shared by every Service)",
    ours: cold.calls,
    go: "1 per LB operation",
    budget: ""
  })
  // The first LB of the network also reads the network.
  const first = service()
  const firstRecord = yield* recorded(first)
  const c1 = yield* counted(lbs.ensure(yield* firstRecord.request(two, true)))
  out.push({
    scenario: "create, 1 TCP port, isolated, first LB of the network (3 of them createTags, not awaited)",
    ours: c1.calls,
    go: "13",
    budget: "≤ 10 (+3 tags)"
  })

  const web = service()
  const r = yield* recorded(web)
  const c2 = yield* counted(lbs.ensure(yield* r.request(two, true)))
  out.push({
    scenario: "create, 1 TCP port, isolated (3 of them createTags, not awaited)",
    ours: c2.calls,
    go: "13",
    budget: "≤ 9 (+3 tags)"
  })
  const resync = yield* counted(lbs.ensure(yield* r.request(two, false)))
  out.push({
    scenario: "re-sync, nothing changed (reads)",
    ours: resync.calls,
    go: "0 (never re-syncs)",
    budget: "≤ 4"
  })
  out.push({ scenario: "re-sync, nothing changed (mutating)", ours: resync.mutating, go: "0", budget: "0" })
  const affinity = yield* counted(lbs.ensure(yield* r.request(two, false, { sessionAffinity: "ClientIP" })))
  out.push({ scenario: "sessionAffinity change", ours: affinity.calls, go: "6", budget: "" })
  const cidrs = yield* counted(
    lbs.ensure(
      yield* r.request(two, false, {
        sessionAffinity: "ClientIP",
        annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8" }
      })
    )
  )
  out.push({ scenario: "source-cidrs change (4.22: in place)", ours: cidrs.calls, go: "6", budget: "" })
  const snapshot = Option.getOrThrow(
    (yield* lbs.ensure(
      yield* r.request(two, false, {
        sessionAffinity: "ClientIP",
        annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8" }
      })
    )).snapshot
  )
  const join = yield* counted(lbs.updateMembers(snapshot, three))
  out.push({ scenario: "a node joins (per rule)", ours: join.calls, go: "5 (+ 8 for the node's init)", budget: "≤ 4" })
  const leave = yield* counted(lbs.updateMembers(snapshot, two))
  out.push({ scenario: "a node leaves (per rule)", ours: leave.calls, go: "5", budget: "≤ 4" })
  const del = yield* counted(
    lbs.delete(
      yield* r.request(two, false, {
        sessionAffinity: "ClientIP",
        annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8" }
      })
    )
  )
  out.push({ scenario: "delete", ours: del.calls, go: "12", budget: "≤ 5" })

  const fixed = service({ loadBalancerIP: "203.0.113.50" })
  const f = yield* recorded(fixed)
  const fc = yield* counted(lbs.ensure(yield* f.request(two, true)))
  out.push({ scenario: "create with loadBalancerIP (free, associated)", ours: fc.calls, go: "18", budget: "" })
  const fd = yield* counted(lbs.delete(yield* f.request(two, false)))
  out.push({ scenario: "delete with loadBalancerIP (released)", ours: fd.calls, go: "14", budget: "" })

  const dns = service({ ports: [{ name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }] })
  const d = yield* recorded(dns)
  const u1 = yield* counted(lbs.ensure(yield* d.request(two, true)))
  out.push({
    scenario: "UDP on the virtual router, first attempt (431, IP released)",
    ours: u1.calls,
    go: "8",
    budget: ""
  })
  const u2 = yield* counted(Effect.all([1, 2].map(() => Effect.flatMap(d.request(two, false), lbs.ensure))))
  out.push({
    scenario: "UDP on the virtual router, 2 more attempts",
    ours: u2.calls,
    go: "16 (IP churned each time)",
    budget: "0 mutating"
  })
  out.push({
    scenario: "UDP on the virtual router, 2 more attempts (mutating)",
    ours: u2.mutating,
    go: "12",
    budget: "0"
  })

  const webs = yield* nodesFor("web-1", "web-2")
  const vpcFirst = service()
  const v0 = yield* recorded(vpcFirst)
  const vc0 = yield* counted(lbs.ensure(yield* v0.request(webs, true)))
  out.push({ scenario: "VPC tier create, first LB of the tier", ours: vc0.calls, go: "13", budget: "" })
  const vpc = service()
  const v = yield* recorded(vpc)
  const vc = yield* counted(lbs.ensure(yield* v.request(webs, true)))
  out.push({ scenario: "VPC tier create", ours: vc.calls, go: "13", budget: "" })
  const vd = yield* counted(lbs.delete(yield* v.request(webs, false)))
  out.push({ scenario: "VPC tier delete (ACL item, IP)", ours: vd.calls, go: "12", budget: "" })

  // Policies: the Go CCM has neither stickiness nor health checks (its PR #88 was never merged).
  const sticky = service({
    annotations: { [Annotations.STICKY_METHOD]: "LbCookie", [Annotations.STICKY_PARAMS]: "cookie-name=srv" }
  })
  const st = yield* recorded(sticky)
  const sc = yield* counted(lbs.ensure(yield* st.request(two, true)))
  out.push({ scenario: "create with stickiness (isolated)", ours: sc.calls, go: "no stickiness", budget: "" })
  const sr = yield* counted(lbs.ensure(yield* st.request(two, false)))
  out.push({ scenario: "re-sync with stickiness, nothing changed (reads)", ours: sr.calls, go: "", budget: "" })
  const sx = yield* counted(
    lbs.ensure(
      yield* st.request(two, false, {
        annotations: { [Annotations.STICKY_METHOD]: "SourceBased", [Annotations.STICKY_PARAMS]: "" }
      })
    )
  )
  out.push({
    scenario: "stickiness method change (one create replaces the policy)",
    ours: sx.calls,
    go: "",
    budget: ""
  })
  const nsNodes = yield* nodesFor("ns-node-1", "ns-node-2")
  const nsNetwork = (yield* Effect.flatMap(CloudStackSimulator, (sim) =>
    sim.state)).networks.find((n) => n.name === "isolated-ns")?.uuid ?? ""
  const checked = service({ annotations: { [Annotations.NETWORK_ID]: nsNetwork } })
  const hc = yield* recorded(checked)
  yield* instances.resolve(nsNodes)
  const hcc = yield* counted(lbs.ensure(yield* hc.request(nsNodes, true)))
  out.push({
    scenario: "create on the Netscaler-like network, default health check (first LB there)",
    ours: hcc.calls,
    go: "no health checks",
    budget: ""
  })
  const hcr = yield* counted(lbs.ensure(yield* hc.request(nsNodes, false)))
  out.push({ scenario: "re-sync with a health check, nothing changed (reads)", ours: hcr.calls, go: "", budget: "" })
  return out
})

/** `--lb-ownership-tags=false`: the create path without the three createTags submissions. */
const untagged = Effect.gen(function*() {
  const lbs = yield* LoadBalancers
  const instances = yield* Instances
  const two = yield* nodesFor("node-1", "node-2")
  yield* instances.resolve(two)
  const warm = yield* recorded(service())
  yield* lbs.ensure(yield* warm.request(two, true))
  const r = yield* recorded(service())
  const c = yield* counted(lbs.ensure(yield* r.request(two, true)))
  return {
    scenario: "create, 1 TCP port, isolated, --lb-ownership-tags=false",
    ours: c.calls,
    go: "13",
    budget: "≤ 9"
  } satisfies Figure
})

const DRIFT_SERVICES = 300

/** One drift-repair pass over 300 unchanged Services with 2 ports each (the member audits apart). */
const driftPass = Effect.gen(function*() {
  const lbs = yield* LoadBalancers
  const instances = yield* Instances
  const two = yield* nodesFor("node-1", "node-2")
  yield* instances.resolve(two)
  const requests: Array<LbRequest<never>> = []
  for (let i = 0; i < DRIFT_SERVICES; i++) {
    const r = yield* recorded(service({
      ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }, {
        name: "https",
        protocol: "TCP",
        port: 443,
        nodePort: 30443
      }]
    }))
    yield* lbs.ensure(yield* r.request(two, true))
    requests.push(yield* r.request(two, false))
  }
  const pass = yield* counted(Effect.gen(function*() {
    const reads = yield* lbs.fleet
    let drifted = 0
    for (const request of requests) if ((yield* lbs.drift(request, reads)).length > 0) drifted++
    return drifted
  }))
  const rules = DRIFT_SERVICES * 2
  return [
    {
      scenario: `drift pass, ${DRIFT_SERVICES} unchanged Services (${rules} rules): reads`,
      ours: pass.calls,
      go: "no drift repair",
      budget: `≤ ceil(rules/500) + a few = ${Math.ceil(rules / 500)} + a few`
    },
    {
      scenario: `drift pass, ${DRIFT_SERVICES} unchanged Services: mutating`,
      ours: pass.mutating,
      go: "no drift repair",
      budget: "0"
    },
    {
      scenario: `drift pass, ${DRIFT_SERVICES} unchanged Services: Services found drifted`,
      ours: pass.result,
      go: "",
      budget: "0"
    },
    {
      scenario: "member audits per period (one listLoadBalancerRuleInstances per rule, spread over the period)",
      ours: rules,
      go: "",
      budget: ""
    }
  ] satisfies ReadonlyArray<Figure>
})

const ORPHANED = 10

/**
 * `cloudstack-ccm orphans` where 300 Services have LBs (2 rules each) and 10 of them were deleted
 * without cleanup: the report's reads, then `--delete` (each deletion and its job).
 */
const orphanReport = Effect.gen(function*() {
  const lbs = yield* LoadBalancers
  const api = yield* ServiceApi
  const two = yield* nodesFor("node-1", "node-2")
  const ports = [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }, {
    name: "https",
    protocol: "TCP",
    port: 443,
    nodePort: 30443
  }] as const
  for (let i = 0; i < DRIFT_SERVICES; i++) {
    const created = yield* api.create({ namespace: "default", name: `orphan-bench-${i}`, type: "LoadBalancer", ports })
    const r = yield* recorded(service({ name: created.metadata.name, uid: created.metadata.uid, ports }))
    yield* lbs.ensure(yield* r.request(two, true))
  }
  for (let i = 0; i < ORPHANED; i++) yield* api.delete("default", `orphan-bench-${i}`)
  const report = yield* counted(Orphans.survey("kubernetes"))
  const deletion = yield* counted(Orphans.execute(report.result.steps))
  const scale = `${DRIFT_SERVICES} LBs (${DRIFT_SERVICES * 2} rules), ${ORPHANED} Services deleted without cleanup`
  return [
    { scenario: `orphans report, ${scale}: reads`, ours: report.calls, go: "no orphan report", budget: "" },
    {
      scenario:
        `orphans --delete of their ${report.result.steps.length} orphans (firewall rules, rules, IPs; each deletion and its job)`,
      ours: deletion.calls,
      go: "",
      budget: ""
    }
  ] satisfies ReadonlyArray<Figure>
})

/** The demo world with enough free addresses for the drift pass's 300 Services. */
const driftWorld = Schema.decodeSync(World)({
  ...Schema.encodeSync(World)(demoWorld),
  publicIps: [{ zone: "zone1", start: "198.18.0.10", count: DRIFT_SERVICES + 40 }]
})

/** At 4.20 a cidrs change cannot be made in place: the rule is recreated (the Go CCM: 10). */
const oldServer = Effect.gen(function*() {
  const lbs = yield* LoadBalancers
  const two = yield* nodesFor("node-1", "node-2")
  const svc = service({ annotations: { [Annotations.SOURCE_CIDRS]: "10.0.0.0/8" } })
  const r = yield* recorded(svc)
  yield* lbs.ensure(yield* r.request(two, true))
  yield* lbs.ensure(yield* r.request(two, false, { annotations: { [Annotations.SOURCE_CIDRS]: "192.168.0.0/16" } })) // learns
  const c = yield* counted(
    lbs.ensure(yield* r.request(two, false, { annotations: { [Annotations.SOURCE_CIDRS]: "172.16.0.0/12" } }))
  )
  return { scenario: "source-cidrs change (4.20: recreate)", ours: c.calls, go: "10", budget: "" } satisfies Figure
})

const env = (world = demoWorld, tags = true) =>
  tags
    ? SimulateCommand.layer({ seed: 1, providerName: "external-cloudstack", world })
    : LoadBalancersLayer({ tags: false }).pipe(
      Layer.provideMerge(SimulateCommand.layer({ seed: 1, providerName: "external-cloudstack", world }))
    )

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const quiet = <A, E>(
    e: Effect.Effect<A, E, LoadBalancers | Instances | CloudStackClient | CloudStackSimulator | ServiceApi | NodeApi>,
    world?: World,
    tags = true
  ) =>
    Effect.runPromise(
      e.pipe(
        Logger.withMinimumLogLevel(LogLevel.Warning),
        Effect.withRandom(Random.make(1)),
        Effect.provide(env(world, tags))
      )
    )
  const figures = [
    ...(await quiet(scenarios)),
    await quiet(untagged, demoWorld, false),
    ...(await quiet(driftPass, driftWorld)),
    ...(await quiet(orphanReport, driftWorld)),
    await quiet(oldServer, Schema.decodeSync(World)({ ...Schema.encodeSync(World)(demoWorld), version: "4.20.1.0" }))
  ]
  return figures.map((f) => ({
    bench: "LB calls (simulator, instant jobs)",
    metric: f.scenario,
    value: f.ours,
    unit: "calls",
    note: [f.go === "" ? "" : `Go CCM v1.2.0: ${f.go}`, f.budget === "" ? "" : `budget ${f.budget}`].filter((s) =>
      s !== ""
    )
      .join("; ")
  }))
}
