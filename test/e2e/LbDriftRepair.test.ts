/**
 * Drift repair end to end: the `cloudstack-ccm` process with `--lb-resync-period=5s` serves a
 * LoadBalancer Service on the REAL kube-apiserver and the CloudStack simulator's HTTP face; an
 * independent client (python3-cs) then deletes the LB rule's firewall rule, removes a member and
 * deletes the rule itself. Each comes back within a few periods, /metrics counts each repair by its
 * kind, and a period with nothing changed makes no mutating call (the simulator's call log).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type * as k8s from "@kubernetes/client-node"
import { Effect } from "effect"
import { join } from "node:path"
import {
  type CcmProcess,
  type Cluster,
  csCli,
  driftRepaired,
  freePort,
  makeSimulator,
  mutations,
  sleep,
  startCcm,
  startCluster,
  stopAll,
  uninitialisedNodes,
  waitFor,
  writeCloudConfig
} from "./E2eHarness.js"

const PERIOD_MS = 5_000
/** "Within a few periods": the pass that sees the change runs at most one period later, plus the ensure. */
const REPAIR_MS = 4 * PERIOD_MS

const simulator = makeSimulator(11)
let cluster: Cluster | undefined
let core: k8s.CoreV1Api
let ccm: CcmProcess | undefined
let metricsPort = 0
let cs: ReturnType<typeof csCli>
const tail = () => ccm?.tail() ?? ""

beforeAll(async () => {
  cluster = startCluster("ccm-e2e-drift-")
  core = cluster.core
  const apiUrl = await simulator.apiUrl()
  cs = csCli(apiUrl)
  await uninitialisedNodes(core, ["node-1", "node-2", "node-3"])
  metricsPort = await freePort()
  ccm = startCcm([
    "--cloud-provider=external-cloudstack",
    `--cloud-config=${writeCloudConfig(join(cluster.dir, "cloud-config"), apiUrl)}`,
    `--kubeconfig=${cluster.apiserver.kubeconfig}`,
    "--leader-elect=false",
    "--plain-http",
    "--bind-address=127.0.0.1",
    `--secure-port=${metricsPort}`,
    `--lb-resync-period=${PERIOD_MS / 1000}s`
  ])
}, 180_000)

afterAll(() => stopAll(ccm, cluster, simulator))

const lbPrefix = (uid: string) => `a${uid.replace(/-/g, "")}`.slice(0, 32) + "-"
const ruleOf = async (uid: string) => (await simulator.state()).lbRules.filter((r) => r.name.startsWith(lbPrefix(uid)))
const firewallOn = async (ipUuid: string) => (await simulator.state()).firewallRules.filter((f) => f.ipUuid === ipUuid)

/** Waits until /metrics shows `kind` counted once more than in `before`, and returns the new counts. */
const repairCounted = (before: Record<string, number>, kind: string) =>
  waitFor(`the ${kind} repair on /metrics`, REPAIR_MS, async () => {
    const now = await driftRepaired(metricsPort)
    return (now[kind] ?? 0) > (before[kind] ?? 0) ? now : undefined
  }, tail)

/** The counts that moved between two readings of /metrics. */
const moved = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after).filter(([k, v]) => v !== (before[k] ?? 0)).map(([k, v]) => [k, v - (before[k] ?? 0)])
  )

