/**
 * The migration e2e files' shared parts. What the Go CCM (v1.2.0) and the leaseweb fork (v1.8.1)
 * leave behind for a LoadBalancer Service, rebuilt with their own calls (reference upstream-ccm
 * §4.5-4.8, go-ccm-measured/calls-cs4.20.txt "lb-create") through python3-cs against the HTTP
 * simulator, and their Service and Node objects on the real kube-apiserver (providerIDs, finalizer,
 * status, the origin's annotations); then the checks that `cloudstack-ccm` adopted it as it was.
 */
import { assert } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Schema } from "effect"
import { type csCli, FINALIZER, mutations, type Sim, sleep, waitFor } from "./E2eHarness.js"

type Cs = ReturnType<typeof csCli>

const Associated = Schema.Struct({ ipaddress: Schema.Struct({ id: Schema.String, ipaddress: Schema.String }) })
const Created = Schema.Struct({ loadbalancer: Schema.Struct({ id: Schema.String, name: Schema.String }) })
const Opened = Schema.Struct({ firewallrule: Schema.Struct({ id: Schema.String }) })

export interface PublicIp {
  readonly id: string
  readonly address: string
}

/** `associateIpAddress networkid=…` (with `ipaddress=` for a requested address), as both CCMs call it. */
export const associateIp = async (cs: Cs, networkId: string, address?: string): Promise<PublicIp> => {
  const answer = Schema.decodeUnknownSync(Associated)(
    await cs("associateIpAddress", { networkid: networkId, ...(address === undefined ? {} : { ipaddress: address }) })
  )
  return { id: answer.ipaddress.id, address: answer.ipaddress.ipaddress }
}

export interface LeftLb {
  readonly rules: ReadonlyArray<{ readonly id: string; readonly name: string }>
  readonly firewall: ReadonlyArray<string>
}

/**
 * Per port, what EnsureLoadBalancer creates on an IP: the rule `<name>-tcp-<port>` (the Go CCM
 * sends `cidrlist=0.0.0.0/0`, the fork no cidrlist), all the VMs assigned, a firewall rule for the
 * port from `0.0.0.0/0`.
 */
export const leaveLb = async (
  cs: Cs,
  options: {
    readonly name: string
    readonly ip: PublicIp
    readonly networkId: string
    readonly ports: ReadonlyArray<{ readonly port: number; readonly nodePort: number }>
    readonly vmIds: ReadonlyArray<string>
    readonly ruleCidrs: boolean
  }
): Promise<LeftLb> => {
  const rules: Array<{ id: string; name: string }> = []
  const firewall: Array<string> = []
  for (const { nodePort, port } of options.ports) {
    const rule = Schema.decodeUnknownSync(Created)(
      await cs("createLoadBalancerRule", {
        algorithm: "roundrobin",
        ...(options.ruleCidrs ? { cidrlist: "0.0.0.0/0" } : {}),
        name: `${options.name}-tcp-${port}`,
        networkid: options.networkId,
        openfirewall: "false",
        privateport: String(nodePort),
        protocol: "tcp",
        publicipid: options.ip.id,
        publicport: String(port)
      })
    ).loadbalancer
    await cs("assignToLoadBalancerRule", { id: rule.id, virtualmachineids: options.vmIds.join(",") })
    rules.push(rule)
    const opened = Schema.decodeUnknownSync(Opened)(
      await cs("createFirewallRule", {
        cidrlist: "0.0.0.0/0",
        endport: String(port),
        ipaddressid: options.ip.id,
        protocol: "tcp",
        startport: String(port)
      })
    )
    firewall.push(opened.firewallrule.id)
  }
  return { rules, firewall }
}

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)

/** Creates a LoadBalancer Service; its UID and node ports (the API server allocates them). */
export const createLbService = async (
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
  ports: ReadonlyArray<number>,
  extra: { readonly loadBalancerIP?: string; readonly annotations?: Record<string, string> } = {}
) => {
  const created = await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name, ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }) },
      spec: {
        type: "LoadBalancer",
        ports: ports.map((port) => ({ name: `p${port}`, port, protocol: "TCP" })),
        ...(extra.loadBalancerIP === undefined ? {} : { loadBalancerIP: extra.loadBalancerIP })
      }
    }
  })
  return {
    uid: created.metadata?.uid ?? "",
    ports: (created.spec?.ports ?? []).map((p) => ({ port: p.port, nodePort: p.nodePort ?? 0 }))
  }
}

