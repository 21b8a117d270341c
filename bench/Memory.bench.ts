/**
 * Whole-process memory of the shipped artifact (the esbuild bundle of deploy/Dockerfile) against a
 * real kube-apiserver holding 5,000 Nodes and 2,000 Services: `cloudstack-ccm` idle, `cloudstack-ccm`
 * with its controllers running, and the same bundle's informers caching every Node and Service. Each
 * is measured under plain `node`, the image's previous settings and its current ones; ratios are
 * against plain `node` in the same run. Target: the Go image's 120 MiB limit (VmRSS and VmHWM).
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Informer from "../src/kubernetes/Informer.js"
import * as KubeClient from "../src/kubernetes/KubeClient.js"
import * as NodeApi from "../src/kubernetes/NodeApi.js"
import * as ServiceApi from "../src/kubernetes/ServiceApi.js"
import {
  apiClient,
  type ApiServer,
  apiServerOf,
  buildCliBundle,
  bundleOptions,
  cpuSeconds,
  DEPLOYMENT_ENV,
  DEPLOYMENT_NODE_OPTIONS,
  IMAGE_NODE_ARGS,
  kubeApiserverScript,
  KUBELET_NODE_INFO,
  procStatusMiB,
  repo,
  sleep
} from "./BenchProcess.js"
import type { BenchRow } from "./run.js"

const NODES = Number(process.env["BENCH_NODES"] ?? "5000")
const SERVICES = Number(process.env["BENCH_SERVICES"] ?? "2000")

/** How a variant starts node: V8 flags and environment. */
interface Variant {
  readonly name: string
  readonly nodeFlags: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}

const variants: ReadonlyArray<Variant> = [
  { name: "node defaults", nodeFlags: [], env: {} },
  {
    name: "previous settings (semi 1, pool 1, old 64, MALLOC_MMAP_THRESHOLD_=32768)",
    nodeFlags: ["--max-semi-space-size=1", "--v8-pool-size=1", "--max-old-space-size=64"],
    env: DEPLOYMENT_ENV
  },
  {
    name:
      "image settings (semi 2, pool 1, old 64, liftoff-only, optimize-for-size, MALLOC_MMAP_THRESHOLD_=32768, MALLOC_ARENA_MAX=2)",
    nodeFlags: [...DEPLOYMENT_NODE_OPTIONS, ...IMAGE_NODE_ARGS],
    env: DEPLOYMENT_ENV
  }
]

// ---------------------------------------------------------------------------------------------
// The informer child: bundled with the same esbuild options as the image, run in its own process.

/** Caches every Node and Service with the production informers, prints `synced`, then holds them. */
export const informerChild = (kubeconfig: string): Promise<void> => {
  const live = Layer.mergeAll(NodeApi.layer, ServiceApi.layer).pipe(Layer.provide(KubeClient.layer({ kubeconfig })))
  const runtime = ManagedRuntime.make(live)
  return runtime.runPromise(Effect.scoped(Effect.gen(function*() {
    const nodes = yield* Informer.make("nodes", yield* NodeApi.NodeApi)
    const services = yield* Informer.make("services", yield* ServiceApi.ServiceApi)
    yield* nodes.awaitSynced
    yield* services.awaitSynced
    const counts = [(yield* nodes.list).length, (yield* services.list).length]
    process.stdout.write(`synced ${counts.join(" ")}\n`)
    return yield* Effect.never
  })))
}

// ---------------------------------------------------------------------------------------------
// The parent: apiserver, objects, simulator, then one process per (mode, variant).

const buildBundles = async (dir: string) => {
  const { buildSync } = await import("esbuild")
  const cli = await buildCliBundle(dir)
  buildSync({
    ...bundleOptions,
    stdin: {
      contents: `import { informerChild } from "./bench/Memory.bench.ts"; void informerChild(process.argv[2] ?? "")`,
      resolveDir: repo,
      loader: "ts"
    },
    external: ["esbuild"],
    outfile: join(dir, "informers.cjs")
  })
  return { cli, informers: join(dir, "informers.cjs") }
}

