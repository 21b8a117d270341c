/**
 * Informer memory and CPU for 5,000 Nodes and 2,000 Services: the cost the CCM pays to cache a
 * large cluster. Each measurement runs in its own child process so RSS is the whole process (the
 * target is the Go image's 120 MiB limit). Baseline in the same run: an idle child that loaded the
 * same modules. Against FakeKubernetes the store itself lives in the child too, so its RSS is also
 * reported before the informers start; against the real kube-apiserver (when the binary is built,
 * or KUBE_BENCH_KUBECONFIG points at a server) the child holds nothing but the informers.
 */
import { Effect, ManagedRuntime, Stream } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as Informer from "../src/kubernetes/Informer.js"
import * as KubernetesLive from "../src/kubernetes/KubernetesLive.js"
import * as NodeApi from "../src/kubernetes/NodeApi.js"
import * as ServiceApi from "../src/kubernetes/ServiceApi.js"
import * as FakeKubernetes from "../src/simulation/FakeKubernetes.js"
import type { BenchRow } from "./run.js"

const NODES = Number(process.env["BENCH_NODES"] ?? "5000")
const SERVICES = Number(process.env["BENCH_SERVICES"] ?? "2000")
const CHILD = "INFORMER_BENCH_CHILD"
const MiB = 1024 * 1024

interface ChildReport {
  readonly rssBeforeMiB: number
  readonly rssAfterSyncMiB: number
  readonly rssMiB: number
  readonly heapUsedMiB: number
  readonly syncMs: number
  readonly syncCpuMs: number
  readonly updates: number
  readonly updateCpuMsPer1000: number
}

const labelsFor = (i: number): Record<string, string> => ({
  "kubernetes.io/arch": "amd64",
  "kubernetes.io/os": "linux",
  "kubernetes.io/hostname": `worker-${i}`,
  "beta.kubernetes.io/arch": "amd64",
  "beta.kubernetes.io/os": "linux",
  "node.kubernetes.io/instance-type": "Medium-Instance",
  "beta.kubernetes.io/instance-type": "Medium-Instance",
  "topology.kubernetes.io/zone": `zone-${i % 3}`,
  "failure-domain.beta.kubernetes.io/zone": `zone-${i % 3}`,
  "topology.kubernetes.io/region": "region-1",
  "failure-domain.beta.kubernetes.io/region": "region-1",
  "node-role.kubernetes.io/worker": ""
})

const nodeCreate = (i: number): NodeApi.NodeCreate => ({
  name: `worker-${i}`,
  labels: labelsFor(i),
  annotations: {
    "node.alpha.kubernetes.io/ttl": "0",
    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
    "projectcalico.org/IPv4Address": `10.${(i >> 8) & 255}.${i & 255}.10/24`,
    "csi.volume.kubernetes.io/nodeid": JSON.stringify({
      "csi.cloudstack.apache.org": `0b4c0a43-0c8f-4d32-9a1e-${String(i).padStart(12, "0")}`
    })
  },
  providerID: `cloudstack:///0b4c0a43-0c8f-4d32-9a1e-${String(i).padStart(12, "0")}`,
  addresses: [
    { type: "InternalIP", address: `10.${(i >> 8) & 255}.${i & 255}.10` },
    { type: "ExternalIP", address: `203.0.${(i >> 8) & 255}.${i & 255}` },
    { type: "Hostname", address: `worker-${i}` }
  ]
})

const serviceCreate = (i: number): ServiceApi.ServiceCreate => ({
  namespace: "default",
  name: `svc-${i}`,
  labels: { app: `app-${i}`, "app.kubernetes.io/part-of": "bench" },
  annotations: {
    "service.beta.kubernetes.io/cloudstack-load-balancer-proxy-protocol": "false",
    "service.beta.kubernetes.io/cloudstack-load-balancer-hostname": `svc-${i}.example.com`,
    "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({
      kind: "Service",
      metadata: { name: `svc-${i}` },
      spec: { type: "LoadBalancer" }
    })
  },
  type: i % 4 === 0 ? "LoadBalancer" : "ClusterIP",
  ports: [{ name: "http", port: 80 }, { name: "https", port: 443 }]
})

