/**
 * The issue-14 scenario, side by side with the Go CCM (apache/cloudstack-kubernetes-provider v1.2.0,
 * figures measured on the same machine, same simulator world, same kube-apiserver v1.20.2): N
 * uninitialised, Ready Nodes (default 300) whose VMs sit on one isolated network, and the image's
 * bundle run with the image's settings, `--leader-elect=false --secure-port=0` and the default
 * `--kube-api-qps 20 --kube-api-burst 30`. Measured from outside the process: wall time from its
 * start to the first and to the last Node initialised (a watch of the bench's own), its CPU seconds
 * by then and per idle minute afterwards (/proc), its peak RSS (VmHWM), its TCP connections to the
 * API server (a counting proxy), and its Kubernetes requests per Node (the API server's own
 * apiserver_request_total, nodes and events). BENCH_INIT_NODES, BENCH_KUBE_QPS, BENCH_IDLE_SECONDS
 * BENCH_CPU_PROF (a directory: `node --cpu-prof` profiles of the run; wall-clock samples, inflated
 * where the process waits for a core) and BENCH_NODE_FLAGS (more node flags, e.g.
 * `--perf-basic-prof` for `perf record -e cpu-clock -p <pid>`, which counts CPU time only) vary it.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { request } from "node:https"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { TAINT_UNINITIALIZED } from "../src/controllers/NodePlan.js"
import { CloudStackSimulator } from "../src/simulation/cloudstack/CloudStackSimulator.js"
import * as Simulator from "../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../src/simulation/cloudstack/SimulatorHttpServer.js"
import * as DemoCluster from "../src/simulation/DemoCluster.js"
import {
  apiClient,
  type ApiServer,
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
import { kubeconfigVia, startCountingProxy } from "./CountingProxy.js"
import type { BenchRow } from "./run.js"

const NODES = Number(process.env["BENCH_INIT_NODES"] ?? "300")
const QPS = process.env["BENCH_KUBE_QPS"]
const IDLE_SECONDS = Number(process.env["BENCH_IDLE_SECONDS"] ?? "60")
const SETTLE_SECONDS = 30
const CPU_PROFILE_DIR = process.env["BENCH_CPU_PROF"]

/** The Go CCM's figures for 300 Nodes at the default QPS (issue 14's table: two runs, same figures). */
const GO_CCM = {
  cloudStackCalls: 4801,
  wallSeconds: 44.1,
  cpuSeconds: 4.5,
  requestsPerNode: 3,
  connections: 1,
  idleCpuPerMinute: 0.03,
  firstNodeSeconds: 0.8,
  rssPeakMiB: 50
} as const

/** A Node as a kubelet with `--cloud-provider=external` registers it: tainted, Ready, only its Hostname. */
const nodeBody = (name: string) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name,
    labels: { "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name }
  },
  spec: { taints: [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }] },
  status: {
    addresses: [{ type: "Hostname", address: name }],
    capacity: { cpu: "4", memory: "8148012Ki", pods: "110" },
    allocatable: { cpu: "4", memory: "8045612Ki", pods: "110" },
    conditions: [{
      type: "Ready",
      status: "True",
      reason: "KubeletReady",
      message: "kubelet is posting ready status",
      lastHeartbeatTime: "2026-11-28T00:00:00Z",
      lastTransitionTime: "2026-11-28T00:00:00Z"
    }],
    nodeInfo: KUBELET_NODE_INFO
  }
})

/** `apiserver_request_total` summed by "VERB resource[/subresource]" for Nodes and Events. */
const requestCounts = async (api: ReturnType<typeof apiClient>): Promise<Map<string, number>> => {
  const { text } = await api.send("GET", "/metrics")
  const counts = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(line)?.[1] ?? ""
    const resource = label("resource")
    if (resource !== "nodes" && resource !== "events") continue
    const key = `${label("verb")} ${resource}${label("subresource") === "" ? "" : `/${label("subresource")}`}`
    counts.set(key, (counts.get(key) ?? 0) + Number(line.split(" ").at(-1)))
  }
  return counts
}

/** The resources the CCM's informers watch (Nodes; Services and EndpointSlices for the service controller). */
const WATCHED = new Set(["nodes", "services", "endpointslices"])

