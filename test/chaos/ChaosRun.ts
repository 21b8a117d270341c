/**
 * One chaos run, deterministic per seed: the simulator (chaos world, foreign resources), FakeKubernetes
 * with kubelet-registered Nodes, two CCM processes (`RunCommand.programWith`, the real composition:
 * leader election, the node, node-lifecycle and service controllers) on the TestClock; then minutes of
 * churn (ChaosChurn), faults on every link (ChaosLinks) and in the cloud (API errors, failing, slow and
 * stuck jobs, API-down windows), processes killed (hard or by SIGTERM), paused and restarted with fresh
 * memory; then the faults stop, time runs on until everything settled, and the invariants are checked.
 */
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  LogLevel,
  Option,
  Random,
  Redacted,
  Ref
} from "effect"
import { inspect } from "node:util"
import { programWith } from "../../src/cli/RunCommand.js"
import { parse } from "../../src/cli/RunFlags.js"
import { CloudStackTransport } from "../../src/cloudstack/CloudStackTransport.js"
import { EndpointSliceApi } from "../../src/kubernetes/EndpointSliceApi.js"
import { EventApi } from "../../src/kubernetes/EventApi.js"
import { LeaseApi } from "../../src/kubernetes/LeaseApi.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"
import * as CallCounts from "../../src/simulation/cloudstack/CallCounts.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { simulatedCloudConfig } from "../../src/simulation/SimulatedCloudConfig.js"
import { changeService, type Churn, createService, dice, kubelets, nodeEvent, register } from "./ChaosChurn.js"
import { eligible, vmGone, vmOfNode } from "./ChaosExpect.js"
import { check, type NodeDeletion, type Violation } from "./ChaosInvariants.js"
import * as Links from "./ChaosLinks.js"
import { CCM_ACCOUNT, CCM_KEYS, chaosWorld, CLUSTER, CLUSTER_NETWORKS, createForeign } from "./ChaosWorld.js"
import { runVirtual } from "./VirtualTime.js"

export interface ChaosOptions {
  readonly seed: number
  /** Live Services the churn keeps around (default 200). */
  readonly services?: number | undefined
  /** Minutes of churn and faults (default 12). */
  readonly churnMinutes?: number | undefined
  /** Minutes after the churn for everything to settle, the steady window included (default 40). */
  readonly settleMinutes?: number | undefined
  /** The last minutes of the settling in which no CloudStack mutation may happen (default 10). */
  readonly steadyMinutes?: number | undefined
  /** The CCM's own logs at this level and above (default none). */
  readonly logLevel?: LogLevel.LogLevel | undefined
  /** Addresses, ids or names whose CloudStack calls the result lists (`--trace`, to debug a replay). */
  readonly trace?: ReadonlyArray<string> | undefined
  /** Progress lines (phase changes, process events), for a replay with -v. */
  readonly progress?: ((line: string) => Effect.Effect<void>) | undefined
}

export interface ChaosStats {
  readonly calls: number
  readonly mutations: number
  readonly actions: number
  readonly refused: number
  readonly kills: number
  readonly pauses: number
  readonly exits: number
  readonly leaderChanges: number
  readonly apiDownWindows: number
  readonly liveServices: number
  readonly nodes: number
}

export interface ChaosResult {
  readonly seed: number
  readonly violations: ReadonlyArray<Violation>
  readonly stats: ChaosStats
  /** A digest of the final world and the call log: equal for equal seeds. */
  readonly fingerprint: string
  /** The calls that mention a traced string (and the ids of IPs with a traced address). */
  readonly trace: ReadonlyArray<string>
}

const LEASE = "cloud-controller-manager"
const TICK = Duration.seconds(1)
const SETTLE_TICK = Duration.seconds(5)

