/**
 * What the world does to the CCM in the chaos suite, drawn from one seeded Random: users create,
 * change and delete Services (ports, protocols, every annotation family, source ranges, requested
 * IPs, type changes, another controller's class), kubelets and the cloud add and remove Nodes, stop,
 * start and destroy their VMs, operators exclude Nodes. Every action goes straight to FakeKubernetes
 * or the simulator (never through a CCM's links) and may fail as a user's would: the harness always
 * reads the world back instead of trusting its own intentions.
 */
import { Effect, Option, type Random } from "effect"
import { TAINT_UNINITIALIZED } from "../../src/controllers/NodePlan.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi, type ServiceChange, type ServiceCreate } from "../../src/kubernetes/ServiceApi.js"
import type { ServiceView } from "../../src/kubernetes/ServiceView.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"
import type { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import type { SimState } from "../../src/simulation/cloudstack/SimModel.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { CCM_KEYS, CLUSTER_NETWORKS, type ForeignAddresses, REQUESTABLE_FREE } from "./ChaosWorld.js"

export const NAMESPACES = ["default", "team-a", "team-b"] as const
const PORTS = [80, 443, 8080, 8443, 9000, 5353, 53, 3000, 6443, 25] as const
const RANGES = ["10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/25"] as const
export const OTHER_CLASS = "example.com/other-lb"
export const EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"

export interface Dice {
  readonly chance: (p: number) => Effect.Effect<boolean>
  readonly int: (lo: number, hi: number) => Effect.Effect<number>
  readonly pick: <A>(xs: ReadonlyArray<A>) => Effect.Effect<A>
}

export const dice = (random: Random.Random): Dice => ({
  chance: (p) => Effect.map(random.next, (x) => x < p),
  int: (lo, hi) => random.nextIntBetween(lo, hi + 1),
  pick: <A>(xs: ReadonlyArray<A>) =>
    Effect.flatMap(random.nextIntBetween(0, xs.length), (i) => {
      const x = xs[i]
      return x === undefined ? Effect.dieMessage("pick from an empty list") : Effect.succeed(x)
    })
})

export interface Churn {
  readonly dice: Dice
  readonly sim: CloudStackSimulator["Type"]
  readonly fake: FakeKubernetes.FakeKubernetes["Type"]
  readonly services: ServiceApi["Type"]
  readonly nodes: NodeApi["Type"]
  /** Network name -> id. */
  readonly networkIds: ReadonlyMap<string, string>
  readonly foreign: ForeignAddresses
  /** Nodes this harness removed itself (a scale-down), by name. */
  readonly removedByCluster: Set<string>
  /** Every node registered (name -> VM id). */
  readonly registered: Map<string, string>
  /** VMs deployed to join, whose kubelet registers once they run. */
  readonly joining: Array<{ readonly name: string; readonly uuid: string }>
  readonly counter: { joins: number; actions: number; failures: number }
}

/** A user's or kubelet's call: its failure is counted, never fatal (a user simply sees an error). */
const attempt = <A, E>(churn: Churn, effect: Effect.Effect<A, E>) =>
  Effect.matchEffect(effect, {
    onFailure: () => Effect.sync(() => void (churn.counter.failures++)),
    onSuccess: () => Effect.sync(() => void (churn.counter.actions++))
  })

const randomPorts = (churn: Churn) =>
  Effect.gen(function*() {
    const d = churn.dice
    const n = yield* d.int(1, 3)
    const out: Array<NonNullable<ServiceCreate["ports"]>[number]> = []
    for (let i = 0; i < n; i++) {
      const port = yield* d.pick(PORTS)
      if (out.some((p) => p.port === port)) continue
      // UDP for the DNS-like ports mostly; now and then TCP and UDP on one port (CloudStack cannot).
      const udp = (port === 53 || port === 5353) ? yield* d.chance(0.7) : yield* d.chance(0.05)
      out.push({ name: `p${port}`, port, protocol: udp ? "UDP" : "TCP" })
      if (udp && (yield* d.chance(0.1))) out.push({ name: `p${port}t`, port, protocol: "TCP" })
    }
    return out
  })

const requestable = (
  churn: Churn
) => [...REQUESTABLE_FREE, churn.foreign.userIdleNs, churn.foreign.userVr, churn.foreign.alice, "100.64.200.1"]

/** One annotation of a family, with a valid value mostly and now and then an invalid one. */
const annotation = (churn: Churn, family: number): Effect.Effect<readonly [string, string | null]> =>
  Effect.gen(function*() {
    const d = churn.dice
    switch (family) {
      case 0: {
        const name = (yield* d.chance(0.04)) ? "shared1" : (yield* d.pick(CLUSTER_NETWORKS)).name
        return [Annotations.NETWORK_ID, churn.networkIds.get(name) ?? null] as const
      }
      case 1:
        return [
          Annotations.ALGORITHM,
          (yield* d.chance(0.05)) ? "weighted" : yield* d.pick(["roundrobin", "leastconn", "source"])
        ] as const
      case 2:
        return [Annotations.KEEP_IP, (yield* d.chance(0.7)) ? "true" : "false"] as const
      case 3:
        return [Annotations.STICKY_METHOD, yield* d.pick(["LbCookie", "AppCookie", "SourceBased"])] as const
      case 4:
        return [Annotations.HEALTH_CHECK, (yield* d.chance(0.5)) ? "false" : "true"] as const
      case 5:
        return [Annotations.HEALTH_CHECK_PATH, yield* d.pick(["/healthz", "/ready"])] as const
      case 6:
        return [Annotations.SOURCE_RANGES, yield* d.pick(RANGES)] as const
      case 7:
        return [Annotations.SOURCE_CIDRS, yield* d.pick(["10.0.0.0/8", "0.0.0.0/0"])] as const
      case 8:
        return [Annotations.ADDRESS, yield* d.pick(requestable(churn))] as const
      case 9:
        return [Annotations.HOSTNAME, "lb.example.com"] as const
      default:
        return [Annotations.PROXY_PROTOCOL, "true"] as const
    }
  })

const FAMILIES = 11
/** How likely a new Service carries each family (network, algorithm, keep-ip, sticky, health, path, ranges, cidrs, address, hostname, proxy). */
const CREATE_ODDS = [0.4, 0.15, 0.12, 0.08, 0.05, 0.03, 0.04, 0.04, 0.04, 0.03, 0.02]

export const createService = (churn: Churn, name: string) =>
  Effect.gen(function*() {
    const d = churn.dice
    const namespace = yield* d.pick(NAMESPACES)
    const annotations: Record<string, string> = {}
    for (let f = 0; f < FAMILIES; f++) {
      if (yield* d.chance(CREATE_ODDS[f] ?? 0)) {
        const [k, v] = yield* annotation(churn, f)
        if (v !== null) annotations[k] = v
      }
    }
    const roll = yield* d.int(0, 99)
    const type: ServiceCreate["type"] = roll < 92 ? "LoadBalancer" : roll < 96 ? "NodePort" : "ClusterIP"
    const create: ServiceCreate = {
      namespace,
      name,
      type,
      ports: yield* randomPorts(churn),
      annotations,
      ...((yield* d.chance(0.05)) && type === "LoadBalancer" ? { loadBalancerClass: OTHER_CLASS } : {}),
      ...((yield* d.chance(0.06)) ? { loadBalancerIP: yield* d.pick(requestable(churn)) } : {}),
      ...((yield* d.chance(0.1)) ? { loadBalancerSourceRanges: [yield* d.pick(RANGES)] } : {}),
      ...((yield* d.chance(0.05)) ? { sessionAffinity: "ClientIP" as const } : {})
    }
    yield* attempt(churn, churn.services.create(create))
  })

/** One change of an existing Service, as a user would make it. */
export const changeService = (churn: Churn, service: ServiceView) =>
  Effect.gen(function*() {
    const d = churn.dice
    const { name, namespace } = service.metadata
    const roll = yield* d.int(0, 99)
    const update = (change: ServiceChange) => attempt(churn, churn.services.update(namespace, name, change))
    if (roll < 14) return yield* attempt(churn, churn.services.delete(namespace, name))
    if (roll < 40) return yield* update({ ports: yield* randomPorts(churn) })
    if (roll < 70) {
      const [k, v] = yield* annotation(churn, yield* d.int(0, FAMILIES - 1))
      const remove = service.metadata.annotations[k] !== undefined && (yield* d.chance(0.5))
      return yield* attempt(churn, churn.services.patchAnnotations(namespace, name, { [k]: remove ? null : v }))
    }
    if (roll < 78) {
      return yield* update({ loadBalancerSourceRanges: (yield* d.chance(0.3)) ? [] : [yield* d.pick(RANGES)] })
    }
    if (roll < 84) {
      return yield* update({ loadBalancerIP: (yield* d.chance(0.4)) ? null : yield* d.pick(requestable(churn)) })
    }
    if (roll < 88) {
      return yield* update({ sessionAffinity: service.spec.sessionAffinity === "ClientIP" ? "None" : "ClientIP" })
    }
    if (service.spec.type === "LoadBalancer") {
      return yield* update({ type: (yield* d.chance(0.7)) ? "ClusterIP" : "NodePort" })
    }
    const other = yield* d.chance(0.15)
    return yield* update({ type: "LoadBalancer", ...(other ? { loadBalancerClass: OTHER_CLASS } : {}) })
  })

/** What kubelet registers for a VM: the uninitialized taint, its hostname; then it reports Ready. */
export const register = (churn: Churn, vm: { readonly name: string; readonly uuid: string }) =>
  Effect.gen(function*() {
    const name = vm.name.toLowerCase()
    const created = yield* Effect.either(churn.nodes.create({
      name,
      labels: { "kubernetes.io/hostname": name },
      taints: [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }],
      addresses: [{ type: "Hostname", address: name }]
    }))
    if (created._tag === "Left") return
    churn.registered.set(name, vm.uuid)
    yield* attempt(churn, churn.fake.setNodeReady(name, "True"))
  })

