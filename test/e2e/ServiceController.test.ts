/**
 * LoadBalancer Services end to end: the `cloudstack-ccm` process (all controllers) against the REAL
 * kube-apiserver and the CloudStack simulator's HTTP face. A Service gets its IP (status via the
 * status subresource, finalizer, record annotations), a port change replaces its rule, a node
 * leaving updates the members, and a delete releases everything.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect } from "effect"
import { join } from "node:path"
import {
  type CcmProcess,
  type Cluster,
  FINALIZER,
  makeSimulator,
  startCcm,
  startCluster,
  stopAll,
  uninitialisedNodes,
  waitFor,
  writeCloudConfig
} from "./E2eHarness.js"

const simulator = makeSimulator(5)
const state = () => simulator.state()

let cluster: Cluster | undefined
let apiserver: Cluster["apiserver"]
let core: k8s.CoreV1Api
let ccm: CcmProcess | undefined
const tail = () => ccm?.tail() ?? ""

beforeAll(async () => {
  cluster = startCluster("ccm-e2e-lb-")
  apiserver = cluster.apiserver
  core = cluster.core
  const apiUrl = await simulator.apiUrl()
  await uninitialisedNodes(core, ["node-1", "node-2", "node-3"])
  ccm = startCcm([
    "--cloud-provider=external-cloudstack",
    `--cloud-config=${writeCloudConfig(join(cluster.dir, "cloud-config"), apiUrl)}`,
    `--kubeconfig=${apiserver.kubeconfig}`,
    "--leader-elect=false",
    "--secure-port=0",
    "--concurrent-service-syncs=2"
  ])
}, 180_000)

afterAll(() => stopAll(ccm, cluster, simulator))

const service = (name: string) =>
  core.readNamespacedService({ name, namespace: "default" }).then((s) => s, () => undefined)
const lbPrefix = (uid: string) => `a${uid.replace(/-/g, "")}`.slice(0, 32) + "-"
const rulesOf = async (uid: string) => (await state()).lbRules.filter((r) => r.name.startsWith(lbPrefix(uid)))

describe("the service controller as the cloudstack-ccm process (real kube-apiserver, HTTP simulator)", () => {
  it.live(
    "create, port change, a node leaving, externalTrafficPolicy Local (v1beta1 EndpointSlices), delete",
    () =>
      Effect.promise(async () => {
        const before = (await state()).publicIps.filter((ip) => ip.state !== "Free").length
        const created = await core.createNamespacedService({
          namespace: "default",
          body: {
            metadata: { name: "web" },
            spec: { type: "LoadBalancer", ports: [{ name: "http", port: 80, protocol: "TCP" }] }
          }
        })
        const uid = created.metadata?.uid ?? ""
        const ip = await waitFor(
          "web's status IP",
          90_000,
          async () => (await service("web"))?.status?.loadBalancer?.ingress?.[0]?.ip,
          tail
        )
        const web = await service("web")
        assert.deepStrictEqual(web?.metadata?.finalizers, [FINALIZER])
        const rules = await waitFor("a rule with three members", 30_000, async () => {
          const rs = await rulesOf(uid)
          return rs.length === 1 && rs[0]?.members.size === 3 ? rs : undefined
        }, tail)
        const s = await state()
        assert.strictEqual(s.publicIps.find((i) => i.uuid === rules[0]?.ipUuid)?.address, ip)
        assert.strictEqual(
          web?.metadata?.annotations?.["service.beta.kubernetes.io/cloudstack-load-balancer-id"],
          rules[0]?.ipUuid
        )
        assert.strictEqual(
          web?.metadata?.annotations
            ?.["service.beta.kubernetes.io/cloudstack-load-balancer-ip-associated-by-controller"],
          "true"
        )
        const events = await core.listNamespacedEvent({ namespace: "default" })
        assert.isTrue(events.items.some((e) => e.reason === "EnsuredLoadBalancer" && e.involvedObject.name === "web"))

        // The port changes: the rule is replaced, on the same IP.
        await core.patchNamespacedService(
          {
            name: "web",
            namespace: "default",
            body: {
              spec: {
                ports: [{ name: "http", port: 8080, protocol: "TCP", nodePort: web?.spec?.ports?.[0]?.nodePort }]
              }
            }
          },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
        )
        await waitFor("the rule on 8080", 30_000, async () => {
          const rs = await rulesOf(uid)
          return rs.length === 1 && rs[0]?.publicPort === 8080 ? true : undefined
        }, tail)
        assert.strictEqual((await service("web"))?.status?.loadBalancer?.ingress?.[0]?.ip, ip)

        // A node leaves the cluster: it leaves the rule.
        await core.deleteNode({ name: "node-3" })
        await waitFor(
          "two members",
          30_000,
          async () => ((await rulesOf(uid))[0]?.members.size === 2 ? true : undefined),
          tail
        )

        // externalTrafficPolicy Local: only the node with a ready endpoint (a v1beta1 EndpointSlice on 1.20).
        const custom = (() => {
          const config = new k8s.KubeConfig()
          config.loadFromFile(apiserver.kubeconfig)
          return config.makeApiClient(k8s.CustomObjectsApi)
        })()
        await custom.createNamespacedCustomObject({
          group: "discovery.k8s.io",
          version: "v1beta1",
          namespace: "default",
          plural: "endpointslices",
          body: {
            apiVersion: "discovery.k8s.io/v1beta1",
            kind: "EndpointSlice",
            metadata: { name: "web-local", labels: { "kubernetes.io/service-name": "web" } },
            addressType: "IPv4",
            endpoints: [
              {
                addresses: ["10.244.1.5"],
                conditions: { ready: true },
                topology: { "kubernetes.io/hostname": "node-1" }
              },
              {
                addresses: ["10.244.2.5"],
                conditions: { ready: false },
                topology: { "kubernetes.io/hostname": "node-2" }
              }
            ],
            ports: [{ name: "http", port: 8080, protocol: "TCP" }]
          }
        })
        await core.patchNamespacedService(
          { name: "web", namespace: "default", body: { spec: { externalTrafficPolicy: "Local" } } },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
        )
        await waitFor(
          "one member (node-1's ready endpoint)",
          30_000,
          async () => ((await rulesOf(uid))[0]?.members.size === 1 ? true : undefined),
          tail
        )

        // Delete: the finalizer holds the Service until everything is gone.
        await core.deleteNamespacedService({ name: "web", namespace: "default" })
        await waitFor(
          "web deleted",
          60_000,
          async () => ((await service("web")) === undefined ? true : undefined),
          tail
        )
        assert.deepStrictEqual(await rulesOf(uid), [])
        assert.strictEqual((await state()).publicIps.filter((i) => i.state !== "Free").length, before)
      }),
    240_000
  )
})