/** The CCM's calls that fail at intensity 1 (~6.5%), every class (codes as the real server, transport failures, timeouts). */
const churnFaults = (intensity: number): Links.LinkFaults => ({
  apiErrors: [
    { code: 530, rate: 0.015 * intensity, commands: "all" },
    { code: 534, rate: 0.01 * intensity, commands: "all" },
    { code: 503, rate: 0.01 * intensity, commands: "all" },
    { code: 431, rate: 0.01 * intensity, commands: "mutations" },
    { code: 533, rate: 0.05 * intensity, commands: ["associateIpAddress"] },
    {
      code: 537,
      rate: 0.03 * intensity,
      commands: ["createLoadBalancerRule", "createFirewallRule", "createNetworkACL"]
    }
  ],
  connect: 0.01 * intensity,
  resetAfter: 0.01 * intensity,
  timeoutBefore: 0.005 * intensity,
  timeoutAfter: 0.005 * intensity,
  kubeUnavailable: 0.01 * intensity,
  kubeLostWrite: 0.005 * intensity
})

const hash = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h.toString(16).padStart(8, "0")
}

interface Process {
  readonly link: Links.ProcessLink
  readonly fiber: Fiber.RuntimeFiber<unknown>
}

interface Slot {
  readonly name: string
  generation: number
  process: Process | undefined
  restartAt: number
}

const providers = new Map(CLUSTER_NETWORKS.map((n) => [n.name, { udp: n.udp, healthChecks: n.healthChecks }] as const))