const cloud = (churn: Churn, command: string, params: Record<string, string>) =>
  Effect.map(churn.sim.handle({ command, params, apiKey: CCM_KEYS.apiKey }), (r) => {
    if (r.status === 200) churn.counter.actions++
    else churn.counter.failures++
    return r
  })

/** A node VM of the cluster (by its Node) in the current state. */
const nodeVms = (churn: Churn, state: SimState) =>
  state.vms.filter((v) => {
    const id = churn.registered.get(v.name.toLowerCase())
    return id === v.uuid && !churn.removedByCluster.has(v.name.toLowerCase()) && v.state !== "Destroyed" &&
      v.state !== "Expunging"
  })

/** The items under `key` of a list answer, or the inner object of any other answer. */
const inner = (body: unknown): Record<string, unknown> => {
  const first: unknown = typeof body === "object" && body !== null ? Object.values(body)[0] : undefined
  return typeof first === "object" && first !== null ? { ...first } : {}
}
const idIn = (
  u: unknown
): string => (typeof u === "object" && u !== null && "id" in u && typeof u.id === "string" ? u.id : "")

const firstId = (churn: Churn, command: string, key: string, params: Record<string, string> = {}) =>
  Effect.map(churn.sim.handle({ command, params, apiKey: CCM_KEYS.apiKey }), (r) => {
    const list = inner(r.body)[key]
    return Array.isArray(list) ? idIn(list[0]) : ""
  })

