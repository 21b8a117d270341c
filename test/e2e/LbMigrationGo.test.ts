/**
 * Migration from the Go CCM (apache/cloudstack-kubernetes-provider v1.2.0) end to end: the HTTP
 * simulator holds what it left for three Services (python3-cs makes its calls: an auto-allocated IP
 * with two rules, a `loadBalancerIP` it associated and marked `...-ip-associated-by-controller`, a
 * `loadBalancerIP` the user had allocated), the real kube-apiserver its Nodes and Services. The
 * `cloudstack-ccm` process starts with the Go Deployment's flags and adopts them: no delete, no new
 * IP, no rule recreated, status and finalizer unchanged, its record annotations and tags added, and
 * drift periods later still nothing to repair. Deleting the Services cleans up by the Go CCM's
 * ownership: its IPs released, the user's kept.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect } from "effect"
import { join } from "node:path"
import {
  type CcmProcess,
  type Cluster,
  csCli,
  FINALIZER,
  initialisedNodes,
  makeSimulator,
  startCcm,
  startCluster,
  stopAll,
  writeCloudConfig
} from "./E2eHarness.js"
import {
  assertAdopted,
  ASSOCIATED,
  associateIp,
  createLbService,
  deleteAndCheck,
  ID,
  lbAnnotations,
  leaveLb,
  markEnsured,
  type PublicIp,
  type Seeded
} from "./MigrationHarness.js"

const simulator = makeSimulator(21)
let cluster: Cluster | undefined
let core: k8s.CoreV1Api
let ccm: CcmProcess | undefined
const tail = () => ccm?.tail() ?? ""
const seeded: Array<Seeded> = []
let callsAtStart = 0
let providerIDs: ReadonlyArray<string> = []

/** The Go CCM's LB name: `a` + the Service UID without dashes, 32 characters. */
const goName = (uid: string) => `a${uid.replace(/-/g, "")}`.slice(0, 32)

beforeAll(async () => {
  cluster = startCluster("ccm-e2e-go-")
  core = cluster.core
  const apiUrl = await simulator.apiUrl()
  const cs = csCli(apiUrl)
  const world = await simulator.state()
  const networkId = world.networks.find((n) => n.name === "isolated1")?.uuid ?? ""
  const nodes = ["node-1", "node-2", "node-3"].map((name) => ({
    name,
    vm: world.vms.find((v) => v.name === name)?.uuid ?? ""
  }))
  // The Go CCM's providerIDs (v1.2.0, PR #85): external-cloudstack://<vm id>.
  providerIDs = nodes.map((n) => `external-cloudstack://${n.vm}`)
  await initialisedNodes(core, nodes.map((n, i) => ({ name: n.name, providerID: providerIDs[i] ?? "" })))
  const [free1, free2] = world.publicIps.filter((ip) => ip.state === "Free").map((ip) => ip.address).slice(-2)
  if (free1 === undefined || free2 === undefined) throw new Error("the demo world has no free addresses")

  const leave = async (
    name: string,
    ip: PublicIp,
    ports: ReadonlyArray<number>,
    extra: Parameters<typeof createLbService>[4],
    annotations: Record<string, string>
  ) => {
    const svc = await createLbService(core, "default", name, ports, extra)
    const left = await leaveLb(cs, {
      name: goName(svc.uid),
      ip,
      networkId,
      ports: svc.ports,
      vmIds: nodes.map((n) => n.vm),
      ruleCidrs: true
    })
    await markEnsured(core, "default", name, FINALIZER, annotations, [{ ip: ip.address }])
    seeded.push({
      name,
      uid: svc.uid,
      ip,
      left,
      before: await core.readNamespacedService({ name, namespace: "default" })
    })
  }
  // An auto-allocated IP, two ports: no annotation (the Go CCM writes it only for a requested IP).
  await leave("go-auto", await associateIp(cs, networkId), [80, 443], {}, {})
  // loadBalancerIP free until the Go CCM associated it (PR #82): it says so in its annotation.
  await leave("go-requested", await associateIp(cs, networkId, free1), [80], { loadBalancerIP: free1 }, {
    [ASSOCIATED]: "true"
  })
  // loadBalancerIP the user had allocated before: used as it was, no annotation.
  await leave("go-user-ip", await associateIp(cs, networkId, free2), [80], { loadBalancerIP: free2 }, {})

  // The Go Deployment: Secret cloudstack-secret (key cloud-config) mounted at /config, its three flags.
  const cloudConfig = writeCloudConfig(join(cluster.dir, "config", "cloud-config"), apiUrl)
  callsAtStart = (await simulator.callLog()).length
  ccm = startCcm([
    "--leader-elect=true",
    "--cloud-provider=external-cloudstack",
    `--cloud-config=${cloudConfig}`,
    // what the pod has from its ServiceAccount; no serving port; a short drift period
    `--kubeconfig=${cluster.apiserver.kubeconfig}`,
    "--secure-port=0",
    "--lb-resync-period=3s"
  ])
}, 240_000)

afterAll(() => stopAll(ccm, cluster, simulator))

describe("migration from the Go CCM v1.2.0 (cloudstack-ccm process, real kube-apiserver, HTTP simulator)", () => {
  it.live(
    "its LBs are adopted as they are; deleting the Services releases its IPs and keeps the user's",
    () =>
      Effect.promise(async () => {
        await assertAdopted(simulator, core, seeded, {
          cluster: "kubernetes",
          callsAtStart,
          idleMs: 10_000,
          tail,
          providerIDs,
          releasable: ["go-auto", "go-requested"]
        })
        // The record: the IP's id; ip-associated-by-controller where the Go CCM associated the IP.
        const [auto, requested, user] = seeded
        if (auto === undefined || requested === undefined || user === undefined) return assert.fail("not seeded")
        assert.deepStrictEqual(await lbAnnotations(core, "go-auto"), { [ID]: auto.ip.id, [ASSOCIATED]: "true" })
        assert.deepStrictEqual(await lbAnnotations(core, "go-requested"), {
          [ID]: requested.ip.id,
          [ASSOCIATED]: "true"
        })
        assert.deepStrictEqual(await lbAnnotations(core, "go-user-ip"), { [ID]: user.ip.id })

        const deletion = await deleteAndCheck(simulator, core, [
          { seeded: auto, ipState: "Free" },
          { seeded: requested, ipState: "Free" },
          { seeded: user, ipState: "Allocated" }
        ], tail)
        // The Go CCM's IPs released with their rules and firewall rules (one call each); the user's
        // IP kept, its rule and firewall rule deleted one by one.
        assert.deepStrictEqual(deletion, [
          "deleteFirewallRule",
          "deleteLoadBalancerRule",
          "disassociateIpAddress",
          "disassociateIpAddress"
        ])
      }),
    240_000
  )
})