/** A Node as a kubelet registers it (conditions, capacity, nodeInfo, images): ~5 KiB of JSON with managedFields. */
const nodeBody = (i: number) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name: `worker-${i}`,
    labels: {
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/os": "linux",
      "kubernetes.io/hostname": `worker-${i}`,
      "node.kubernetes.io/instance-type": "Medium-Instance",
      "topology.kubernetes.io/zone": `zone-${i % 3}`,
      "topology.kubernetes.io/region": "region-1",
      "node-role.kubernetes.io/worker": ""
    },
    annotations: {
      "node.alpha.kubernetes.io/ttl": "0",
      "volumes.kubernetes.io/controller-managed-attach-detach": "true",
      "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock"
    }
  },
  spec: {
    providerID: `cloudstack:///0b4c0a43-0c8f-4d32-9a1e-${String(i).padStart(12, "0")}`,
    podCIDR: `10.244.${i % 256}.0/24`
  },
  status: {
    addresses: [{ type: "InternalIP", address: `10.${(i >> 8) & 255}.${i & 255}.10` }, {
      type: "Hostname",
      address: `worker-${i}`
    }],
    capacity: { cpu: "4", memory: "8148012Ki", pods: "110", "ephemeral-storage": "51286496Ki" },
    allocatable: { cpu: "4", memory: "8045612Ki", pods: "110", "ephemeral-storage": "47265634Ki" },
    conditions: ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"].map((type) => ({
      type,
      status: type === "Ready" ? "True" : "False",
      reason: `Kubelet${type}`,
      message: `kubelet reports ${type}`,
      lastHeartbeatTime: "2026-11-28T00:00:00Z",
      lastTransitionTime: "2026-11-28T00:00:00Z"
    })),
    nodeInfo: KUBELET_NODE_INFO,
    images: Array.from({ length: 8 }, (_, k) => ({
      names: [`registry.k8s.io/image-${k}@sha256:${"d".repeat(64)}`, `registry.k8s.io/image-${k}:v1.${k}`],
      sizeBytes: 1_000_000 * (k + 1)
    }))
  }
})

const serviceBody = (i: number) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: `svc-${i}`,
    namespace: "default",
    labels: { app: `app-${i}` },
    annotations: { "service.beta.kubernetes.io/cloudstack-load-balancer-proxy-protocol": "false" }
  },
  spec: {
    type: i % 4 === 0 ? "LoadBalancer" : "ClusterIP",
    selector: { app: `app-${i}` },
    ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }, {
      name: "https",
      port: 443,
      targetPort: 8443,
      protocol: "TCP"
    }]
  }
})

/** Creates the objects with plain HTTPS (16 at a time); an existing object (409) counts as created. */
const populate = async (server: ApiServer): Promise<void> => {
  const api = apiClient(server)
  try {
    await api.pool(NODES, (i) => api.post("/api/v1/nodes", nodeBody(i)))
    await api.pool(SERVICES, (i) => api.post("/api/v1/namespaces/default/services", serviceBody(i)))
  } finally {
    api.close()
  }
}

interface Sample {
  readonly rssMiB: number
  readonly hwmMiB: number
  readonly settleMs: number
  readonly cpuSeconds: number
}

/**
 * Starts `args` under `variant`, waits until `ready` (stdout text) or not at all, then samples RSS
 * for `holdMs`; the figure is the last sample, the peak is the kernel's high-water mark (VmHWM).
 */