/** kubelet: a joining VM registers its Node once it runs (a deploy that failed never does). */
export const kubelets = (churn: Churn) =>
  Effect.gen(function*() {
    if (churn.joining.length === 0) return
    const state = yield* churn.sim.state
    for (const join of [...churn.joining]) {
      const vm = state.vms.find((v) => v.uuid === join.uuid)
      if (vm !== undefined && vm.state !== "Running") continue
      churn.joining.splice(churn.joining.indexOf(join), 1)
      if (vm !== undefined) yield* register(churn, vm)
    }
  })

/** One node event: a VM joins, one leaves (scale-down), stops, starts, is destroyed, is excluded or included. */
export const nodeEvent = (churn: Churn) =>
  Effect.gen(function*() {
    const d = churn.dice
    const state = yield* churn.sim.state
    const vms = nodeVms(churn, state)
    const roll = yield* d.int(0, 99)
    if (roll < 25 || vms.length < 6) {
      const network = yield* d.pick(CLUSTER_NETWORKS)
      const zone = state.zones[0]?.uuid
      const networkId = churn.networkIds.get(network.name)
      if (zone === undefined || networkId === undefined) return
      const serviceOffering = yield* firstId(churn, "listServiceOfferings", "serviceoffering")
      const template = yield* firstId(churn, "listTemplates", "template", { templatefilter: "executable" })
      const name = `${network.name.replace("k8s-", "")}-j${++churn.counter.joins}`
      const r = yield* cloud(churn, "deployVirtualMachine", {
        serviceofferingid: serviceOffering,
        templateid: template,
        zoneid: zone,
        networkids: networkId,
        name
      })
      const id = idIn(inner(r.body))
      if (r.status === 200 && id !== "") churn.joining.push({ name, uuid: id })
      return
    }
    const vm = yield* d.pick(vms)
    const node = vm.name.toLowerCase()
    if (roll < 40) {
      // Scale-down: the cluster deletes the Node, then the VM is destroyed.
      churn.removedByCluster.add(node)
      const found = Option.getOrUndefined(yield* Effect.orElseSucceed(churn.nodes.get(node), () => Option.none()))
      if (found !== undefined) yield* attempt(churn, churn.nodes.delete(node, found.metadata.uid))
      yield* cloud(churn, "destroyVirtualMachine", { id: vm.uuid, expunge: "true" })
      return
    }
    if (roll < 55 && vm.state === "Running") {
      yield* cloud(churn, "stopVirtualMachine", { id: vm.uuid })
      return yield* attempt(churn, churn.fake.setNodeReady(node, "Unknown"))
    }
    if (roll < 70 && vm.state === "Stopped") {
      yield* cloud(churn, "startVirtualMachine", { id: vm.uuid })
      return yield* attempt(churn, churn.fake.setNodeReady(node, "True"))
    }
    if (roll < 80) {
      // The VM is destroyed under the cluster (expunged or not); its kubelet stops reporting.
      yield* cloud(churn, "destroyVirtualMachine", { id: vm.uuid, expunge: (yield* d.chance(0.5)) ? "true" : "false" })
      return yield* attempt(churn, churn.fake.setNodeReady(node, "Unknown"))
    }
    const found = Option.getOrUndefined(yield* Effect.orElseSucceed(churn.nodes.get(node), () => Option.none()))
    if (found === undefined) return
    const excluded = found.metadata.labels[EXCLUDE_LABEL] !== undefined
    yield* attempt(
      churn,
      churn.nodes.update({
        name: node,
        resourceVersion: found.metadata.resourceVersion,
        labels: { [EXCLUDE_LABEL]: excluded ? null : "true" }
      })
    )
  })
