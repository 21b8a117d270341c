/**
 * What the load-balancer e2e files share: the CloudStack simulator's HTTP face in this process (its
 * state and call log read directly), the `cloudstack-ccm` process (TypeScript entry through
 * vite-node) with /metrics on a loopback port, and Debian's python3-cs command line as the
 * independent client that changes CloudStack by hand or leaves what another CCM would have left.
 */
import * as k8s from "@kubernetes/client-node"
import { Effect, Layer, ManagedRuntime } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { promisify } from "node:util"
import * as CallCounts from "../../src/simulation/cloudstack/CallCounts.js"
import { type CallRecord, CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { type RunningApiServer, startRealApiServer } from "../contracts/RealApiServer.js"

const repo = join(import.meta.dirname, "..", "..")
const viteNode = join(repo, "node_modules", "vite-node", "vite-node.mjs")
const bin = join(repo, "src", "cli", "bin.ts")
const run = promisify(execFile)

export const ADMIN_KEY = "demo-admin-api-key"
export const ADMIN_SECRET = "demo-admin-secret-key"
export const FINALIZER = "service.kubernetes.io/load-balancer-cleanup"

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` every 200 ms until it gives a value; the failure shows `debug()` (the CCM's log tail). */
export const waitFor = async <A>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<A | undefined>,
  debug: () => string
): Promise<A> => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const value = await probe()
    if (value !== undefined) return value
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}\n${debug()}`)
}

/** The demo world behind the HTTP face, in this process. */
export const makeSimulator = (seed: number) => {
  const runtime = ManagedRuntime.make(
    HttpFace.layer({ port: 0, isCommand: Simulator.isCommand }).pipe(
      Layer.provideMerge(Simulator.layer(demoWorld, { seed }))
    )
  )
  const sim = <A>(f: (s: CloudStackSimulator["Type"]) => Effect.Effect<A>) =>
    runtime.runPromise(Effect.flatMap(CloudStackSimulator, f))
  return {
    /** Runs `f` on the simulator service (direct engine calls, faults). */
    sim,
    apiUrl: () => runtime.runPromise(Effect.map(HttpFace.SimulatorHttpServer, (s) => s.apiUrl)),
    state: () => sim((s) => s.state),
    callLog: () => sim((s) => s.callLog),
    dispose: () => runtime.dispose()
  }
}

export type Sim = ReturnType<typeof makeSimulator>

export interface Cluster {
  readonly apiserver: RunningApiServer
  readonly core: k8s.CoreV1Api
  /** A private temporary directory (cloud-config files). */
  readonly dir: string
}

/** A real kube-apiserver of its own, a client of it, and a temporary directory. */
export const startCluster = (prefix: string): Cluster => {
  const apiserver = startRealApiServer()
  const config = new k8s.KubeConfig()
  config.loadFromFile(apiserver.kubeconfig)
  return { apiserver, core: config.makeApiClient(k8s.CoreV1Api), dir: mkdtempSync(join(tmpdir(), prefix)) }
}

/** Stops the CCM, then the API server and the simulator, and removes the directory. */
export const stopAll = async (ccm: CcmProcess | undefined, cluster: Cluster | undefined, sim: Sim) => {
  await ccm?.stop()
  cluster?.apiserver.stop()
  await sim.dispose()
  if (cluster !== undefined) rmSync(cluster.dir, { recursive: true, force: true })
}

/** Writes a cloud-config for the simulator's admin account at `path` (the fork's chart quotes the values). */
export const writeCloudConfig = (path: string, apiUrl: string, quoted = false) => {
  const value = (v: string) => (quoted ? `"${v}"` : v)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(
    path,
    [
      "[Global]",
      `api-url = ${value(apiUrl)}`,
      `api-key = ${value(ADMIN_KEY)}`,
      `secret-key = ${value(ADMIN_SECRET)}`,
      ""
    ].join("\n")
  )
  return path
}

/** Nodes as a CCM initialised them: providerID set, no uninitialized taint. */
export const initialisedNodes = async (
  core: k8s.CoreV1Api,
  nodes: ReadonlyArray<{ readonly name: string; readonly providerID: string }>
) => {
  for (const { name, providerID } of nodes) {
    await core.createNode({
      body: { metadata: { name, labels: { "kubernetes.io/hostname": name } }, spec: { providerID } }
    })
  }
}

/** Nodes as the kubelet registers them: tainted until a CCM initialises them. */
export const uninitialisedNodes = async (core: k8s.CoreV1Api, names: ReadonlyArray<string>) => {
  for (const name of names) {
    await core.createNode({
      body: {
        metadata: { name, labels: { "kubernetes.io/hostname": name } },
        spec: {
          taints: [{ key: "node.cloudprovider.kubernetes.io/uninitialized", value: "true", effect: "NoSchedule" }]
        }
      }
    })
  }
}

const isMutating = CallCounts.isMutation
/** The mutating calls of a slice of the call log, as `command` names. */
export const mutations = (calls: ReadonlyArray<CallRecord>) =>
  calls.filter((c) => isMutating(c.command)).map((c) => c.command)

export { freePort } from "../fakes/Ports.js"

export interface CcmProcess {
  readonly tail: () => string
  readonly stop: () => Promise<void>
}

/** Starts `cloudstack-ccm` with `args`; its stderr (the JSON log) is kept for failure messages. */
export const startCcm = (args: ReadonlyArray<string>): CcmProcess => {
  let stderr = ""
  const ccm: ChildProcess = spawn(process.execPath, [viteNode, bin, ...args], {
    cwd: repo,
    stdio: ["ignore", "ignore", "pipe"]
  })
  ccm.stderr?.setEncoding("utf8")
  ccm.stderr?.on("data", (chunk: string) => (stderr += chunk))
  return {
    tail: () => stderr.split("\n").slice(-20).join("\n"),
    stop: async () => {
      if (ccm.exitCode !== null) return
      const exited = new Promise((resolve) => ccm.once("exit", resolve))
      ccm.kill("SIGTERM")
      await Promise.race([exited, sleep(10_000)])
      if (ccm.exitCode === null) ccm.kill("SIGKILL")
    }
  }
}

/** `cloudstack_ccm_lb_drift_repaired_total` by kind, from the process's /metrics. */
export const driftRepaired = async (metricsPort: number): Promise<Record<string, number>> => {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const line of text.split("\n")) {
    const match = /^cloudstack_ccm_lb_drift_repaired_total\{kind="([a-z]+)"\} (\d+)$/.exec(line)
    if (match?.[1] !== undefined) out[match[1]] = Number(match[2])
  }
  return out
}

/**
 * Debian's python3-cs command line (`python3 -m cs`, exoscale/cs 2.7.1) against the HTTP face, as
 * the admin account; mutating commands by POST, async ones awaited. Its JSON answer is returned.
 */
export const csCli =
  (apiUrl: string) => async (command: string, params: Readonly<Record<string, string>> = {}): Promise<unknown> => {
    const post = isMutating(command) ? ["--post"] : []
    const args = ["-m", "cs", "--quiet", ...post, command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)]
    const env = {
      ...process.env,
      CLOUDSTACK_ENDPOINT: apiUrl,
      CLOUDSTACK_KEY: ADMIN_KEY,
      CLOUDSTACK_SECRET: ADMIN_SECRET,
      CLOUDSTACK_POLL_INTERVAL: "0.05",
      CLOUDSTACK_TIMEOUT: "30"
    }
    const { stdout } = await run("/usr/bin/python3", args, { env, timeout: 60_000 })
    return JSON.parse(stdout)
  }
