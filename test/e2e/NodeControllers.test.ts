/**
 * The node scenarios end to end: the `cloudstack-ccm` process (TypeScript entry through vite-node)
 * against the REAL kube-apiserver (scripts/kube-apiserver.sh) and the CloudStack simulator's HTTP
 * face (signed requests over loopback). Nodes join tainted and are initialised; a stopped VM's
 * NotReady Node gets the shutdown taint, which goes once it is Ready again; a destroyed VM's Node
 * is deleted.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect } from "effect"
import { join } from "node:path"
import { type CountingProxy, kubeconfigVia, serverOf, startCountingProxy } from "../../bench/CountingProxy.js"
import {
  type CcmProcess,
  type Cluster,
  makeSimulator,
  sleep,
  startCcm,
  startCluster,
  stopAll,
  uninitialisedNodes,
  waitFor,
  writeCloudConfig
} from "./E2eHarness.js"

const UNINITIALIZED = "node.cloudprovider.kubernetes.io/uninitialized"
const SHUTDOWN = "node.cloudprovider.kubernetes.io/shutdown"

const simulator = makeSimulator(3)
let cluster: Cluster | undefined
let proxy: CountingProxy | undefined
let core: k8s.CoreV1Api
let ccm: CcmProcess | undefined

/** Calls the simulator engine directly (the operator's console), as the default admin account. */
const cloud = (command: string, params: Record<string, string>) =>
  simulator.sim((s) => s.handle({ command, params, apiKey: undefined }))

const vmIdOf = async (name: string): Promise<string> => {
  const answer = await cloud("listVirtualMachines", { name, listall: "true" })
  const body = JSON.stringify(answer.body)
  const match = new RegExp(`"id":"([0-9a-f-]{36})","name":"${name}"`).exec(body)
  if (match?.[1] === undefined) throw new Error(`no VM ${name}: ${body.slice(0, 300)}`)
  return match[1]
}

beforeAll(async () => {
  cluster = startCluster("ccm-e2e-nodes-")
  core = cluster.core
  const apiUrl = await simulator.apiUrl()
  await uninitialisedNodes(core, ["node-1", "node-2", "node-3", "web-1.cluster.example"])
  // The CCM reaches the API server through a proxy that counts its connections.
  proxy = await startCountingProxy(serverOf(cluster.apiserver.kubeconfig))
  const viaProxy = kubeconfigVia(cluster.apiserver.kubeconfig, proxy, join(cluster.dir, "kubeconfig"))
  ccm = startCcm([
    "--cloud-provider=external-cloudstack",
    `--cloud-config=${writeCloudConfig(join(cluster.dir, "cloud-config"), apiUrl)}`,
    `--kubeconfig=${viaProxy}`,
    "--controllers=cloud-node,cloud-node-lifecycle",
    "--leader-elect=false",
    "--plain-http",
    "--bind-address=127.0.0.1",
    "--secure-port=0",
    "--node-monitor-period=1s",
    "--node-status-update-frequency=5s"
  ])
}, 180_000)

afterAll(async () => {
  await ccm?.stop()
  await proxy?.close()
  await stopAll(undefined, cluster, simulator)
})

const node = (name: string) => core.readNode({ name }).then((n) => n, () => undefined)
const hasTaint = (n: k8s.V1Node | undefined, key: string) => (n?.spec?.taints ?? []).some((t) => t.key === key)
const tail = () => ccm?.tail() ?? ""

describe("node controllers as the cloudstack-ccm process (real kube-apiserver, HTTP simulator)", () => {
  it.live(
    "initialise, shutdown taint on stop and off when Ready, deletion of a gone VM's node",
    () =>
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
        // Events are written in the background, after the update that initialised the Node.
        const synced = await waitFor("4 Synced Events", 10_000, async () => {
          const events = await core.listNamespacedEvent({ namespace: "default" })
          const count = events.items.filter((e) => e.reason === "Synced").length
          return count >= 4 ? count : undefined
        }, tail)
        assert.isAtLeast(synced, 4)

        // Nodes registered without a kubelet have no Ready condition: NotReady for the lifecycle controller.
        await cloud("stopVirtualMachine", { id: await vmIdOf("node-2") })
        await waitFor(
          "shutdown taint on node-2",
          30_000,
          async () => (hasTaint(await node("node-2"), SHUTDOWN) ? true : undefined),
          tail
        )

        // Back up and Ready again (the kubelet's status report): the shutdown taint goes.
        await cloud("startVirtualMachine", { id: await vmIdOf("node-2") })
        const now = new Date()
        await core.patchNodeStatus(
          {
            name: "node-2",
            body: {
              status: {
                conditions: [{
                  type: "Ready",
                  status: "True",
                  reason: "KubeletReady",
                  message: "kubelet is posting ready status",
                  lastHeartbeatTime: now,
                  lastTransitionTime: now
                }]
              }
            }
          },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
        )
        await waitFor(
          "shutdown taint removed from Ready node-2",
          30_000,
          async () => (hasTaint(await node("node-2"), SHUTDOWN) ? undefined : true),
          tail
        )

        await cloud("destroyVirtualMachine", { id: await vmIdOf("node-3"), expunge: "true" })
        await waitFor(
          "node-3 deleted",
          30_000,
          async () => ((await node("node-3")) === undefined ? true : undefined),
          tail
        )
        assert.isDefined(await node("node-1"))
        const events = await core.listNamespacedEvent({ namespace: "default" })
        assert.isTrue(events.items.some((e) => e.reason === "DeletingNode" && e.involvedObject.name === "node-3"))
        // Every request of the process so far (lists, updates, status patches, Events, deletion) went
        // over one kept-alive connection; the Node watch holds the other.
        assert.strictEqual(proxy?.connections(), 2, tail())
      }),
    180_000
  )

  it.live(
    "a CloudStack outage deletes nothing; the gone VM's node goes once CloudStack answers",
    () =>
      Effect.promise(async () => {
        const id = await vmIdOf("node-1")
        await simulator.sim((s) =>
          s.setFaults({ errorRates: [{ command: "listVirtualMachines", code: 530, rate: 1 }] })
        )
        await cloud("destroyVirtualMachine", { id, expunge: "true" })
        // node-1 has no Ready condition: every monitor round (1 s) would delete it if CloudStack answered.
        await sleep(6_000)
        assert.isDefined(await node("node-1"), tail())
        const refused = (await simulator.callLog())
          .filter((c) => c.command === "listVirtualMachines" && c.status === 530).length
        assert.isAtLeast(refused, 3, "the CCM kept asking during the outage")
        await simulator.sim((s) => s.setFaults({ errorRates: [] }))
        await waitFor(
          "node-1 deleted after the outage",
          30_000,
          async () => ((await node("node-1")) === undefined ? true : undefined),
          tail
        )
      }),
    60_000
  )
})