/** What the k8s service controller of either CCM wrote once its LB was ensured: finalizer, annotations, status. */
export const markEnsured = async (
  core: k8s.CoreV1Api,
  namespace: string,
  name: string,
  finalizer: string,
  annotations: Record<string, string>,
  ingress: ReadonlyArray<k8s.V1LoadBalancerIngress>
) => {
  await core.patchNamespacedService(
    { name, namespace, body: { metadata: { finalizers: [finalizer], annotations } } },
    mergePatch
  )
  await core.patchNamespacedServiceStatus(
    { name, namespace, body: { status: { loadBalancer: { ingress } } } },
    mergePatch
  )
}

/** One Service as its CCM left it. */
export interface Seeded {
  readonly name: string
  readonly uid: string
  readonly ip: PublicIp
  readonly left: LeftLb
  readonly before: k8s.V1Service
}

export const ID = "service.beta.kubernetes.io/cloudstack-load-balancer-id"
export const ASSOCIATED = "service.beta.kubernetes.io/cloudstack-load-balancer-ip-associated-by-controller"

const readService = (core: k8s.CoreV1Api, name: string) =>
  core.readNamespacedService({ name, namespace: "default" }).then((s) => s, () => undefined)

/** The CloudStack tags of a resource, key -> value. */
export const tagsOf = async (sim: Sim, uuid: string) =>
  Object.fromEntries((await sim.state()).tags.filter((t) => t.resourceUuid === uuid).map((t) => [t.key, t.value]))

/** The Service's `service.beta.kubernetes.io/` annotations. */
export const lbAnnotations = async (core: k8s.CoreV1Api, name: string) =>
  Object.fromEntries(
    Object.entries((await readService(core, name))?.metadata?.annotations ?? {}).filter(([k]) =>
      k.startsWith("service.beta.kubernetes.io/")
    )
  )

const allocated = async (sim: Sim) =>
  (await sim.state()).publicIps.filter((ip) => ip.state !== "Free").map((ip) => ip.uuid).sort()

/**
 * Waits until every Service carries its IP's id and every kept rule and firewall rule the owner's
 * tags, lets `idleMs` of drift periods pass, then checks that it is the same LB: from `callsAtStart`
 * on, no mutating call but createTags; no IP associated or released; the Nodes' providerIDs, the
 * same rules (ids, names, members), firewall rules, status and finalizer; tags on the rules and
 * firewall rules, none on the IP.
 */
