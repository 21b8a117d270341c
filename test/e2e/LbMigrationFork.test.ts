/**
 * Migration from the leaseweb fork (v1.8.1) end to end: the HTTP simulator holds what it left for
 * three Services (python3-cs makes its calls: rules named `K8s_svc_<cluster>_<namespace>_<service>-
 * tcp-<port>` without cidrlist, members, firewall rules), the real kube-apiserver its Nodes
 * (`cloudstack:///<vm>`) and Services (`...-address`, `...-id`, `...-network-id`, a user's
 * `...-keep-ip`). The `cloudstack-ccm` process starts with the fork chart's flags (`--cluster-name`
 * feeding the names) and adopts them as they are; a port added later gets a rule under this CCM's
 * name beside the fork's. Deleting the Services cleans up as the fork did: IPs released unless
 * keep-ip, also one the user had allocated.
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
  waitFor,
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
  type Seeded,
  tagsOf
} from "./MigrationHarness.js"

const CLUSTER = "prod"
const ADDRESS = "service.beta.kubernetes.io/cloudstack-load-balancer-address"
const NETWORK_ID = "service.beta.kubernetes.io/cloudstack-load-balancer-network-id"
const KEEP_IP = "service.beta.kubernetes.io/cloudstack-load-balancer-keep-ip"

const simulator = makeSimulator(31)
let cluster: Cluster | undefined
let core: k8s.CoreV1Api
let ccm: CcmProcess | undefined
const tail = () => ccm?.tail() ?? ""
const seeded: Array<Seeded> = []
let callsAtStart = 0
let providerIDs: ReadonlyArray<string> = []
let networkId = ""

beforeAll(async () => {
  cluster = startCluster("ccm-e2e-fork-")
  core = cluster.core
  const apiUrl = await simulator.apiUrl()
  const cs = csCli(apiUrl)
  const world = await simulator.state()
  networkId = world.networks.find((n) => n.name === "isolated1")?.uuid ?? ""
  const nodes = ["node-1", "node-2", "node-3"].map((name) => ({
    name,
    vm: world.vms.find((v) => v.name === name)?.uuid ?? ""
  }))
  // The fork's providerIDs: cloudstack:///<vm id>.
  providerIDs = nodes.map((n) => `cloudstack:///${n.vm}`)
  await initialisedNodes(core, nodes.map((n, i) => ({ name: n.name, providerID: providerIDs[i] ?? "" })))
  const [free] = world.publicIps.filter((ip) => ip.state === "Free").map((ip) => ip.address).slice(-1)
  if (free === undefined) throw new Error("the demo world has no free address")

  const leave = async (name: string, ip: PublicIp, user: Record<string, string>) => {
    const svc = await createLbService(core, "default", name, [80], { annotations: user })
    const left = await leaveLb(cs, {
      name: `K8s_svc_${CLUSTER}_default_${name}`,
      ip,
      networkId,
      ports: svc.ports,
      vmIds: nodes.map((n) => n.vm),
      ruleCidrs: false
    })
    // The fork's record of the IP, and its status (ipMode is dropped by API servers before 1.29).
    await markEnsured(core, "default", name, FINALIZER, {
      ...user,
      [ADDRESS]: ip.address,
      [ID]: ip.id,
      [NETWORK_ID]: networkId
    }, [{
      ip: ip.address,
      ipMode: "VIP"
    }])
    seeded.push({
      name,
      uid: svc.uid,
      ip,
      left,
      before: await core.readNamespacedService({ name, namespace: "default" })
    })
  }
  await leave("fork-auto", await associateIp(cs, networkId), {})
  await leave("fork-keep", await associateIp(cs, networkId), { [KEEP_IP]: "true" })
  // An address the user had allocated and asked for: the fork used it as it was.
  const own = await associateIp(cs, networkId, free)
  await leave("fork-user-address", own, { [ADDRESS]: own.address })

  // The fork chart: Secret cloud-config (key cloud.conf, quoted values) at /etc/config, its flags.
  const cloudConfig = writeCloudConfig(join(cluster.dir, "etc", "config", "cloud.conf"), apiUrl, true)
  callsAtStart = (await simulator.callLog()).length
  ccm = startCcm([
    "--v=2",
    `--cloud-config=${cloudConfig}`,
    "--cloud-provider=cloudstack",
    `--cluster-name=${CLUSTER}`,
    "--controllers=cloud-node,cloud-node-lifecycle,route,service",
    "--bind-address=127.0.0.1",
    "--leader-elect=false",
    // what the pod has from its ServiceAccount; no serving port; a short drift period
    `--kubeconfig=${cluster.apiserver.kubeconfig}`,
    "--secure-port=0",
    "--lb-resync-period=3s"
  ])
}, 240_000)

afterAll(() => stopAll(ccm, cluster, simulator))

describe("migration from the leaseweb fork v1.8.1 (cloudstack-ccm process, real kube-apiserver, HTTP simulator)", () => {
  it.live(
    "its LBs are adopted as they are; new rules get this CCM's names; deleting releases the IPs unless keep-ip",
    () =>
      Effect.promise(async () => {
        await assertAdopted(simulator, core, seeded, {
          cluster: CLUSTER,
          callsAtStart,
          idleMs: 10_000,
          tail,
          providerIDs,
          releasable: ["fork-auto", "fork-user-address"]
        })
        const [auto, keep, user] = seeded
        if (auto === undefined || keep === undefined || user === undefined) return assert.fail("not seeded")
        // The fork's annotations stay; ip-associated-by-controller is added (the fork released its IPs).
        const fork = (s: Seeded) => ({
          [ADDRESS]: s.ip.address,
          [ID]: s.ip.id,
          [NETWORK_ID]: networkId,
          [ASSOCIATED]: "true"
        })
        assert.deepStrictEqual(await lbAnnotations(core, "fork-auto"), fork(auto))
        assert.deepStrictEqual(await lbAnnotations(core, "fork-keep"), { ...fork(keep), [KEEP_IP]: "true" })
        assert.deepStrictEqual(await lbAnnotations(core, "fork-user-address"), fork(user))

        // A port added after the migration: a rule named by this CCM beside the fork's, on the same IP.
        const svc = await core.readNamespacedService({ name: "fork-auto", namespace: "default" })
        await core.patchNamespacedService({
          name: "fork-auto",
          namespace: "default",
          body: { spec: { ports: [...(svc.spec?.ports ?? []), { name: "p443", port: 443, protocol: "TCP" }] } }
        }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch))
        const added = `a${auto.uid.replace(/-/g, "")}`.slice(0, 32) + "-tcp-443"
        const rules = await waitFor("the rule for 443", 30_000, async () => {
          const rs = (await simulator.state()).lbRules.filter((r) => r.ipUuid === auto.ip.id)
          return rs.some((r) => r.name === added && r.members.size === 3) ? rs : undefined
        }, tail)
        assert.deepStrictEqual(rules.map((r) => r.name).sort(), [`K8s_svc_${CLUSTER}_default_fork-auto-tcp-80`, added])
        assert.include(rules.map((r) => r.uuid), auto.left.rules[0]?.id, "the fork's rule kept")
        const newRule = rules.find((r) => r.name === added)
        await waitFor(
          "the new rule tagged",
          10_000,
          async () => (Object.keys(await tagsOf(simulator, newRule?.uuid ?? "")).length === 3 ? true : undefined),
          tail
        )

        const deletion = await deleteAndCheck(simulator, core, [
          { seeded: auto, ipState: "Free" },
          { seeded: keep, ipState: "Allocated" },
          { seeded: user, ipState: "Free" }
        ], tail)
        // Released IPs take their rules and firewall rules with them; keep-ip: rule and firewall rule deleted.
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
