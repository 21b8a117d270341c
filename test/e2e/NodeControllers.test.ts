/**
 * The node scenarios end to end: the `cloudstack-ccm` process (TypeScript entry through vite-node)
 * against the REAL kube-apiserver (scripts/kube-apiserver.sh) and the CloudStack simulator's HTTP
 * face (signed requests over loopback). Nodes join tainted and are initialised; a stopped VM's
 * NotReady Node gets the shutdown taint, which goes once it is Ready again; a destroyed VM's Node
 * is deleted.
 */
import * as k8s from "@kubernetes/client-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer, ManagedRuntime } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { type CountingProxy, kubeconfigVia, serverOf, startCountingProxy } from "../../bench/CountingProxy.js"
import { startRealApiServer, type RunningApiServer } from "../contracts/RealApiServer.js"

const repo = join(import.meta.dirname, "..", "..")
const viteNode = join(repo, "node_modules", "vite-node", "vite-node.mjs")
const bin = join(repo, "src", "cli", "bin.ts")
const UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
const SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const waitFor = async <A>(what: string, timeoutMs: number, probe: () => Promise<A | undefined>, debug: () => string): Promise<A> => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const value = await probe()
    if (value !== undefined) return value
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}\n${debug()}`)
}

const simulator = ManagedRuntime.make(
  HttpFace.layer({ port: 0, isCommand: Simulator.isCommand }).pipe(
    Layer.provideMerge(Simulator.layer(demoWorld, { seed: 3 }))
  )
)

let apiserver: RunningApiServer
let proxy: CountingProxy
let core: k8s.CoreV1Api
let dir = ""
let ccm: ChildProcess | undefined
let stderr = ""

/** Calls the simulator engine directly (the operator's console), as the default admin account. */
const cloud = (command: string, params: Record<string, string>) =>
  simulator.runPromise(Effect.flatMap(CloudStackSimulator, (s) => s.handle({ command, params, apiKey: undefined })))

const vmIdOf = async (name: string): Promise<string> => {
  const answer = await cloud("listVirtualMachines", { name, listall: "true" })
  const body = JSON.stringify(answer.body)
  const match = new RegExp(`"id":"([0-9a-f-]{36})","name":"${name}"`).exec(body)
  if (match?.[1] === undefined) throw new Error(`no VM ${name}: ${body.slice(0, 300)}`)
  return match[1]
}

beforeAll(async () => {
  apiserver = startRealApiServer()
  const config = new k8s.KubeConfig()
  config.loadFromFile(apiserver.kubeconfig)
  core = config.makeApiClient(k8s.CoreV1Api)
  const face = await simulator.runPromise(HttpFace.SimulatorHttpServer)
  dir = mkdtempSync(join(tmpdir(), "ccm-e2e-nodes-"))
  // The CCM reaches the API server through a proxy that counts its connections.
  proxy = await startCountingProxy(serverOf(apiserver.kubeconfig))
  const viaProxy = kubeconfigVia(apiserver.kubeconfig, proxy, join(dir, "kubeconfig"))
  const cloudConfig = join(dir, "cloud-config")
  writeFileSync(
    cloudConfig,
    ["[Global]", `api-url = ${face.apiUrl}`, "api-key = demo-admin-api-key", "secret-key = demo-admin-secret-key", ""].join("\n")
  )
  for (const name of ["node-1", "node-2", "node-3", "web-1.cluster.example"]) {
    await core.createNode({
      body: {
        metadata: { name, labels: { "kubernetes.io/hostname": name } },
        spec: { taints: [{ key: UNINITIALIZED, value: "true", effect: "NoSchedule" }] }
      }
    })
  }
  ccm = spawn(process.execPath, [
    viteNode,
    bin,
    "--cloud-provider=external-cloudstack",
    `--cloud-config=${cloudConfig}`,
    `--kubeconfig=${viaProxy}`,
    "--controllers=cloud-node,cloud-node-lifecycle",
    "--leader-elect=false",
    "--plain-http",
    "--bind-address=127.0.0.1",
    "--secure-port=0",
    "--node-monitor-period=1s",
    "--node-status-update-frequency=5s"
  ], { cwd: repo, stdio: ["ignore", "ignore", "pipe"] })
  ccm.stderr?.setEncoding("utf8")
  ccm.stderr?.on("data", (chunk: string) => (stderr += chunk))
}, 180_000)

afterAll(async () => {
  if (ccm !== undefined && ccm.exitCode === null) {
    const exited = new Promise((resolve) => ccm?.once("exit", resolve))
    ccm.kill("SIGTERM")
    await Promise.race([exited, sleep(10_000)])
    if (ccm.exitCode === null) ccm.kill("SIGKILL")
  }
  await proxy?.close()
  apiserver?.stop()
  await simulator.dispose()
  if (dir !== "") rmSync(dir, { recursive: true, force: true })
})

const node = (name: string) =>
  core.readNode({ name }).then((n) => n, () => undefined)
const hasTaint = (n: k8s.V1Node | undefined, key: string) => (n?.spec?.taints ?? []).some((t) => t.key === key)
const tail = () => stderr.split("\n").slice(-15).join("\n")

describe("node controllers as the cloudstack-ccm process (real kube-apiserver, HTTP simulator)", () => {
  it.live("initialise, shutdown taint on stop and off when Ready, deletion of a gone VM's node", () =>
    Effect.promise(async () => {
      const names = ["node-1", "node-2", "node-3", "web-1.cluster.example"]
      await waitFor("all nodes initialised", 90_000, async () => {
        const nodes = await Promise.all(names.map(node))
        return nodes.every((n) => n !== undefined && !hasTaint(n, UNINITIALIZED)) ? true : undefined
      }, tail)
      const n1 = await node("node-1")
      assert.strictEqual(n1?.spec?.providerID, `external-cloudstack://${await vmIdOf("node-1")}`)
      assert.strictEqual(n1?.metadata?.labels?.["topology.kubernetes.io/zone"], "zone1")
      assert.strictEqual(n1?.metadata?.labels?.["node.kubernetes.io/instance-type"], "SmallInstance")
      assert.deepStrictEqual(
        (n1?.status?.addresses ?? []).filter((a) => a.type === "InternalIP").map((a) => a.address),
        ["10.1.1.11", "fd00:1:1::11"]
      )
      const web = await node("web-1.cluster.example")
      assert.strictEqual(web?.spec?.providerID, `external-cloudstack://${await vmIdOf("web-1")}`)
      const synced = await core.listNamespacedEvent({ namespace: "default" })
      assert.isAtLeast(synced.items.filter((e) => e.reason === "Synced").length, 4)

      // Nodes registered without a kubelet have no Ready condition: NotReady for the lifecycle controller.
      await cloud("stopVirtualMachine", { id: await vmIdOf("node-2") })
      await waitFor("shutdown taint on node-2", 30_000, async () => (hasTaint(await node("node-2"), SHUTDOWN) ? true : undefined), tail)

      // Back up and Ready again (the kubelet's status report): the shutdown taint goes.
      await cloud("startVirtualMachine", { id: await vmIdOf("node-2") })
      const now = new Date()
      await core.patchNodeStatus(
        {
          name: "node-2",
          body: { status: { conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status", lastHeartbeatTime: now, lastTransitionTime: now }] } }
        },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
      )
      await waitFor("shutdown taint removed from Ready node-2", 30_000, async () => (hasTaint(await node("node-2"), SHUTDOWN) ? undefined : true), tail)

      await cloud("destroyVirtualMachine", { id: await vmIdOf("node-3"), expunge: "true" })
      await waitFor("node-3 deleted", 30_000, async () => ((await node("node-3")) === undefined ? true : undefined), tail)
      assert.isDefined(await node("node-1"))
      const events = await core.listNamespacedEvent({ namespace: "default" })
      assert.isTrue(events.items.some((e) => e.reason === "DeletingNode" && e.involvedObject.name === "node-3"))
      // Every request of the process so far (lists, updates, status patches, Events, deletion) went
      // over one kept-alive connection; the Node watch holds the other.
      assert.strictEqual(proxy.connections(), 2, tail())
    }), 180_000)

  it.live("a CloudStack outage deletes nothing; the gone VM's node goes once CloudStack answers", () =>
    Effect.promise(async () => {
      const id = await vmIdOf("node-1")
      await simulator.runPromise(Effect.flatMap(CloudStackSimulator, (s) =>
        s.setFaults({ errorRates: [{ command: "listVirtualMachines", code: 530, rate: 1 }] })))
      await cloud("destroyVirtualMachine", { id, expunge: "true" })
      // node-1 has no Ready condition: every monitor round (1 s) would delete it if CloudStack answered.
      await sleep(6_000)
      assert.isDefined(await node("node-1"), tail())
      const refused = (await simulator.runPromise(Effect.flatMap(CloudStackSimulator, (s) => s.callLog)))
        .filter((c) => c.command === "listVirtualMachines" && c.status === 530).length
      assert.isAtLeast(refused, 3, "the CCM kept asking during the outage")
      await simulator.runPromise(Effect.flatMap(CloudStackSimulator, (s) => s.setFaults({ errorRates: [] })))
      await waitFor("node-1 deleted after the outage", 30_000, async () => ((await node("node-1")) === undefined ? true : undefined), tail)
    }), 60_000)
})