export const assertAdopted = async (
  sim: Sim,
  core: k8s.CoreV1Api,
  seeded: ReadonlyArray<Seeded>,
  options: {
    readonly cluster: string
    readonly callsAtStart: number
    readonly idleMs: number
    readonly tail: () => string
    /** The Nodes' providerIDs as the other CCM set them. */
    readonly providerIDs: ReadonlyArray<string>
    /** The Services whose IP is this CCM's to release from now on: their IP gets the ownership tags. */
    readonly releasable: ReadonlyArray<string>
  }
) => {
  const allocatedBefore = await allocated(sim)
  for (const s of seeded) {
    await waitFor(`${s.name} adopted`, 90_000, async () => {
      if ((await readService(core, s.name))?.metadata?.annotations?.[ID] !== s.ip.id) return undefined
      for (const id of [...s.left.rules.map((r) => r.id), ...s.left.firewall]) {
        if (Object.keys(await tagsOf(sim, id)).length < 3) return undefined
      }
      return true
    }, options.tail)
  }
  await sleep(options.idleMs)
  const calls = (await sim.callLog()).slice(options.callsAtStart)
  assert.deepStrictEqual([...new Set(mutations(calls))], ["createTags"], JSON.stringify(mutations(calls)))
  // a drift pass lists the firewall rules of the whole account (no ipaddressid)
  assert.isAtLeast(
    calls.filter((c) => c.command === "listFirewallRules" && c.params["ipaddressid"] === undefined).length,
    2,
    "drift passes ran"
  )
  assert.deepStrictEqual(await allocated(sim), allocatedBefore, "no IP associated or released")
  const nodes = await core.listNode()
  assert.deepStrictEqual(
    nodes.items.map((n) => n.spec?.providerID).sort(),
    [...options.providerIDs].sort(),
    "providerIDs kept"
  )
  const state = await sim.state()
  for (const s of seeded) {
    const svc = await readService(core, s.name)
    const rules = state.lbRules.filter((r) => r.ipUuid === s.ip.id)
    assert.deepStrictEqual(
      rules.map((r) => [r.uuid, r.name, r.members.size]).sort(),
      s.left.rules.map((r) => [r.id, r.name, 3]).sort(),
      s.name
    )
    assert.deepStrictEqual(
      state.firewallRules.filter((f) => f.ipUuid === s.ip.id).map((f) => f.uuid).sort(),
      [...s.left.firewall].sort(),
      s.name
    )
    assert.deepStrictEqual(svc?.status?.loadBalancer?.ingress, s.before.status?.loadBalancer?.ingress, s.name)
    assert.deepStrictEqual(svc?.status?.loadBalancer?.ingress, [{ ip: s.ip.address }], s.name)
    assert.deepStrictEqual(svc?.metadata?.finalizers, [FINALIZER], s.name)
    for (const id of [...s.left.rules.map((r) => r.id), ...s.left.firewall]) {
      assert.deepStrictEqual(await tagsOf(sim, id), {
        "cloudstack-ccm/cluster": options.cluster,
        "cloudstack-ccm/service": `default/${s.name}`,
        "cloudstack-ccm/service-uid": s.uid
      }, `${s.name} ${id}`)
    }
    // An IP this CCM will release is tagged as ours (the orphan report and a shared IP's last user go
    // by it); one the user keeps (their own loadBalancerIP, keep-ip) never is.
    assert.deepStrictEqual(
      await tagsOf(sim, s.ip.id),
      options.releasable.includes(s.name)
        ? {
          "cloudstack-ccm/cluster": options.cluster,
          "cloudstack-ccm/service": `default/${s.name}`,
          "cloudstack-ccm/service-uid": s.uid
        }
        : {},
      s.name
    )
  }
}

/**
 * Deletes the Services and waits until they are gone: their rules and firewall rules are gone, and
 * the IPs are in the states given (`Free` = released). Returns the mutating calls the deletion made.
 */
export const deleteAndCheck = async (
  sim: Sim,
  core: k8s.CoreV1Api,
  expected: ReadonlyArray<{ readonly seeded: Seeded; readonly ipState: "Free" | "Allocated" }>,
  tail: () => string
) => {
  // The last ensure's tag jobs are not awaited by it: the deletion's calls are counted from when no
  // mutation came for 2 s (at most 30 s), not from the middle of a tail of createTags.
  let seen = mutations(await sim.callLog()).length
  for (let quiet = 0, polls = 0; quiet < 4 && polls < 60; polls++) {
    await sleep(500)
    const now = mutations(await sim.callLog()).length
    quiet = now === seen ? quiet + 1 : 0
    seen = now
  }
  const mark = (await sim.callLog()).length
  for (const { seeded } of expected) await core.deleteNamespacedService({ name: seeded.name, namespace: "default" })
  for (const { seeded } of expected) {
    await waitFor(
      `${seeded.name} deleted`,
      60_000,
      async () => ((await readService(core, seeded.name)) === undefined ? true : undefined),
      tail
    )
  }
  const after = await sim.state()
  for (const { ipState, seeded } of expected) {
    assert.deepStrictEqual(after.lbRules.filter((r) => r.ipUuid === seeded.ip.id), [], seeded.name)
    assert.deepStrictEqual(after.firewallRules.filter((f) => f.ipUuid === seeded.ip.id), [], seeded.name)
    assert.strictEqual(after.publicIps.find((ip) => ip.uuid === seeded.ip.id)?.state, ipState, seeded.name)
  }
  return mutations((await sim.callLog()).slice(mark)).sort()
}
