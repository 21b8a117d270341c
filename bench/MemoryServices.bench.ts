/**
 * Whole-process memory of the image's bundle with the service controller really at work: the real
 * kube-apiserver holds N initialised, Ready Nodes (default 5,000) whose providerIDs name VMs of the
 * simulator (over HTTP, in this process, instant jobs), spread over 4 isolated networks, and S
 * `type: LoadBalancer` Services (default 2,000; one port, every third two), each annotated to one of
 * the networks. Measured from outside the CCM process: time from its start until every Service has
 * `status.loadBalancer.ingress` (polled), then a hold; RSS at the end, the kernel's peak (VmHWM), CPU
 * seconds. Under the image's settings, the same with a 96 MiB heap cap (for larger clusters) and
 * plain `node` (the baseline of the ratios), each against a fresh API server and cloud. A CCM that
 * dies or does not converge in time is reported with how many Services it served.
 * The cloud-config sets `requests-per-second = 1000`: the client's default of 20 would make
 * reconciling 2,000 Services (about 23 calls each) take most of an hour.
 * BENCH_LB_NODES, BENCH_LB_SERVICES, BENCH_LB_NETWORKS (default 4), BENCH_LB_VARIANTS (a comma list of `image`, `image96`, `node`),
 * BENCH_LB_TIMEOUT_S, BENCH_LB_HOLD_S (the hold after converging, e.g. past a drift pass), BENCH_KUBE_QPS, BENCH_NODE_FLAGS (more node flags for the image variants) and
 * BENCH_CCM_FLAGS (more CCM flags, e.g. `--lb-resync-period=2m`) vary it.
 */
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { CloudStackSimulator } from "../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../src/simulation/cloudstack/SimulatorHttpServer.js"
import { World } from "../src/simulation/cloudstack/World.js"
import {
  apiClient,
  apiServerOf,
  buildCliBundle,
  cpuSeconds,
  DEPLOYMENT_ENV,
  DEPLOYMENT_NODE_OPTIONS,
  IMAGE_NODE_ARGS,
  kubeApiserverScript,
  KUBELET_NODE_INFO,
  procStatusMiB,
  sleep
} from "./BenchProcess.js"
import type { BenchRow } from "./run.js"

const NODES = Number(process.env["BENCH_LB_NODES"] ?? "5000")
const SERVICES = Number(process.env["BENCH_LB_SERVICES"] ?? "2000")
const QPS = process.env["BENCH_KUBE_QPS"]
const NETWORKS = Number(process.env["BENCH_LB_NETWORKS"] ?? "4")
const HOLD_MS = Number(process.env["BENCH_LB_HOLD_S"] ?? "20") * 1000
const CLOUD_RPS = 1000
const TIMEOUT_MS = Number(process.env["BENCH_LB_TIMEOUT_S"] ?? "1800") * 1000

const uuid = (kind: number, i: number) =>
  `5e1ec7ed-${String(kind).padStart(4, "0")}-4000-8000-${String(i).padStart(12, "0")}`
const networkId = (n: number) => uuid(1, n)
const vmId = (i: number) => uuid(2, i)
const vmIp = (i: number) =>
  `10.${100 + (i % NETWORKS)}.${Math.floor(i / NETWORKS / 250)}.${(Math.floor(i / NETWORKS) % 250) + 2}`

/** The demo world plus NETWORKS isolated /16 networks holding NODES VMs round-robin, and a free /20 of public IPs. */
const world = (): World => {
  const base = Schema.encodeSync(World)(demoWorld)
  return Schema.decodeUnknownSync(World)({
    ...base,
    networks: [
      ...base.networks,
      ...Array.from({ length: NETWORKS }, (_, n) => ({
        id: networkId(n),
        name: `lb-net-${n}`,
        zone: "zone1",
        offering: "DefaultIsolatedNetworkOfferingWithSourceNatService",
        owner: base.defaultAccount,
        cidr: `10.${100 + n}.0.0/16`
      }))
    ],
    vms: [
      ...(base.vms ?? []),
      ...Array.from({ length: NODES }, (_, i) => ({
        id: vmId(i),
        name: `worker-${i}`,
        zone: "zone1",
        owner: base.defaultAccount,
        serviceOffering: "Medium Instance",
        template: "Debian 12",
        nics: [{ network: `lb-net-${i % NETWORKS}`, ip: vmIp(i) }]
      }))
    ],
    publicIps: [...base.publicIps, { zone: "zone1", start: "100.64.0.1", count: SERVICES + 100 }]
  })
}

