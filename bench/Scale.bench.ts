/**
 * The service controller at scale, in virtual time: 1,000 Nodes on 3 isolated networks, 300
 * LoadBalancer Services with 2 ports each (100 per network), CloudStack jobs of 200 ms executed one
 * at a time per network as CloudStack's per-network job queue does. Reported against that queue's
 * bound: the busy time of the busiest network's queue (its jobs × 200 ms) — no CCM can converge
 * sooner. Scenarios: converge from empty, a rolling replacement of every Node (in batches), and a
 * drift-repair pass. Deterministic (runVirtual, seeded simulator and Random): virtual times, not wall times.
 */
import { Effect, Exit, Logger, LogLevel, Random, Schema, Scope } from "effect"
import * as SimulateCommand from "../src/cli/SimulateCommand.js"
import * as ServiceController from "../src/controllers/ServiceController.js"
import { NodeApi } from "../src/kubernetes/NodeApi.js"
import { ServiceApi } from "../src/kubernetes/ServiceApi.js"
import * as Annotations from "../src/provider/loadbalancer/Annotations.js"
import { DEFAULT_CONCURRENT_SERVICE_SYNCS } from "../src/runtime/CcmSettings.js"
import * as CallCounts from "../src/simulation/cloudstack/CallCounts.js"
import { CloudStackSimulator } from "../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../src/simulation/cloudstack/DemoWorld.js"
import { networkKey } from "../src/simulation/cloudstack/Jobs.js"
import { World } from "../src/simulation/cloudstack/World.js"
import { advanceTo, runVirtual, untilIdle } from "../src/simulation/VirtualTime.js"
import type { BenchRow } from "./run.js"

const NODES = Number(process.env["BENCH_SCALE_NODES"] ?? "1000")
const SERVICES = Number(process.env["BENCH_SCALE_SERVICES"] ?? "300")
const NETWORKS = 3
const JOB_MS = 200
const BATCH = Math.max(1, Math.floor(NODES / 10))
const WORKERS = Number(process.env["BENCH_SCALE_WORKERS"] ?? String(DEFAULT_CONCURRENT_SERVICE_SYNCS))
/** Virtual quiet time after which the system counts as converged, and the longest a phase may take. */
const IDLE_MS = 60_000
const LIMIT_MS = 6 * 3_600_000
/** `--lb-resync-period` of the controller that measures drift repair. */
const RESYNC_MS = 600_000
/** Services drifted by hand in the drift phase (each of three kinds). */
const DRIFTED = Math.max(1, Math.floor(SERVICES / 10))
const INJECT_BEFORE_MS = 30_000

const networkName = (n: number) => `scale-${n + 1}`
const vmName = (i: number) => `scale-${i}`
const spareName = (i: number) => `spare-${i}`

/** The demo world plus 3 isolated networks holding the Nodes' VMs and as many spares (the replacements). */
const scaleWorld = (): World => {
  const base = Schema.encodeSync(World)(demoWorld)
  const vm = (name: string, i: number, spare: boolean) => {
    const net = i % NETWORKS
    const host = Math.floor(i / NETWORKS) + (spare ? 2000 : 10)
    return {
      name,
      zone: "zone1",
      owner: base.defaultAccount,
      serviceOffering: "Medium Instance",
      template: "Debian 12",
      nics: [{ network: networkName(net), ip: `10.${30 + net}.${Math.floor(host / 250)}.${(host % 250) + 2}` }]
    }
  }
  return Schema.decodeUnknownSync(World)({
    ...base,
    networks: [
      ...base.networks,
      ...Array.from({ length: NETWORKS }, (_, n) => ({
        name: networkName(n),
        zone: "zone1",
        offering: "DefaultIsolatedNetworkOfferingWithSourceNatService",
        owner: base.defaultAccount,
        cidr: `10.${30 + n}.0.0/16`
      }))
    ],
    vms: [
      ...(base.vms ?? []),
      ...Array.from({ length: NODES }, (_, i) => vm(vmName(i), i, false)),
      ...Array.from({ length: NODES }, (_, i) => vm(spareName(i), i, true))
    ],
    publicIps: [...(base.publicIps ?? []), { zone: "zone1", start: "198.18.0.10", count: SERVICES + 50 }]
  })
}