const run = (options: ChaosOptions) =>
  Effect.gen(function*() {
    const seed = options.seed
    const targetServices = options.services ?? 200
    const churnMs = (options.churnMinutes ?? 12) * 60_000
    const settleMs = (options.settleMinutes ?? 40) * 60_000
    const steadyMs = Math.min((options.steadyMinutes ?? 10) * 60_000, settleMs / 2)
    const d = dice(Random.make(`chaos-generator-${seed}`))
    const say = (line: string) =>
      options.progress === undefined
        ? Effect.void
        : Effect.flatMap(
          Clock.currentTimeMillis,
          (now) => options.progress?.(`[${(now / 1000).toFixed(0).padStart(5)}s] ${line}`) ?? Effect.void
        )
    const scope = yield* Effect.scope

    // ---- the worlds ----
    const kube = yield* FakeKubernetes.make({ historyLimit: 2000 })
    const kubeContext = Context.make(NodeApi, kube.nodeApi).pipe(
      Context.add(ServiceApi, kube.serviceApi),
      Context.add(EndpointSliceApi, kube.endpointSliceApi),
      Context.add(EventApi, kube.eventApi),
      Context.add(LeaseApi, kube.leaseApi)
    )
    const sim = yield* Simulator.make(chaosWorld, { seed, callLogLimit: 1_000_000 })
    const foreign = yield* createForeign(sim)
    const initial = yield* sim.state
    const networkIds = new Map(initial.networks.map((n) => [n.name, n.uuid] as const))
    const churn: Churn = {
      dice: d,
      sim,
      fake: kube.fake,
      services: kube.serviceApi,
      nodes: kube.nodeApi,
      networkIds,
      foreign,
      removedByCluster: new Set(),
      registered: new Map(),
      joining: [],
      counter: { joins: 0, actions: 0, failures: 0 }
    }
    for (const vm of initial.vms.filter((v) => /^(vr|ns|tier1|tier2)-\d+$/.test(v.name))) yield* register(churn, vm)
    const before = yield* sim.state

    // ---- the CCM processes ----
    const network: Links.Network = {
      faults: yield* Ref.make(Links.noFaults),
      random: Random.make(`chaos-network-${seed}`),
      requestTimeout: Duration.seconds(30)
    }
    const nodeDeletions: Array<NodeDeletion> = []
    const onNodeDelete = (name: string, uid: string) =>
      Effect.gen(function*() {
        const node = (yield* kube.fake.nodes).find((n) => n.metadata.name === name && n.metadata.uid === uid)
        if (node === undefined) return
        const state = yield* sim.state
        const vm = vmOfNode(state, node)
        if (vm !== undefined && !vmGone(vm)) {
          nodeDeletions.push({ node: name, vm: vm.name, vmState: vm.state, at: state.now })
        }
      })
    const workers = yield* d.int(2, 6)
    const resync = yield* d.pick(["2m", "5m", "10m"])
    const parsed = parse([
      "--cloud-config=/chaos/cloud-config",
      "--secure-port=0",
      `--cluster-name=${CLUSTER}`,
      "--controllers=*",
      `--concurrent-service-syncs=${workers}`,
      `--lb-resync-period=${resync}`
    ])
    if (parsed._tag === "Left") return yield* Effect.dieMessage(parsed.left.message)
    const config = simulatedCloudConfig({
      apiKey: Redacted.make(CCM_KEYS.apiKey),
      secretKey: Redacted.make(CCM_KEYS.secretKey),
      requestsPerSecond: 20,
      source: "chaos"
    })
    const transport = Simulator.transportFrom(sim, CCM_KEYS.apiKey)
    const start = (slot: Slot) =>
      Effect.gen(function*() {
        slot.generation++
        const link = yield* Links.makeProcessLink(`${slot.name}${slot.generation}`)
        const program = programWith(parsed.right.flags, Option.some(config), {
          kubernetes: Links.kubernetes(kubeContext, link, network, onNodeDelete),
          cloudStackTransport: Layer.succeed(CloudStackTransport, Links.cloudStackTransport(transport, link, network))
        })
        const fiber = yield* Effect.forkIn(Effect.exit(program), scope)
        slot.process = { link, fiber }
        started.push(slot.process)
      })
    const started: Array<Process> = []
    const slots: Array<Slot> = [{ name: "a", generation: 0, process: undefined, restartAt: 0 }, {
      name: "b",
      generation: 0,
      process: undefined,
      restartAt: 0
    }]
    const terminating: Array<{ readonly process: Process; readonly killAt: number }> = []
    const stats = { kills: 0, pauses: 0, exits: 0, leaderChanges: 0, apiDownWindows: 0 }
    let holder: string | undefined

    const leaderSlot = Effect.gen(function*() {
      const lease = (yield* kube.fake.leases).find((l) => l.name === LEASE)
      const id = lease?.spec.holderIdentity
      if (id === undefined) return undefined
      for (const slot of slots) {
        if (slot.process !== undefined && Option.contains(yield* Ref.get(slot.process.link.identity), id)) return slot
      }
      return undefined
    })

    /** Restarts exited processes (kubelet restarts the container), ends graceful shutdowns that overran. */
    const supervise = (now: number) =>
      Effect.gen(function*() {
        for (const slot of slots) {
          if (slot.process !== undefined && slot.process.fiber.unsafePoll() !== null) {
            stats.exits++
            yield* say(`process ${slot.name}${slot.generation} exited: ${String(slot.process.fiber.unsafePoll())}`)
            slot.process = undefined
            slot.restartAt = now + 10_000
          }
          if (slot.process === undefined && now >= slot.restartAt) yield* start(slot)
        }
        for (const t of [...terminating]) {
          if (now < t.killAt && t.process.fiber.unsafePoll() === null) continue
          yield* Ref.set(t.process.link.link, Links.Link.Dead())
          terminating.splice(terminating.indexOf(t), 1)
        }
        const lease = (yield* kube.fake.leases).find((l) => l.name === LEASE)
        const now2 = lease?.spec.holderIdentity
        if (now2 !== undefined && now2 !== holder) {
          if (holder !== undefined) stats.leaderChanges++
          yield* say(`leader: ${now2}`)
          holder = now2
        }
      })

    /** One process event: kill (hard or SIGTERM) or pause the leader, or kill the other one. */
    const processEvent = (now: number) =>
      Effect.gen(function*() {
        const leader = yield* leaderSlot
        const roll = yield* d.int(0, 99)
        const other = slots.find((s) => s !== leader && s.process !== undefined)
        const target = roll < 70 ? leader : other
        if (target === undefined || target.process === undefined) return
        const process = target.process
        if (roll >= 40 && roll < 55) {
          // SIGTERM: the process drains and releases the Lease; SIGKILL after 30 s.
          yield* Fiber.interruptFork(process.fiber)
          terminating.push({ process, killAt: now + 30_000 })
        } else if (roll < 70 && roll >= 55) {
          stats.pauses++
          yield* say(`process ${target.name}${target.generation} paused${target === leader ? " (leader)" : ""}`)
          return yield* Ref.set(process.link.link, Links.Link.Paused({ until: now + (yield* d.int(3, 40)) * 1000 }))
        } else {
          // SIGKILL: nothing it still runs reaches the world.
          yield* Ref.set(process.link.link, Links.Link.Dead())
          yield* Fiber.interruptFork(process.fiber)
        }
        stats.kills++
        yield* say(
          `process ${target.name}${target.generation} ${roll >= 40 && roll < 55 ? "SIGTERM" : "SIGKILL"}${
            target === leader ? " (leader)" : ""
          }`
        )
        target.process = undefined
        target.restartAt = now + (yield* d.int(5, 30)) * 1000
      })

    // ---- churn ----
    const names = Array.from({ length: Math.ceil(targetServices * 1.3) }, (_, i) => `svc-${String(i).padStart(3, "0")}`)
    // 1.5 on average: ~10% of reads and ~11% of mutations fail (plus 533/537 on their commands and failing jobs)
    const intensity = 1.2 + (yield* d.int(0, 60)) / 100
    const windows: Array<{ from: number; until: number; mode: "unavailable" | "unreachable" }> = []
    const t0 = yield* Clock.currentTimeMillis
    for (let i = yield* d.int(0, 3); i > 0; i--) {
      const from = t0 + 200_000 + (yield* d.int(0, Math.max(0, churnMs - 320_000)))
      windows.push({
        from,
        until: from + (yield* d.int(20, 120)) * 1000,
        mode: (yield* d.chance(0.5)) ? "unavailable" : "unreachable"
      })
    }
    stats.apiDownWindows = windows.length
    yield* Ref.set(network.faults, churnFaults(intensity))
    yield* sim.setFaults({
      jobDuration: Duration.millis(yield* d.int(0, 1500)),
      jobFailureRate: 0.03 * intensity,
      slowJobRate: 0.01 * intensity,
      slowJobDuration: Duration.minutes(6),
      stuckJobRate: 0.003 * intensity,
      jobCancelThreshold: Duration.minutes(10)
    })
    const kept = new Map<string, Set<string>>()
    const recordKept = Effect.gen(function*() {
      for (const s of yield* kube.fake.services) {
        if (s.metadata.annotations[Annotations.KEEP_IP] !== "true") continue
        const set = kept.get(s.metadata.uid) ?? new Set<string>()
        for (const k of [Annotations.IP_ID, Annotations.IP_ALLOCATING]) {
          const v = s.metadata.annotations[k]
          if (v !== undefined && v !== "") set.add(v)
        }
        for (const i of s.status.loadBalancer.ingress) if (i.ip !== undefined && i.ip !== null) set.add(i.ip)
        kept.set(s.metadata.uid, set)
      }
    })

    let window: Option.Option<(typeof windows)[number]> = Option.none()
    for (let t = 0; t < churnMs; t += Duration.toMillis(TICK)) {
      const now = yield* Clock.currentTimeMillis
      yield* supervise(now)
      const due = Option.fromNullable(windows.find((w) => now >= w.from && now < w.until))
      if (Option.getOrUndefined(due) !== Option.getOrUndefined(window)) {
        window = due
        yield* sim.setFaults({ apiDown: due })
      }
      if (t > 30_000 && (yield* d.chance(1 / 100))) yield* processEvent(now)
      if (yield* d.chance(1 / 240)) yield* ((yield* d.chance(0.5)) ? kube.fake.breakWatches : kube.fake.expireWatches)
      if (yield* d.chance(1 / 20)) yield* nodeEvent(churn)
      yield* kubelets(churn)
      const live = yield* kube.fake.services
      const ramp = t < 180_000
      const ops = ramp ? Math.ceil(targetServices / 180) : (yield* d.int(0, 2))
      for (let i = 0; i < ops; i++) {
        const grow = live.length < targetServices * (ramp ? 1 : 0.9) || (!ramp && (yield* d.chance(0.25)))
        if (grow) yield* createService(churn, yield* d.pick(names))
        else if (live.length > 0) yield* changeService(churn, yield* d.pick(live))
      }
      yield* recordKept
      yield* Effect.sleep(TICK)
    }

    // ---- settle: faults off, every process up, time runs on ----
    yield* say(`churn over: ${(yield* kube.fake.services).length} Services; faults off, settling`)
    yield* Ref.set(network.faults, Links.noFaults)
    yield* sim.setFaults({ jobFailureRate: 0, slowJobRate: 0, stuckJobRate: 0, apiDown: Option.none() })
    for (const slot of slots) {
      if (slot.process !== undefined) yield* Ref.set(slot.process.link.link, Links.Link.Up())
      slot.restartAt = Math.min(slot.restartAt, yield* Clock.currentTimeMillis)
    }
    // Slow and stuck jobs of the churn hold their queue (a network's jobs run one at a time, as
    // CloudStack's): every later job waits behind them. The settling counts from when the cloud has
    // worked that backlog off, or the CCM would be judged on the cloud's queue (seed 54: 30 minutes).
    const churnEnd = yield* Clock.currentTimeMillis
    const backlog = Math.max(
      0,
      ...(yield* sim.state).jobs.filter((j) => j.status === 0).map((j) => j.finishAt - churnEnd)
    )
    const settleFor = settleMs + backlog
    if (backlog > 0) yield* say(`the cloud's job queues are busy for ${(backlog / 1000).toFixed(0)} s more`)
    let steadyFrom = 0
    for (let t = 0; t < settleFor; t += Duration.toMillis(SETTLE_TICK)) {
      const now = yield* Clock.currentTimeMillis
      yield* supervise(now)
      yield* kubelets(churn)
      yield* recordKept
      if (t < settleFor - steadyMs) steadyFrom = now + Duration.toMillis(SETTLE_TICK)
      yield* Effect.sleep(SETTLE_TICK)
    }

    // ---- the verdict ----
    yield* say("settled; checking")
    const after = yield* sim.state
    const calls = yield* sim.callLog
    const services = yield* kube.fake.services
    const nodes = yield* kube.fake.nodes
    const violations = check({
      cluster: CLUSTER,
      ccmAccount: CCM_ACCOUNT,
      providers,
      before,
      after,
      services,
      nodes,
      events: yield* kube.fake.events,
      kept,
      nodeDeletions,
      registered: [...churn.registered].filter(([node]) => !churn.removedByCluster.has(node)).map(([node, vm]) => ({
        node,
        vm
      })),
      steadyCalls: calls.filter((c) => c.at >= steadyFrom)
    })
    // Every process ever started ends (cut off first, so their finalizers touch nothing).
    for (const p of started) yield* Ref.set(p.link.link, Links.Link.Dead())
    yield* Fiber.interruptAll(started.map((p) => p.fiber))
    const fingerprint = hash(JSON.stringify([
      calls.length,
      after.lbRules.map((r) => `${r.name}@${r.ipUuid}:${[...r.members.keys()].sort().join(",")}`).sort(),
      after.publicIps.filter((i) => i.state !== "Free").map((i) => i.address).sort(),
      services.map((s) => `${s.metadata.namespace}/${s.metadata.name}=${JSON.stringify(s.status.loadBalancer.ingress)}`)
        .sort()
    ]))
    const traced = new Set(options.trace ?? [])
    for (const ip of after.publicIps) if (traced.has(ip.address)) traced.add(ip.uuid)
    const mentions = (v: string) => [...traced].some((t) => v.includes(t))
    // What a traced call created (a rule, a firewall rule, an ACL item: the job of the same command and
    // moment names it) is traced too, so that its later update or delete by id shows.
    for (const c of calls) {
      if (c.status !== 200 || !c.command.startsWith("create") || !Object.values(c.params).some(mentions)) continue
      const job = after.jobs.find((j) => j.command === c.command && j.created === c.at)
      if (job?.instanceUuid !== undefined) traced.add(job.instanceUuid)
    }
    const events = yield* kube.fake.events
    const trace = traced.size === 0 ? [] : [
      ...calls.filter((c) => Object.values(c.params).some(mentions))
        .map((c) => `${(c.at / 1000).toFixed(1).padStart(7)}s ${c.status} ${c.command} ${JSON.stringify(c.params)}`),
      ...after.jobs.filter((j) => j.instanceUuid !== undefined && traced.has(j.instanceUuid)).map((j) =>
        `job ${(j.created / 1000).toFixed(1)}s..${((j.completed ?? j.finishAt) / 1000).toFixed(1)}s ${j.command} ${
          j.instanceUuid ?? ""
        } status ${j.status} code ${j.resultCode}`
      ),
      ...services.filter((s) => mentions(JSON.stringify(s))).map((s) => `service ${JSON.stringify(s)}`),
      // How busy each job queue was (CloudStack runs a network's jobs one at a time): jobs, busy
      // seconds, when its last job finished.
      ...[...new Set(after.jobs.map((j) => j.queueKey))].map((q) => {
        const jobs = after.jobs.filter((j) => j.queueKey === q).sort((a, b) => a.finishAt - b.finishAt)
        let busy = 0
        let until = 0
        for (const j of jobs) {
          busy += j.finishAt - Math.max(j.created, until)
          until = j.finishAt
        }
        return `queue ${q}: ${jobs.length} jobs, ${(busy / 1000).toFixed(0)} s busy, last done at ${
          (until / 1000).toFixed(0)
        } s`
      }),
      // Where the nodes are (what a Service's network and members are judged by).
      ...nodes.map((n) => {
        const vm = vmOfNode(after, n)
        const net = after.networks.find((x) => x.uuid === vm?.nics[0]?.networkUuid)?.name ?? "-"
        return `node ${n.metadata.name} ${eligible(n) ? "eligible" : "not eligible"} vm ${vm?.name ?? "-"} ${
          vm?.state ?? ""
        } on ${net}`
      }),
      ...events.filter((e) => mentions(`${e.involvedObject.namespace ?? ""}/${e.involvedObject.name}`))
        .map((e) =>
          `event ${e.firstTimestamp ?? ""}..${e.lastTimestamp ?? ""} x${e.count} ${e.type} ${e.reason}: ${e.message}`
        )
    ]
    return {
      seed,
      violations,
      fingerprint,
      trace,
      stats: {
        calls: calls.length,
        mutations: calls.filter((c) => CallCounts.isMutation(c.command)).length,
        actions: churn.counter.actions,
        refused: churn.counter.failures,
        ...stats,
        liveServices: services.filter((s) => s.spec.type === "LoadBalancer").length,
        nodes: nodes.length
      }
    } satisfies ChaosResult
  })