const populate = Effect.gen(function*() {
  const nodes = yield* NodeApi.NodeApi
  const services = yield* ServiceApi.ServiceApi
  yield* Effect.forEach(Array.from({ length: NODES }, (_, i) => i), (i) => nodes.create(nodeCreate(i)), {
    concurrency: 16,
    discard: true
  })
  yield* Effect.forEach(Array.from({ length: SERVICES }, (_, i) => i), (i) => services.create(serviceCreate(i)), {
    concurrency: 16,
    discard: true
  })
})

const cpuMs = () => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** The child: starts both informers, waits for sync, then applies `updates` Node label changes. */
const measure = (populateFirst: boolean, updates: number) =>
  Effect.gen(function*() {
    if (populateFirst) yield* populate
    global.gc?.()
    const rssBefore = process.memoryUsage().rss
    const nodes = yield* NodeApi.NodeApi
    const services = yield* ServiceApi.ServiceApi
    const t0 = performance.now()
    const c0 = cpuMs()
    const nodeInformer = yield* Informer.make("nodes", nodes)
    const serviceInformer = yield* Informer.make("services", services)
    yield* nodeInformer.awaitSynced
    yield* serviceInformer.awaitSynced
    const syncMs = performance.now() - t0
    const syncCpuMs = cpuMs() - c0
    global.gc?.()
    const rssAfterSync = process.memoryUsage().rss
    // Steady state: label updates flowing through the watch into the cache and a handler.
    const changes = yield* nodeInformer.subscribe
    const handled = yield* changes.pipe(
      Stream.filter((change) => change._tag === "Updated"),
      Stream.take(updates),
      Stream.runDrain,
      Effect.fork
    )
    const c1 = cpuMs()
    const listed = yield* nodeInformer.list
    yield* Effect.forEach(listed.slice(0, updates), (node) =>
      nodes.update({
        name: node.metadata.name,
        resourceVersion: node.metadata.resourceVersion,
        labels: { bench: String(process.pid) }
      }), {
      concurrency: 16,
      discard: true
    })
    yield* handled.await
    const updateCpuMs = cpuMs() - c1
    global.gc?.()
    const memory = process.memoryUsage()
    const report: ChildReport = {
      rssBeforeMiB: rssBefore / MiB,
      rssAfterSyncMiB: rssAfterSync / MiB,
      rssMiB: memory.rss / MiB,
      heapUsedMiB: memory.heapUsed / MiB,
      syncMs,
      syncCpuMs,
      updates,
      updateCpuMsPer1000: updates === 0 ? 0 : (updateCpuMs / updates) * 1000
    }
    return report
  }).pipe(Effect.scoped)

const liveLayer = (kubeconfig: string) => KubernetesLive.layer({ kubeconfig })

const runChild = async (mode: string): Promise<void> => {
  let report: ChildReport | { readonly rssMiB: number; readonly heapUsedMiB: number }
  if (mode === "idle") {
    global.gc?.()
    const memory = process.memoryUsage()
    report = { rssMiB: memory.rss / MiB, heapUsedMiB: memory.heapUsed / MiB }
  } else if (mode === "fake") {
    const runtime = ManagedRuntime.make(FakeKubernetes.layer())
    report = await runtime.runPromise(measure(true, 1000))
    await runtime.dispose()
  } else {
    const runtime = ManagedRuntime.make(liveLayer(mode.slice("real:".length)))
    report = await runtime.runPromise(measure(false, 1000))
    await runtime.dispose()
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
}

const here = dirname(fileURLToPath(import.meta.url))

/** V8 flags that keep the young generation small and cap the heap: what a 120 MiB container needs. */
export const TUNED_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size=96"]

const spawnChild = (mode: string, flags: ReadonlyArray<string> = []): Record<string, number> => {
  const result = spawnSync(process.execPath, ["--expose-gc", ...flags, fileURLToPath(import.meta.url)], {
    env: { ...process.env, [CHILD]: mode },
    encoding: "utf8",
    maxBuffer: 16 * MiB,
    timeout: 600_000
  })
  const line = result.stdout.trim().split("\n").pop() ?? ""
  if (result.status !== 0 || line === "") throw new Error(`informer bench child ${mode} failed: ${result.stderr}`)
  const parsed: unknown = JSON.parse(line)
  if (typeof parsed !== "object" || parsed === null) throw new Error(`bad child report: ${line}`)
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, number] => typeof e[1] === "number"))
}