/**
 * Watches of the CCM's resources opened so far: those that ended (`apiserver_request_total` counts a
 * watch when it ends) plus those open now (`apiserver_longrunning_gauge`). Taken before and after
 * the run, the difference is the CCM's (the API server's own loopback watches are of other resources,
 * Services apart: one of theirs reopened during the run would count as the CCM's, in its favour).
 */
const watchCount = async (api: ReturnType<typeof apiClient>): Promise<number> => {
  const { text } = await api.send("GET", "/metrics")
  let n = 0
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{") && !line.startsWith("apiserver_longrunning_gauge{")) continue
    if (!line.includes(`verb="WATCH"`) || !WATCHED.has(/resource="([^"]*)"/.exec(line)?.[1] ?? "")) continue
    n += Number(line.split(" ").at(-1))
  }
  return n
}

const delta = (before: Map<string, number>, after: Map<string, number>): Map<string, number> =>
  new Map([...after].map(([key, n]) => [key, n - (before.get(key) ?? 0)] as const).filter(([, n]) => n > 0))

/** Watches Nodes from `resourceVersion`; calls `initialised(name)` when a Node loses the uninitialized taint. */
const watchNodes = (server: ApiServer, resourceVersion: string, initialised: (name: string) => void) => {
  const req = request(new URL(`/api/v1/nodes?watch=true&resourceVersion=${resourceVersion}`, server.url), {
    agent: false,
    ca: server.ca,
    headers: { authorization: `Bearer ${server.token}` }
  }, (res) => {
    res.on("error", () => undefined)
    createInterface(res).on("error", () => undefined).on("line", (line) => {
      const event: unknown = JSON.parse(line)
      const object = typeof event === "object" && event !== null && "object" in event ? event.object : undefined
      const text = JSON.stringify(object ?? {})
      const name = /"name":"([^"]+)"/.exec(text)?.[1]
      if (name !== undefined && !text.includes(TAINT_UNINITIALIZED)) initialised(name)
    })
  })
  req.on("error", () => undefined)
  req.end()
  return () => req.destroy()
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const bench = `nodes init vs Go CCM (${NODES} Nodes, real kube-apiserver v1.20, image bundle + settings, qps ${
    QPS ?? "20"
  })`
  if (spawnSync(kubeApiserverScript, ["path"], { encoding: "utf8" }).status !== 0) {
    return [{ bench, metric: "skipped", value: 0, unit: "", note: "run scripts/kube-apiserver.sh build" }]
  }
  const work = mkdtempSync(join(tmpdir(), "ccm-bench-init-"))
  const state = join(work, "kube")
  const kubeconfig = execFileSync(kubeApiserverScript, ["start", state], { encoding: "utf8" }).trim()
  const server = apiServerOf(kubeconfig)
  const api = apiClient(server)
  const simulator = ManagedRuntime.make(
    HttpFace.layer({ port: 0, isCommand: Simulator.isCommand }).pipe(
      Layer.provideMerge(Simulator.layer(DemoCluster.scaledWorld(NODES), { seed: 7 }))
    )
  )
  const proxy = await startCountingProxy(server.url)
  let ccm: ChildProcess | undefined
  let stopWatch = () => undefined as void
  try {
    const bundle = await buildCliBundle(work)
    const face = await simulator.runPromise(HttpFace.SimulatorHttpServer)
    const cloudConfig = join(work, "cloud-config")
    writeFileSync(
      cloudConfig,
      ["[Global]", `api-url = ${face.apiUrl}`, "api-key = demo-admin-api-key", "secret-key = demo-admin-secret-key", ""]
        .join("\n")
    )
    const names = Array.from({ length: NODES }, (_, i) => `big-${i + 1}`)
    await api.pool(NODES, (i) => api.post("/api/v1/nodes", nodeBody(names[i] ?? "")))
    const listed: unknown = JSON.parse((await api.send("GET", "/api/v1/nodes?limit=1")).text)
    const resourceVersion = /"resourceVersion":"(\d+)"/.exec(JSON.stringify(listed))?.[1] ?? "0"

    const done = new Map<string, number>()
    let allDone: () => void = () => undefined
    const finished = new Promise<void>((resolve) => (allDone = resolve))
    let started = 0
    let pid = 0
    // The process's CPU by its first Node: what the start-up costs, whatever else runs on the machine.
    let cpuAtFirst = NaN
    stopWatch = watchNodes(server, resourceVersion, (name) => {
      if (done.has(name) || !name.startsWith("big-")) return
      done.set(name, performance.now() - started)
      if (done.size === 1) cpuAtFirst = cpuSeconds(pid)
      if (done.size === NODES) allDone()
    })
    await sleep(500)
    const before = await requestCounts(api)
    const watchesBefore = await watchCount(api)

    const cloudStackCalls = () =>
      simulator.runPromise(
        Effect.map(Effect.flatMap(CloudStackSimulator, (sim) => sim.counters), (counters) =>
          [...counters.values()].reduce((a, b) => a + b, 0))
      )
    const callsBefore = await cloudStackCalls()
    const load = loadavg()[0] ?? 0
    started = performance.now()
    const child: ChildProcess = spawn(process.execPath, [
      ...DEPLOYMENT_NODE_OPTIONS,
      ...IMAGE_NODE_ARGS,
      ...(CPU_PROFILE_DIR === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${CPU_PROFILE_DIR}`]),
      ...(process.env["BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== ""),
      bundle,
      "--cloud-provider=external-cloudstack",
      `--kubeconfig=${kubeconfigVia(kubeconfig, proxy, join(work, "kubeconfig"))}`,
      `--cloud-config=${cloudConfig}`,
      "--leader-elect=false",
      "--secure-port=0",
      ...(QPS === undefined ? [] : [`--kube-api-qps=${QPS}`, `--kube-api-burst=${Math.round(Number(QPS) * 1.5)}`])
    ], { env: { ...process.env, ...DEPLOYMENT_ENV }, stdio: ["ignore", "ignore", "pipe"] })
    ccm = child
    let stderr = ""
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)))
    pid = child.pid ?? 0
    const exited = new Promise((resolve) => child.once("exit", resolve))
    let deadline: NodeJS.Timeout | undefined
    const timeout = new Promise<string>((resolve) => (deadline = setTimeout(() => resolve("timeout"), 900_000)))
    const outcome = await Promise.race([finished.then(() => "done"), exited.then(() => "exited"), timeout])
    clearTimeout(deadline)
    if (outcome !== "done") throw new Error(`${done.size}/${NODES} Nodes initialised (${outcome}): ${stderr}`)
    const wallSeconds = Math.max(...done.values()) / 1000
    const firstSeconds = Math.min(...done.values()) / 1000
    const cpuByThen = cpuSeconds(pid)
    const callsByThen = (await cloudStackCalls()) - callsBefore

    // The Events trail the Nodes (they take the rate limit's tokens only when no Node write waits for
    // one): wait for them before counting, and count their CPU too.
    let requests = delta(before, await requestCounts(api))
    for (let i = 0; i < 480 && (requests.get("POST events") ?? 0) < NODES; i++) {
      await sleep(250)
      requests = delta(before, await requestCounts(api))
    }
    const eventsSeconds = (performance.now() - started) / 1000
    const cpuByEvents = cpuSeconds(pid)
    const total = (keep: (key: string) => boolean) =>
      [...requests].filter(([key]) => keep(key)).reduce((n, [, c]) => n + c, 0)
    const perNode = total((key) => !key.startsWith("LIST ") && !key.startsWith("WATCH ")) / NODES
    const breakdown = [...requests].sort().map(([key, n]) => `${key} ${n}`).join(", ")

    // Right after the burst V8 shrinks the heap (a few full GCs, once); then the process is idle.
    const settleFrom = cpuSeconds(pid)
    await sleep(SETTLE_SECONDS * 1000)
    const settleCpu = cpuSeconds(pid) - settleFrom
    const idleFrom = cpuSeconds(pid)
    await sleep(IDLE_SECONDS * 1000)
    const idlePerMinute = ((cpuSeconds(pid) - idleFrom) * 60) / IDLE_SECONDS
    const peak = procStatusMiB(pid, "VmHWM") ?? NaN
    const connections = proxy.connections()
    const watches = (await watchCount(api)) - watchesBefore
    child.kill("SIGTERM")
    await Promise.race([exited, sleep(10_000)])

    // The Go CCM's figures are for issue 14's run: 300 Nodes at the default QPS.
    const sideBySide = NODES === 300 && QPS === undefined
    const row = (
      metric: string,
      value: number,
      unit: string,
      go: number,
      target: string,
      met: boolean,
      note?: string
    ): BenchRow => ({
      bench,
      metric,
      value,
      unit,
      ...(sideBySide ? { go } : {}),
      ...(target === "" ? {} : { target, met }),
      ...(note === undefined ? {} : { note })
    })
    return [
      row(
        "wall time, start to all Nodes initialised",
        round(wallSeconds),
        "s",
        GO_CCM.wallSeconds,
        sideBySide ? `<= ${GO_CCM.wallSeconds} s` : "",
        wallSeconds <= GO_CCM.wallSeconds,
        `machine load average ${round(load)} on ${cpus().length} cores at start`
      ),
      {
        bench,
        metric: "all Events written, after process start",
        value: round(eventsSeconds),
        unit: "s",
        note: `the Events yield the rate limit to Node writes; the process's CPU when all Nodes were initialised: ${
          round(cpuByThen, 2)
        } s`
      },
      row(
        "CPU seconds by then (by the last Event)",
        round(cpuByEvents, 2),
        "s",
        GO_CCM.cpuSeconds,
        `per Node <= 1.5 x Go's`,
        cpuByEvents / NODES <= (1.5 * GO_CCM.cpuSeconds) / 300
      ),
      row(
        "CPU per initialised Node (Events included)",
        round((cpuByEvents / NODES) * 1000),
        "ms",
        round((GO_CCM.cpuSeconds / 300) * 1000),
        `<= ${round((1.5 * GO_CCM.cpuSeconds * 1000) / 300)} ms`,
        cpuByEvents / NODES <= (1.5 * GO_CCM.cpuSeconds) / 300
      ),
      row(
        "CloudStack calls to initialise them",
        callsByThen,
        "calls",
        GO_CCM.cloudStackCalls,
        "",
        true,
        "counted by the simulator"
      ),
      row(
        "Kubernetes requests per Node initialisation",
        round(perNode, 2),
        "requests",
        GO_CCM.requestsPerNode,
        "<= 3",
        perNode <= 3,
        `apiserver_request_total: ${breakdown}`
      ),
      row(
        "TCP connections to the API server during the run",
        connections,
        "connections",
        GO_CCM.connections,
        "1 + watches",
        connections <= 1 + watches,
        `requests + ${watches} watch${
          watches === 1 ? "" : "es"
        } of Nodes, Services, EndpointSlices (HTTP/1.1, one connection each; a watch is reopened every 5-10 min); the Go CCM multiplexes its watches over its one HTTP/2 connection`
      ),
      row(
        "CPU seconds per idle minute afterwards",
        round(idlePerMinute, 3),
        "s/min",
        GO_CCM.idleCpuPerMinute,
        "< 0.1",
        idlePerMinute < 0.1,
        `over ${IDLE_SECONDS} s from ${SETTLE_SECONDS} s after the last Event; the ${SETTLE_SECONDS} s before: ${
          round(settleCpu, 2)
        } s (V8 shrinking the heap after the burst, once)`
      ),
      row(
        "first Node initialised after process start",
        round(firstSeconds, 2),
        "s",
        GO_CCM.firstNodeSeconds,
        sideBySide ? "<= 1 s" : "",
        firstSeconds <= 1,
        `Go CCM 0.3-0.8 s; the process's CPU by then ${round(cpuAtFirst, 2)} s; machine load average ${
          round(load)
        } on ${cpus().length} cores at start`
      ),
      row("RSS peak (VmHWM), image bundle + settings", round(peak), "MiB", GO_CCM.rssPeakMiB, "< 120 MiB", peak < 120)
    ]
  } finally {
    stopWatch()
    ccm?.kill("SIGKILL")
    api.close()
    await proxy.close()
    await simulator.dispose()
    execFileSync(kubeApiserverScript, ["stop", state])
    rmSync(work, { recursive: true, force: true })
  }
}