const sampleProcess = async (
  variant: Variant,
  args: ReadonlyArray<string>,
  holdMs: number,
  ready?: string
): Promise<Sample> => {
  const started = performance.now()
  const child: ChildProcess = spawn(process.execPath, [...variant.nodeFlags, ...args], {
    env: { ...process.env, ...variant.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (err = (err + chunk).slice(-4000)))
  const pid = child.pid ?? 0
  try {
    const deadline = performance.now() + 300_000
    while (ready !== undefined && !out.includes(ready)) {
      if (child.exitCode !== null || performance.now() > deadline) {
        throw new Error(`${args.join(" ")} never became ready: ${err}`)
      }
      await sleep(100)
    }
    const settleMs = performance.now() - started
    let rss = 0
    for (const until = performance.now() + holdMs; performance.now() < until;) {
      await sleep(250)
      rss = procStatusMiB(pid, "VmRSS") ?? NaN
      if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited ${child.exitCode}: ${err}`)
    }
    return { rssMiB: rss, hwmMiB: procStatusMiB(pid, "VmHWM") ?? NaN, settleMs, cpuSeconds: cpuSeconds(pid) }
  } finally {
    child.kill("SIGKILL")
  }
}

const startSimulator = async (cli: string): Promise<{ readonly child: ChildProcess; readonly apiUrl: string }> => {
  const child = spawn(process.execPath, [
    cli,
    "simulator",
    "--port",
    "0",
    "--api-key",
    "bench-key",
    "--secret-key",
    "bench-secret"
  ], {
    stdio: ["ignore", "pipe", "ignore"]
  })
  let out = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
  for (let i = 0; i < 300; i++) {
    const url = /listening on (\S+)/.exec(out)?.[1]
    if (url !== undefined) return { child, apiUrl: url }
    await sleep(100)
  }
  child.kill("SIGKILL")
  throw new Error("the simulator did not start")
}

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer()
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => done(port))
    })
  })

const round = (value: number) => Math.round(value * 10) / 10

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const script = kubeApiserverScript
  if (spawnSync(script, ["path"], { encoding: "utf8" }).status !== 0) {
    return [{
      bench: "memory (real kube-apiserver)",
      metric: "skipped",
      value: 0,
      unit: "",
      note: "run scripts/kube-apiserver.sh build"
    }]
  }
  const work = mkdtempSync(join(tmpdir(), "ccm-bench-memory-"))
  const state = join(work, "kube")
  const kubeconfig = execFileSync(script, ["start", state], { encoding: "utf8" }).trim()
  let simulator: ChildProcess | undefined
  try {
    const bundles = await buildBundles(work)
    await populate(apiServerOf(kubeconfig))
    const sim = await startSimulator(bundles.cli)
    simulator = sim.child
    const cloudConfig = join(work, "cloud.ini")
    execFileSync("sh", [
      "-c",
      `printf '%s\\n' '[Global]' 'api-url = ${sim.apiUrl}' 'api-key = bench-key' 'secret-key = bench-secret' 'zone = zone1' > ${cloudConfig}`
    ])
    // As the Deployment: /healthz and /metrics over HTTPS with the self-signed certificate made at start.
    const ccm = async (extra: ReadonlyArray<string>) => [
      bundles.cli,
      `--kubeconfig=${kubeconfig}`,
      "--cloud-provider=external-cloudstack",
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
      "--leader-elect=false",
      ...extra
    ]
    const modes = [
      {
        name: "cloudstack-ccm idle (--controllers=-*)",
        run: async (v: Variant) => sampleProcess(v, await ccm(["--controllers=-*"]), 8_000)
      },
      {
        name: `cloudstack-ccm with controllers, ${NODES} Nodes in the API`,
        run: async (v: Variant) => sampleProcess(v, await ccm([`--cloud-config=${cloudConfig}`]), 25_000)
      },
      {
        name: `bundle's informers caching ${NODES} Nodes + ${SERVICES} Services`,
        run: (v: Variant) => sampleProcess(v, [bundles.informers, kubeconfig], 8_000, "synced")
      }
    ]
    const rows: Array<BenchRow> = []
    for (const mode of modes) {
      let baseline: Sample | undefined
      for (const variant of variants) {
        const sample = await mode.run(variant)
        baseline ??= sample
        const bench = `memory: ${mode.name}`
        const flags = [...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`), ...variant.nodeFlags].join(" ") ||
          "none"
        rows.push(
          {
            bench,
            metric: `RSS (${variant.name})`,
            value: round(sample.rssMiB),
            unit: "MiB",
            note: `target < 120; flags: ${flags}`
          },
          {
            bench,
            metric: `peak RSS, VmHWM (${variant.name})`,
            value: round(sample.hwmMiB),
            unit: "MiB",
            note: "target < 120"
          },
          {
            bench,
            metric: `RSS ratio to node defaults (${variant.name})`,
            value: Math.round((sample.rssMiB / baseline.rssMiB) * 100) / 100,
            unit: "x"
          },
          {
            bench,
            metric: `CPU, start to end of sampling (${variant.name})`,
            value: round(sample.cpuSeconds),
            unit: "s",
            note: `ratio to node defaults ${round(sample.cpuSeconds / baseline.cpuSeconds)}`
          }
        )
        if (mode.name.startsWith("bundle's")) {
          rows.push({
            bench,
            metric: `start to synced (${variant.name})`,
            value: Math.round(sample.settleMs),
            unit: "ms"
          })
        }
      }
    }
    return rows
  } finally {
    simulator?.kill("SIGKILL")
    execFileSync(script, ["stop", state])
    rmSync(work, { recursive: true, force: true })
  }
}