const round = (value: number | undefined) => Math.round((value ?? NaN) * 10) / 10

const rowsFor = (variant: string, report: Record<string, number>, idleRss: number): ReadonlyArray<BenchRow> => {
  const bench = `informer ${NODES} nodes + ${SERVICES} services (${variant})`
  return [
    {
      bench,
      metric: "process RSS after sync",
      value: round(report["rssAfterSyncMiB"]),
      unit: "MiB",
      note: `target < 120; idle baseline ${round(idleRss)} MiB`
    },
    { bench, metric: "process RSS after sync + 1000 watched updates", value: round(report["rssMiB"]), unit: "MiB" },
    ...(variant.startsWith("FakeKubernetes")
      ? [{
        bench,
        metric: "RSS with the fake store, before informers",
        value: round(report["rssBeforeMiB"]),
        unit: "MiB"
      }]
      : []),
    {
      bench,
      metric: "informers' RSS over the moment before they started",
      value: round((report["rssMiB"] ?? 0) - (report["rssBeforeMiB"] ?? 0)),
      unit: "MiB"
    },
    { bench, metric: "heap used after sync", value: round(report["heapUsedMiB"]), unit: "MiB" },
    { bench, metric: "list + decode + cache (wall)", value: round(report["syncMs"]), unit: "ms" },
    { bench, metric: "list + decode + cache (CPU)", value: round(report["syncCpuMs"]), unit: "ms" },
    {
      bench,
      metric: "CPU per 1000 Node updates: PATCH sent + watch event decoded + cache + handler",
      value: round(report["updateCpuMsPer1000"]),
      unit: "ms"
    },
    { bench, metric: "RSS ratio to idle baseline", value: round((report["rssMiB"] ?? 0) / idleRss), unit: "x" }
  ]
}

const realServer = (): { readonly kubeconfig: string; readonly stop: () => void } | undefined => {
  const given = process.env["KUBE_BENCH_KUBECONFIG"]
  if (given !== undefined && given !== "") return { kubeconfig: given, stop: () => undefined }
  const script = resolve(here, "..", "..", "scripts", "kube-apiserver.sh")
  const binary = spawnSync(script, ["path"], { encoding: "utf8" })
  if (binary.status !== 0) return undefined
  const state = mkdtempSync(join(tmpdir(), "ccm-bench-kube-"))
  const kubeconfig = execFileSync(script, ["start", state], { encoding: "utf8" }).trim()
  return { kubeconfig, stop: () => execFileSync(script, ["stop", state]) }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const idle = spawnChild("idle")
  const idleRss = idle["rssMiB"] ?? NaN
  const rows: Array<BenchRow> = [
    {
      bench: "informer baseline",
      metric: "idle process RSS (same modules loaded)",
      value: round(idleRss),
      unit: "MiB"
    },
    ...rowsFor("FakeKubernetes", spawnChild("fake"), idleRss),
    ...rowsFor(`FakeKubernetes, ${TUNED_FLAGS.join(" ")}`, spawnChild("fake", TUNED_FLAGS), idleRss)
  ]
  const server = realServer()
  if (server === undefined) {
    rows.push({
      bench: "informer (real kube-apiserver)",
      metric: "skipped",
      value: 0,
      unit: "",
      note: "run scripts/kube-apiserver.sh build"
    })
    return rows
  }
  try {
    const runtime = ManagedRuntime.make(liveLayer(server.kubeconfig))
    await runtime.runPromise(populate)
    await runtime.dispose()
    rows.push(...rowsFor("real kube-apiserver v1.20", spawnChild(`real:${server.kubeconfig}`), idleRss))
    rows.push(
      ...rowsFor(
        `real kube-apiserver v1.20, ${TUNED_FLAGS.join(" ")}`,
        spawnChild(`real:${server.kubeconfig}`, TUNED_FLAGS),
        idleRss
      )
    )
  } finally {
    server.stop()
  }
  return rows
}

const mode = process.env[CHILD]
if (mode !== undefined && mode !== "") {
  await runChild(mode)
  process.exit(0)
}