describe("drift repair as the cloudstack-ccm process (real kube-apiserver, HTTP simulator, python3-cs by hand)", () => {
  it.live(
    "a deleted firewall rule, a removed member and a deleted rule come back, counted by kind; an idle period changes nothing",
    () =>
      Effect.promise(async () => {
        const created = await core.createNamespacedService({
          namespace: "default",
          body: {
            metadata: { name: "web" },
            spec: { type: "LoadBalancer", ports: [{ name: "http", port: 80, protocol: "TCP" }] }
          }
        })
        const uid = created.metadata?.uid ?? ""
        const [rule] = await waitFor("the rule with three members and its firewall rule", 90_000, async () => {
          const rs = await ruleOf(uid)
          const ready = rs.length === 1 && rs[0]?.members.size === 3 && (await firewallOn(rs[0].ipUuid)).length === 1
          return ready ? rs : undefined
        }, tail)
        if (rule === undefined) return assert.fail("no rule")
        const ipUuid = rule.ipUuid
        const members = [...rule.members.keys()].sort()
        const start = await driftRepaired(metricsPort)

        // 1. The firewall rule deleted by hand: a new one opens port 80 again.
        const [firewall] = await firewallOn(ipUuid)
        await cs("deleteFirewallRule", { id: firewall?.uuid ?? "" })
        assert.deepStrictEqual(await firewallOn(ipUuid), [])
        const t1 = Date.now()
        const afterFirewall = await repairCounted(start, "firewall")
        const reopened = await waitFor("the firewall rule back", REPAIR_MS, async () => {
          const fs = await firewallOn(ipUuid)
          return fs.length === 1 ? fs[0] : undefined
        }, tail)
        const firewallSeconds = (Date.now() - t1) / 1000
        assert.strictEqual(reopened?.startport, 80)
        assert.deepStrictEqual(reopened?.cidrlist, ["0.0.0.0/0"])
        assert.deepStrictEqual(moved(start, afterFirewall), { firewall: 1 })

        // 2. A member removed by hand: the next member audit assigns it again.
        await cs("removeFromLoadBalancerRule", { id: rule.uuid, virtualmachineids: members[0] ?? "" })
        assert.strictEqual((await ruleOf(uid))[0]?.members.size, 2)
        const t2 = Date.now()
        const afterMember = await repairCounted(afterFirewall, "member")
        await waitFor(
          "three members again",
          REPAIR_MS,
          async () => ((await ruleOf(uid))[0]?.members.size === 3 ? true : undefined),
          tail
        )
        const memberSeconds = (Date.now() - t2) / 1000
        assert.deepStrictEqual([...((await ruleOf(uid))[0]?.members.keys() ?? [])].sort(), members)
        assert.deepStrictEqual(moved(afterFirewall, afterMember), { member: 1 })

        // 3. The rule itself deleted by hand: recreated under its name on the same IP, with its members.
        await cs("deleteLoadBalancerRule", { id: rule.uuid })
        assert.deepStrictEqual(await ruleOf(uid), [])
        const t3 = Date.now()
        const afterRule = await repairCounted(afterMember, "rule")
        const [again] = await waitFor("the rule back with three members", REPAIR_MS, async () => {
          const rs = await ruleOf(uid)
          return rs.length === 1 && rs[0]?.members.size === 3 ? rs : undefined
        }, tail)
        const ruleSeconds = (Date.now() - t3) / 1000
        assert.notStrictEqual(again?.uuid, rule.uuid)
        assert.strictEqual(again?.name, rule.name)
        assert.strictEqual(again?.ipUuid, ipUuid)
        assert.strictEqual(again?.privatePort, rule.privatePort)
        assert.deepStrictEqual(moved(afterMember, afterRule), { rule: 1 })
        const service = await core.readNamespacedService({ name: "web", namespace: "default" })
        assert.strictEqual(
          service.metadata?.annotations?.["service.beta.kubernetes.io/cloudstack-load-balancer-id"],
          ipUuid
        )

        // 4. Nothing changed for two periods: passes and audits read, nothing is written.
        await sleep(PERIOD_MS)
        const mark = (await simulator.callLog()).length
        await sleep(2 * PERIOD_MS + 1_000)
        const idle = (await simulator.callLog()).slice(mark)
        assert.deepStrictEqual(mutations(idle), [], JSON.stringify(idle.map((c) => c.command)))
        assert.isAtLeast(
          idle.filter((c) => c.command === "listLoadBalancerRules").length,
          2,
          "two structural passes ran"
        )
        assert.isAtLeast(
          idle.filter((c) => c.command === "listLoadBalancerRuleInstances").length,
          2,
          "two member audits ran"
        )
        assert.deepStrictEqual(moved(afterRule, await driftRepaired(metricsPort)), {})
        console.log(
          `repaired after ${firewallSeconds} s (firewall), ${memberSeconds} s (member), ${ruleSeconds} s (rule); idle window: ${idle.length} calls, 0 mutating`
        )

        // The Service's deletion still cleans up everything.
        await core.deleteNamespacedService({ name: "web", namespace: "default" })
        await waitFor(
          "web deleted",
          60_000,
          () => core.readNamespacedService({ name: "web", namespace: "default" }).then(() => undefined, () => true),
          tail
        )
        assert.deepStrictEqual(await ruleOf(uid), [])
        assert.strictEqual((await simulator.state()).publicIps.find((i) => i.uuid === ipUuid)?.state, "Free")
      }),
    240_000
  )
})
