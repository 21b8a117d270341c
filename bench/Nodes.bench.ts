/**
 * Node controllers at scale, on the in-memory simulator + FakeKubernetes (real clock): CloudStack
 * calls and wall time to initialise 1,000 Nodes that join together, and CloudStack calls per
 * periodic address-sync round. Baseline: the Go CCM (upstream v1.2.0) makes about 8
 * listVirtualMachines calls per Node for InstanceMetadata (reference upstream-ccm 2.2) and one
 * lookup per Node per address-sync round (ccm-framework A1); its figures are computed, not run.
 */
import { Effect, Logger, LogLevel, Schedule } from "effect"
import * as SimulateCommand from "../src/cli/SimulateCommand.js"
import * as NodeController from "../src/controllers/NodeController.js"
import { TAINT_UNINITIALIZED } from "../src/controllers/NodePlan.js"
import { NodeApi } from "../src/kubernetes/NodeApi.js"
import { CloudStackSimulator } from "../src/simulation/cloudstack/CloudStackSimulator.js"
import * as DemoCluster from "../src/simulation/DemoCluster.js"
import * as FakeKubernetes from "../src/simulation/FakeKubernetes.js"
import type { BenchRow } from "./run.js"

const NODES = Number(process.env["BENCH_NODES"] ?? "1000")
const GO_CALLS_PER_NODE_INIT = 8
const GO_CALLS_PER_NODE_SYNC = 1

const calls = Effect.flatMap(CloudStackSimulator, (s) => s.counters).pipe(
  Effect.map((c) => [...c.values()].reduce((a, b) => a + b, 0))
)

const run = Effect.gen(function*() {
  const api = yield* NodeApi
  const fake = yield* FakeKubernetes.FakeKubernetes
  const taints = [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }]
  const controller = yield* NodeController.make({ workers: 4, statusUpdateFrequency: "1 hour" })
  const before = yield* calls
  const start = performance.now()
  yield* Effect.forEach(
    Array.from({ length: NODES }, (_, i) => `big-${i + 1}`),
    (name) => api.create({ name, taints }),
    { concurrency: 64, discard: true }
  )
  yield* controller.run
  yield* fake.nodes.pipe(
    Effect.map((ns) => ns.every((n) => !n.spec.taints.some((t) => t.key === TAINT_UNINITIALIZED))),
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (done) => done })
  )
  const initMs = performance.now() - start
  const initCalls = (yield* calls) - before
  const beforeSync = yield* calls
  const syncStart = performance.now()
  yield* controller.syncAddresses
  const syncMs = performance.now() - syncStart
  const syncCalls = (yield* calls) - beforeSync
  return { initMs, initCalls, syncCalls, syncMs }
}).pipe(
  Effect.scoped,
  Logger.withMinimumLogLevel(LogLevel.Warning),
  Effect.provide(
    SimulateCommand.layer({ seed: 1, providerName: "external-cloudstack", world: DemoCluster.scaledWorld(NODES) })
  )
)

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const r = await Effect.runPromise(run)
  const vms = NODES + 14 // the demo world's own VMs are listed too
  const pages = Math.ceil(vms / 500)
  return [
    {
      bench: "nodes",
      metric: `init ${NODES} nodes: CloudStack calls`,
      value: r.initCalls,
      unit: "calls",
      note: `Go CCM ~${GO_CALLS_PER_NODE_INIT * NODES}`
    },
    {
      bench: "nodes",
      metric: `init ${NODES} nodes: Go CCM calls / ours`,
      value: Math.round((GO_CALLS_PER_NODE_INIT * NODES) / Math.max(1, r.initCalls)),
      unit: "x"
    },
    {
      bench: "nodes",
      metric: `init ${NODES} nodes: wall time`,
      value: Math.round(r.initMs),
      unit: "ms",
      note: "in-memory cloud and API server, 4 workers"
    },
    {
      bench: "nodes",
      metric: "address sync round: CloudStack calls",
      value: r.syncCalls,
      unit: "calls",
      note: `target ceil(${vms} VMs/500) = ${pages}; Go CCM ~${GO_CALLS_PER_NODE_SYNC * NODES}`
    },
    { bench: "nodes", metric: "address sync round: wall time", value: Math.round(r.syncMs), unit: "ms" }
  ]
}