/** A Node the node controller initialised: Ready, providerID of its VM, its InternalIP; ~4 KiB of JSON. */
const nodeBody = (i: number) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name: `worker-${i}`,
    labels: {
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/os": "linux",
      "kubernetes.io/hostname": `worker-${i}`,
      "node.kubernetes.io/instance-type": "MediumInstance",
      "topology.kubernetes.io/zone": "zone1",
      "topology.kubernetes.io/region": "zone1"
    },
    annotations: {
      "node.alpha.kubernetes.io/ttl": "0",
      "volumes.kubernetes.io/controller-managed-attach-detach": "true"
    }
  },
  spec: { providerID: `cloudstack:///${vmId(i)}`, podCIDR: `10.244.${i % 256}.0/24` },
  status: {
    addresses: [{ type: "InternalIP", address: vmIp(i) }, { type: "Hostname", address: `worker-${i}` }],
    capacity: { cpu: "4", memory: "8148012Ki", pods: "110" },
    allocatable: { cpu: "4", memory: "8045612Ki", pods: "110" },
    conditions: ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"].map((type) => ({
      type,
      status: type === "Ready" ? "True" : "False",
      reason: `Kubelet${type}`,
      message: `kubelet reports ${type}`,
      lastHeartbeatTime: "2026-11-28T00:00:00Z",
      lastTransitionTime: "2026-11-28T00:00:00Z"
    })),
    nodeInfo: KUBELET_NODE_INFO
  }
})

/**
 * A LoadBalancer Service on network `i mod NETWORKS`: one port, every third two (2,667 nodePorts
 * for 2,000 Services, inside the API server's default range of 2,768).
 */
const serviceBody = (i: number) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    name: `lb-${i}`,
    namespace: "default",
    labels: { app: `app-${i}` },
    annotations: { "service.beta.kubernetes.io/cloudstack-load-balancer-network-id": networkId(i % NETWORKS) }
  },
  spec: {
    type: "LoadBalancer",
    selector: { app: `app-${i}` },
    ports: [
      { name: "http", port: 80, targetPort: 8080, protocol: "TCP" },
      ...(i % 3 === 0 ? [{ name: "https", port: 443, targetPort: 8443, protocol: "TCP" }] : [])
    ]
  }
})

interface Variant {
  readonly name: string
  readonly nodeFlags: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}