interface Queues {
  /** Busy time of the busiest network queue (jobs × duration). */
  readonly boundMs: number
  readonly jobs: number
}

const queuesSince = (since: number) =>
  Effect.map(Effect.flatMap(CloudStackSimulator, (s) => s.state), (state): Queues => {
    const perQueue = new Map<string, number>()
    let jobs = 0
    for (const job of state.jobs) {
      if (job.created < since) continue
      jobs++
      perQueue.set(job.queueKey, (perQueue.get(job.queueKey) ?? 0) + 1)
    }
    const networks = new Set(state.networks.filter((n) => n.name.startsWith("scale-")).map((n) => networkKey(n.uuid)))
    const busiest = Math.max(0, ...[...perQueue].filter(([k]) => networks.has(k)).map(([, n]) => n))
    return { boundMs: busiest * JOB_MS, jobs }
  })

const counters = Effect.flatMap(CloudStackSimulator, (s) => s.counters)
const totalCalls = Effect.map(counters, CallCounts.total)
const callsSince = (mark: ReadonlyMap<string, number>) => Effect.map(counters, (now) => CallCounts.since(mark, now))

const run = (workers: number) =>
  Effect.gen(function*() {
    const sim = yield* CloudStackSimulator
    const nodes = yield* NodeApi
    const services = yield* ServiceApi
    const world = yield* sim.state
    const vmId = new Map(world.vms.map((v) => [v.name, v.uuid]))
    const networkId = (n: number) => world.networks.find((x) => x.name === networkName(n))?.uuid ?? ""
    // Nodes as the node controller leaves them (providerID set); the LB side is what is measured.
    yield* Effect.forEach(
      Array.from({ length: NODES }, (_, i) => vmName(i)),
      (name) => nodes.create({ name, providerID: `external-cloudstack://${vmId.get(name) ?? ""}` }),
      { discard: true }
    )
    yield* sim.setFaults({ jobDuration: `${JOB_MS} millis` })
    const progress = totalCalls
    const start = (resyncPeriod: number) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const controller = yield* ServiceController.make({
          drainTimeout: 0,
          ...(workers > 0 ? { workers } : {}),
          resyncPeriod
        })
        yield* Effect.forkIn(controller.run, scope)
        return scope
      })
    const first = yield* start(0)

    // ---- converge from empty ----
    const t0 = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const mark0 = yield* counters
    yield* Effect.forEach(Array.from({ length: SERVICES }, (_, i) => i), (i) =>
      services.create({
        namespace: "default",
        name: `svc-${i}`,
        type: "LoadBalancer",
        annotations: { [Annotations.NETWORK_ID]: networkId(i % NETWORKS) },
        ports: [{ name: "http", port: 80 }, { name: "https", port: 443 }]
      }), { discard: true })
    // Converged when CloudStack hears nothing more for a minute: the time of the last call (the poll
    // that saw the last job done; the status is written at the same virtual instant).
    const createMs = yield* untilIdle(progress, IDLE_MS, LIMIT_MS)
    const ready = (yield* services.list).items.filter((s) => s.status.loadBalancer.ingress.length > 0).length
    if (ready < SERVICES) return yield* Effect.dieMessage(`only ${ready} of ${SERVICES} Services have an address`)
    const createQueues = yield* queuesSince(t0)
    const createCalls = yield* callsSince(mark0)
    const networkOfVm = new Map(world.vms.map((v) => [v.uuid, v.nics[0]?.networkUuid ?? ""]))
    /** How many of the Services' rules lack, or do not have exactly the VMs of the current Nodes on their network. */
    const rulesOff = Effect.gen(function*() {
      const current = (yield* nodes.list).items.map((n) => n.spec.providerID.replace("external-cloudstack://", ""))
      const wanted = new Map<string, string>()
      for (const net of new Set(networkOfVm.values())) {
        wanted.set(net, current.filter((id) => networkOfVm.get(id) === net).sort().join(","))
      }
      const rules = (yield* sim.state).lbRules.filter((r) => r.name.startsWith("a"))
      const exact = rules.filter((r) => [...r.members.keys()].sort().join(",") === wanted.get(r.networkUuid)).length
      return SERVICES * 2 - exact
    })
    const off = yield* rulesOff
    if (off > 0) return yield* Effect.dieMessage(`${off} of ${SERVICES * 2} rules without exactly the Nodes' VMs`)

    // ---- rolling replacement: every Node replaced, BATCH at a time (new ones join, old ones go) ----
    const t1 = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const mark1 = yield* counters
    let replaceMs = 0
    for (let start = 0; start < NODES; start += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, NODES - start) }, (_, k) => start + k)
      yield* Effect.forEach(batch, (i) =>
        nodes.create({ name: spareName(i), providerID: `external-cloudstack://${vmId.get(spareName(i)) ?? ""}` }), {
        discard: true
      })
      for (const i of batch) {
        const node = yield* nodes.get(vmName(i))
        if (node._tag === "Some") {
          yield* nodes.delete(vmName(i), node.value.metadata.uid)
        }
      }
      replaceMs += yield* untilIdle(progress, IDLE_MS, LIMIT_MS)
      const wrong = yield* rulesOff
      if (wrong > 0) {
        return yield* Effect.dieMessage(`batch at ${start}: ${wrong} rules without exactly the current Nodes`)
      }
    }
    const replaceQueues = yield* queuesSince(t1)
    const replaceCalls = yield* callsSince(mark1)

    // ---- restart with drift repair on: a new process confirms every LB, then two resync periods ----
    yield* Scope.close(first, Exit.void)
    const mark2 = yield* counters
    const restarted = yield* Effect.clockWith((c) =>
      c.currentTimeMillis
    )
    const second = yield* start(RESYNC_MS)
    const restartMs = yield* untilIdle(progress, IDLE_MS, RESYNC_MS - IDLE_MS)
    const restartCalls = yield* callsSince(mark2)
    // period 1: nothing drifted (the pass at +RESYNC_MS, then its member audits), up to the injection
    yield* advanceTo(restarted + RESYNC_MS - 1_000)
    const mark3 = yield* counters
    yield* advanceTo(restarted + 2 * RESYNC_MS - INJECT_BEFORE_MS)
    const cleanCalls = yield* callsSince(mark3)
    // by hand, seconds before the second pass (as the account's user, straight into the simulator; the
    // jobs finish before the pass): rules deleted, firewall rules deleted, a member removed
    const before = yield* sim.state
    const ours = before.lbRules.filter((r) => r.name.startsWith("a")).sort((a, b) => (a.uuid < b.uuid ? -1 : 1))
    const stride = Math.max(1, Math.floor(ours.length / (3 * DRIFTED)))
    const picks = ours.filter((_, i) => i % stride === 0).slice(0, 3 * DRIFTED)
    for (const [i, rule] of picks.entries()) {
      const fw = before.firewallRules.find((f) => f.ipUuid === rule.ipUuid && f.startport === rule.publicPort)
      const [member] = [...rule.members.keys()]
      const request = i % 3 === 0 ?
        { command: "deleteLoadBalancerRule", params: { id: rule.uuid } }
        : i % 3 === 1 ?
        { command: "deleteFirewallRule", params: { id: fw?.uuid ?? "" } }
        : { command: "removeFromLoadBalancerRule", params: { id: rule.uuid, virtualmachineids: member ?? "" } }
      const answer = yield* sim.handle({ ...request, apiKey: undefined })
      if (answer.status !== 200) return yield* Effect.dieMessage(`${request.command} by hand: ${answer.status}`)
    }
    const mark4 = yield* counters
    // the next pass, its period's member audits (the last at the period's end) and their repairs
    yield* advanceTo(restarted + 3 * RESYNC_MS + INJECT_BEFORE_MS)
    const repairCalls = yield* callsSince(mark4)
    const after = yield* sim.state
    const key = (r: { readonly ipUuid: string; readonly publicPort: number }) => `${r.ipUuid}:${r.publicPort}`
    const rulesNow = new Map(after.lbRules.filter((r) => r.name.startsWith("a")).map((r) => [key(r), r]))
    const problems = ours.flatMap((r) => {
      const now = rulesNow.get(key(r))
      const where = `${r.name} (pick ${picks.indexOf(r)})`
      if (now === undefined) return [`${where}: no rule`]
      if (now.members.size !== r.members.size) return [`${where}: ${now.members.size} of ${r.members.size} members`]
      if (!after.firewallRules.some((f) => f.ipUuid === r.ipUuid && f.startport === r.publicPort)) {
        return [`${where}: no firewall rule`]
      }
      return []
    })
    if (problems.length > 0 || rulesNow.size !== ours.length) {
      return yield* Effect.dieMessage(
        `drift not repaired within a period (${rulesNow.size} rules for ${ours.length}): ${problems.join("; ")}`
      )
    }
    yield* Scope.close(second, Exit.void)
    return {
      createMs,
      createQueues,
      createCalls,
      replaceMs,
      replaceQueues,
      replaceCalls,
      restartMs,
      restartCalls,
      cleanCalls,
      repairCalls
    }
  }).pipe(Effect.scoped)

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const world = scaleWorld()
  const env = SimulateCommand.layer({ seed: 1, providerName: "external-cloudstack", world })
  const measure = async (workers: number) => {
    const exit = await runVirtual(
      run(workers).pipe(
        Logger.withMinimumLogLevel(LogLevel.Error),
        Effect.provide(env),
        Effect.withRandom(Random.make("scale-bench"))
      )
    )
    if (Exit.isFailure(exit)) throw new Error(`scale bench failed: ${String(exit.cause)}`)
    return exit.value
  }
  const r = await measure(WORKERS)
  const rows: Array<BenchRow> = []
  const bench =
    `scale: ${NODES} nodes, ${SERVICES} Services x 2 ports, ${NETWORKS} networks, ${JOB_MS} ms jobs, ${WORKERS} workers`
  rows.push({
    bench,
    metric: "converge from empty (virtual s)",
    value: Math.round(r.createMs / 100) / 10,
    unit: "s",
    note: `bound ${r.createQueues.boundMs / 1000} s`
  })
  rows.push({
    bench,
    metric: "converge from empty / per-network queue bound",
    value: Number((r.createMs / r.createQueues.boundMs).toFixed(3)),
    unit: "x",
    note: "target <= 1.1"
  })
  rows.push({
    bench,
    metric: "converge from empty: calls",
    value: CallCounts.total(r.createCalls),
    unit: "calls",
    note: r.createCalls.map(([k, n]) => `${k} ${n}`).join(", ")
  })
  rows.push({
    bench,
    metric: `rolling replacement, ${BATCH} at a time (virtual s)`,
    value: Math.round(r.replaceMs / 100) / 10,
    unit: "s",
    note: `bound ${r.replaceQueues.boundMs / 1000} s`
  })
  rows.push({
    bench,
    metric: "rolling replacement / bound",
    value: Number((r.replaceMs / r.replaceQueues.boundMs).toFixed(3)),
    unit: "x",
    note: "target <= 1.1"
  })
  rows.push({
    bench,
    metric: "rolling replacement: calls",
    value: CallCounts.total(r.replaceCalls),
    unit: "calls",
    note: r.replaceCalls.map(([k, n]) => `${k} ${n}`).join(", ")
  })
  const sum = CallCounts.total
  const mutating = (calls: ReadonlyArray<readonly [string, number]>) => CallCounts.total(calls, CallCounts.isMutation)
  const notes = (calls: ReadonlyArray<readonly [string, number]>) => calls.map(([k, n]) => `${k} ${n}`).join(", ")
  rows.push({
    bench,
    metric: "restart: every LB confirmed (virtual s)",
    value: Math.round(r.restartMs / 100) / 10,
    unit: "s",
    note: `${mutating(r.restartCalls)} mutating calls`
  })
  rows.push({ bench, metric: "restart: calls", value: sum(r.restartCalls), unit: "calls", note: notes(r.restartCalls) })
  rows.push({
    bench,
    metric: `drift pass + member audits, nothing drifted (${(RESYNC_MS - INJECT_BEFORE_MS) / 1000} s of the ${
      RESYNC_MS / 1000
    } s period): calls`,
    value: sum(r.cleanCalls),
    unit: "calls",
    note: `${mutating(r.cleanCalls)} mutating; ${notes(r.cleanCalls)}`
  })
  rows.push({
    bench,
    metric: `drift repair of ${DRIFTED} rules + ${DRIFTED} firewall rules + ${DRIFTED} members removed by hand: calls`,
    value: sum(r.repairCalls),
    unit: "calls",
    note: `${mutating(r.repairCalls)} mutating; ${notes(r.repairCalls)}; injected ${
      INJECT_BEFORE_MS / 1000
    } s before a pass, all repaired by that pass and its period's member audits`
  })
  return rows
}