const crashed = (seed: number, why: string): ChaosResult => ({
  seed,
  violations: [{ invariant: "converged", message: `the harness crashed: ${why}` }],
  fingerprint: "",
  trace: [],
  stats: {
    calls: 0,
    mutations: 0,
    actions: 0,
    refused: 0,
    kills: 0,
    pauses: 0,
    exits: 0,
    leaderChanges: 0,
    apiDownWindows: 0,
    liveServices: 0,
    nodes: 0
  }
})

/**
 * Runs one seed on virtual time (VirtualTime) with seeded Randoms: the same seed gives
 * the same run. Never throws: a crash or a deadlock is reported as a violation too.
 */
export const runSeed = async (options: ChaosOptions): Promise<ChaosResult> => {
  const program = run(options).pipe(
    Effect.scoped,
    Effect.withRandom(Random.make(`chaos-ccm-${options.seed}`)),
    Logger.withMinimumLogLevel(options.logLevel ?? LogLevel.None),
    // Errors and defects in log messages shown with their stack (a replay is for debugging).
    Effect.provide(
      Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ annotations, cause, date, logLevel, message }) => {
          const parts = (Array.isArray(message) ? message : [message]).map((
            m
          ) => (m instanceof Error ? m.stack ?? m.message : typeof m === "string" ? m : inspect(m, { depth: 4 })))
          const notes = [...annotations].map(([k, v]) => `${k}=${typeof v === "string" ? v : inspect(v, { depth: 2 })}`)
            .join(" ")
          const why = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
          process.stderr.write(`${date.toISOString()} ${logLevel.label} ${parts.join(" ")} ${notes}${why}\n`)
        })
      )
    )
  )
  try {
    const exit = await runVirtual(program)
    return Exit.isSuccess(exit) ? exit.value : crashed(options.seed, Cause.pretty(exit.cause))
  } catch (error) {
    return crashed(options.seed, String(error))
  }
}