const extraFlags = (process.env["BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "")
/** Every variant, or those BENCH_LB_VARIANTS names (comma-separated keys, in that order). */
const allVariants: ReadonlyArray<Variant & { readonly key: string }> = [
  {
    key: "image",
    name:
      "image settings (semi 2, pool 1, old 64, liftoff-only, optimize-for-size, MALLOC_MMAP_THRESHOLD_=32768, MALLOC_ARENA_MAX=2)",
    nodeFlags: [...DEPLOYMENT_NODE_OPTIONS, ...IMAGE_NODE_ARGS, ...extraFlags],
    env: DEPLOYMENT_ENV
  },
  {
    key: "image96",
    name: "image settings, heap cap 96 (old 96)",
    nodeFlags: [...DEPLOYMENT_NODE_OPTIONS, ...IMAGE_NODE_ARGS, "--max-old-space-size=96", ...extraFlags],
    env: DEPLOYMENT_ENV
  },
  { key: "node", name: "node defaults", nodeFlags: [], env: {} }
]
const variants = (process.env["BENCH_LB_VARIANTS"] ?? "image,image96,node").split(",")
  .flatMap((key) => allVariants.filter((v) => v.key === key.trim()))

interface Sample {
  readonly convergeSeconds: number
  readonly rssMiB: number
  readonly maxSampledRssMiB: number
  readonly hwmMiB: number
  readonly cpuSeconds: number
  readonly load: number
  readonly served: number
  readonly outcome: string
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const bench =
    `memory: cloudstack-ccm reconciling ${SERVICES} LoadBalancer Services, ${NODES} Nodes on ${NETWORKS} networks (real kube-apiserver, simulator over HTTP)`
  if (spawnSync(kubeApiserverScript, ["path"], { encoding: "utf8" }).status !== 0) {
    return [{ bench, metric: "skipped", value: 0, unit: "", note: "run scripts/kube-apiserver.sh build" }]
  }
  const work = mkdtempSync(join(tmpdir(), "ccm-bench-lb-memory-"))
  const state = join(work, "kube")
  try {
    const bundle = await buildCliBundle(work)
    const rows: Array<BenchRow> = []
    const samples: Array<{ readonly variant: Variant; readonly sample: Sample; readonly created: number }> = []
    for (const variant of variants) {
      // A fresh API server and cloud per variant: each CCM starts from nothing built.
      const kubeconfig = execFileSync(kubeApiserverScript, ["start", state], { encoding: "utf8" }).trim()
      const api = apiClient(apiServerOf(kubeconfig))
      const simulator = ManagedRuntime.make(
        HttpFace.layer({ port: 0, isCommand: Simulator.isCommand }).pipe(
          Layer.provideMerge(Simulator.layer(world(), { seed: 11 }))
        )
      )
      let child: ChildProcess | undefined
      try {
        const face = await simulator.runPromise(HttpFace.SimulatorHttpServer)
        const cloudConfig = join(work, "cloud-config")
        writeFileSync(
          cloudConfig,
          [
            "[Global]",
            `api-url = ${face.apiUrl}`,
            "api-key = demo-admin-api-key",
            "secret-key = demo-admin-secret-key",
            `requests-per-second = ${CLOUD_RPS}`,
            ""
          ].join("\n")
        )
        await api.pool(NODES, (i) => api.post("/api/v1/nodes", nodeBody(i)))
        await api.pool(SERVICES, (i) => api.post("/api/v1/namespaces/default/services", serviceBody(i)))
        process.stderr.write(`${variant.name}: ${NODES} Nodes and ${SERVICES} Services created; starting the CCM\n`)
        const load = loadavg()[0] ?? 0
        const started = performance.now()
        const proc: ChildProcess = spawn(process.execPath, [
          ...variant.nodeFlags,
          bundle,
          "--cloud-provider=external-cloudstack",
          `--kubeconfig=${kubeconfig}`,
          `--cloud-config=${cloudConfig}`,
          "--leader-elect=false",
          "--secure-port=0",
          ...(QPS === undefined ? [] : [`--kube-api-qps=${QPS}`, `--kube-api-burst=${Math.round(Number(QPS) * 1.5)}`]),
          ...(process.env["BENCH_CCM_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "")
        ], { env: { ...process.env, ...variant.env }, stdio: ["ignore", "ignore", "pipe"] })
        child = proc
        let stderr = ""
        proc.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)))
        const pid = proc.pid ?? 0
        let maxRss = 0
        let done = 0
        let hwm = 0
        // A CCM that dies (heap out of memory: SIGABRT) or does not finish is a result too, not an error.
        let outcome = "converged"
        while (done < SERVICES) {
          await sleep(2_000)
          if (proc.exitCode !== null || proc.signalCode !== null) {
            const oom = stderr.includes("heap out of memory") ? ", JavaScript heap out of memory" : ""
            outcome = `died (${proc.exitCode ?? proc.signalCode}${oom})`
            process.stderr.write(`\n${stderr.slice(-1500)}\n`)
            break
          }
          if (performance.now() - started > TIMEOUT_MS) {
            outcome = `not converged in ${TIMEOUT_MS / 1000} s`
            break
          }
          maxRss = Math.max(maxRss, procStatusMiB(pid, "VmRSS") ?? 0)
          hwm = procStatusMiB(pid, "VmHWM") ?? hwm
          const { text } = await api.send("GET", "/api/v1/namespaces/default/services")
          done = (text.match(/"ingress":\[\{"ip"/g) ?? []).length
          process.stderr.write(
            `${round((performance.now() - started) / 1000)} s: ${done}/${SERVICES} served, VmRSS ${maxRss} MiB max\r`
          )
        }
        const convergeSeconds = (performance.now() - started) / 1000
        // Sampled now, then through the hold: a hold of 0 still reports the RSS at convergence.
        let rss = outcome === "converged" ? procStatusMiB(pid, "VmRSS") ?? NaN : NaN
        for (const until = performance.now() + (outcome === "converged" ? HOLD_MS : 0); performance.now() < until;) {
          await sleep(500)
          // Dying in the hold (the first drift pass comes 10 min after the start) is a result too.
          if (proc.exitCode !== null || proc.signalCode !== null) {
            const oom = stderr.includes("heap out of memory") ? ", JavaScript heap out of memory" : ""
            outcome = `died ${
              round((performance.now() - started) / 1000)
            } s after the start, in the hold after converging (${proc.exitCode ?? proc.signalCode}${oom})`
            process.stderr.write(`\n${stderr.slice(-1500)}\n`)
            break
          }
          rss = procStatusMiB(pid, "VmRSS") ?? NaN
          maxRss = Math.max(maxRss, rss)
        }
        const sample: Sample = {
          convergeSeconds,
          rssMiB: rss,
          maxSampledRssMiB: maxRss,
          hwmMiB: procStatusMiB(pid, "VmHWM") ?? hwm,
          served: done,
          outcome,
          cpuSeconds: outcome.startsWith("died") ? NaN : cpuSeconds(pid),
          load
        }
        const rules = await simulator.runPromise(Effect.flatMap(CloudStackSimulator, (sim) => sim.counters))
        const created = rules.get("createLoadBalancerRule") ?? 0
        samples.push({ variant, sample, created })
      } finally {
        child?.kill("SIGKILL")
        api.close()
        await simulator.dispose()
        execFileSync(kubeApiserverScript, ["stop", state])
        rmSync(state, { recursive: true, force: true })
      }
    }
    const baseline = samples.find((s) => s.variant.name === "node defaults")?.sample
    for (const { created, sample, variant } of samples) {
      const flags = [...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`), ...variant.nodeFlags].join(" ") ||
        "none"
      const v = variant.name
      rows.push(
        {
          bench,
          metric: `Services with an ingress at the end (${v})`,
          value: sample.served,
          unit: "Services",
          note: `${sample.outcome}; machine load average ${round(sample.load)} on ${cpus().length} cores at start`
        },
        {
          bench,
          metric: `RSS after converging + ${HOLD_MS / 1000} s (${v})`,
          value: round(sample.rssMiB),
          unit: "MiB",
          note: `limit 120Mi; flags: ${flags}`,
          target: "< 120 MiB",
          met: sample.rssMiB < 120
        },
        {
          bench,
          metric: `peak RSS, VmHWM (${v})`,
          value: round(sample.hwmMiB),
          unit: "MiB",
          note: `limit 120Mi; highest sampled VmRSS ${round(sample.maxSampledRssMiB)} MiB`,
          target: "< 120 MiB",
          met: sample.hwmMiB < 120
        },
        ...(baseline === undefined
          ? []
          : [{
            bench,
            metric: `RSS ratio to node defaults (${v})`,
            value: round(sample.rssMiB / baseline.rssMiB, 2),
            unit: "x"
          }]),
        {
          bench,
          metric: `${
            sample.served === SERVICES ? "start to every Service's ingress" : "start to the end of the run"
          } (${v})`,
          value: round(sample.convergeSeconds),
          unit: "s",
          note: `qps ${
            QPS ?? "20 (default)"
          }, CloudStack requests-per-second ${CLOUD_RPS}; ${created} createLoadBalancerRule calls`
        },
        {
          bench,
          metric: `CPU, start to end of the hold (${v})`,
          value: round(sample.cpuSeconds),
          unit: "s",
          ...(baseline === undefined
            ? {}
            : { note: `ratio to node defaults ${round(sample.cpuSeconds / baseline.cpuSeconds, 2)}` })
        }
      )
    }
    return rows
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
