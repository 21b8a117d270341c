/**
 * The LoadBalancer part of `cloudstack-ccm simulate`: the REAL service controller (started with
 * the others by `simulate`) against the simulated cloud and cluster. A Service gets its IP, rules, members and firewall rules; a port
 * changes; a node joins and one is excluded; UDP is refused on the virtual router and accepted on
 * the Netscaler-like network; everything is deleted and every IP goes back to the pool.
 */
import { Data, type Duration, Effect, Option, Schedule } from "effect"
import { CloudStackClient } from "../cloudstack/CloudStackClient.js"
import { listNetworks } from "../cloudstack/commands/Networks.js"
import { deployVirtualMachine, listServiceOfferings, listTemplates } from "../cloudstack/commands/VirtualMachines.js"
import { TAINT_UNINITIALIZED } from "../controllers/NodePlan.js"
import { EXCLUDE_LABEL } from "../controllers/ServicePlan.js"
import { NodeApi } from "../kubernetes/NodeApi.js"
import { ServiceApi, type ServiceCreate } from "../kubernetes/ServiceApi.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import * as Annotations from "../provider/loadbalancer/Annotations.js"
import { lbName } from "../provider/loadbalancer/LbName.js"
import { CloudStackSimulator } from "../simulation/cloudstack/CloudStackSimulator.js"
import * as FakeKubernetes from "../simulation/FakeKubernetes.js"

/** A demo step did not happen in time: a bug somewhere, reported instead of hanging. */
export class SimulationStepError extends Data.TaggedError("SimulationStepError")<{ readonly step: string }> {
  override get message(): string {
    return `simulation step did not complete in time: ${this.step}`
  }
}

/** Polls `check` until it holds, or fails with the step's name. */
export const waitFor = <E, R>(step: string, check: Effect.Effect<boolean, E, R>, within: Duration.DurationInput) =>
  check.pipe(
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (done) => done }),
    Effect.timeoutFail({ duration: within, onTimeout: () => new SimulationStepError({ step }) })
  )

const WITHIN = "20 seconds"

export const story = (note: (text: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const api = yield* ServiceApi
    const nodes = yield* NodeApi
    const fake = yield* FakeKubernetes.FakeKubernetes
    const simulator = yield* CloudStackSimulator
    const client = yield* CloudStackClient

    const get = (name: string) => Effect.map(api.get("default", name), Option.getOrUndefined)
    const addressOf = (svc: ServiceView | undefined) => svc?.status.loadBalancer.ingress[0]?.ip
    const ruleLines = (svc: ServiceView) =>
      Effect.map(simulator.state, (s) => {
        const prefix = `${lbName(svc.metadata.uid)}-`
        const lines: Array<string> = []
        for (const r of s.lbRules.filter((rule) => rule.name.startsWith(prefix))) {
          const ip = s.publicIps.find((i) => i.uuid === r.ipUuid)
          const network = s.networks.find((n) => n.uuid === r.networkUuid)?.name ?? "?"
          lines.push(
            `rule ${
              r.name.slice(prefix.length)
            }: ${ip?.address}:${r.publicPort} -> nodePort ${r.privatePort} ${r.algorithm}, ${r.members.size} members (network ${network})`
          )
          for (const f of s.firewallRules.filter((fw) => fw.ipUuid === r.ipUuid && fw.startport === r.publicPort)) {
            lines.push(`firewall ${f.protocol}/${f.startport} from ${f.cidrlist.join(",")}`)
          }
        }
        return lines
      })
    const show = (name: string) =>
      Effect.gen(function*() {
        const svc = yield* get(name)
        if (svc === undefined) return
        for (const line of yield* ruleLines(svc)) yield* note(`  ${name}: ${line}`)
      })
    const create = (input: Omit<ServiceCreate, "namespace" | "type">) =>
      api.create({ namespace: "default", type: "LoadBalancer", ...input })
    const warned = (name: string, reason: string) =>
      Effect.map(fake.events, (es) => es.find((e) => e.involvedObject.name === name && e.reason === reason))
    const members = (name: string) =>
      Effect.gen(function*() {
        const svc = yield* get(name)
        if (svc === undefined) return -1
        const prefix = `${lbName(svc.metadata.uid)}-`
        return (yield* simulator.state).lbRules.filter((r) => r.name.startsWith(prefix)).reduce(
          (n, r) => n + r.members.size,
          0
        )
      })

    // The demo world's networks: the virtual router's isolated1 and the Netscaler-like isolated-ns.
    const networkNamed = (name: string) =>
      Effect.map(simulator.state, (s) => s.networks.find((n) => n.name === name)?.uuid ?? "")
    const onNetwork = (name: string) => Effect.map(networkNamed(name), (id) => ({ [Annotations.NETWORK_ID]: id }))

    yield* note("kubectl: Service web (LoadBalancer, TCP 80 and 443) on isolated1")
    yield* create({
      name: "web",
      ports: [{ name: "http", port: 80 }, { name: "https", port: 443 }],
      annotations: yield* onNetwork("isolated1")
    })
    yield* waitFor("web gets an IP", Effect.map(get("web"), (s) => addressOf(s) !== undefined), WITHIN)
    yield* note(`  web: status.loadBalancer.ingress ${addressOf(yield* get("web"))}`)
    yield* show("web")

    yield* note("kubectl: web's port 443 becomes 8443")
    yield* api.update("default", "web", { ports: [{ name: "http", port: 80 }, { name: "https", port: 8443 }] })
    const hasPort = (port: number) =>
      Effect.flatMap(get("web"), (svc) =>
        svc === undefined
          ? Effect.succeed(false)
          : Effect.map(ruleLines(svc), (ls) => ls.some((l) => l.includes(`:${port} `))))
    yield* waitFor(
      "web's rule for 8443",
      Effect.zipWith(hasPort(8443), hasPort(443), (a, b) => a && !b),
      WITHIN
    )
    yield* show("web")

    // A node joins: a VM deployed on web's network, registered by its kubelet, initialised, then a member.
    const before = yield* members("web")
    const webNetwork = Effect.map(simulator.state, (s) => {
      const rule = s.lbRules.find((r) => r.name.endsWith("-tcp-80"))
      return s.networks.find((n) => n.uuid === rule?.networkUuid)
    })
    const network = yield* webNetwork
    const [offering] = yield* client.list(listServiceOfferings, {})
    const [template] = yield* client.list(listTemplates, { templateFilter: "executable" })
    const [net] = network === undefined ? [] : yield* client.list(listNetworks, { name: network.name })
    if (offering !== undefined && template !== undefined && net !== undefined) {
      yield* note(`CloudStack: VM joiner-1 deployed on ${net.name}; its kubelet registers the Node`)
      const vm = yield* client.run(deployVirtualMachine, {
        serviceOfferingId: offering.id,
        templateId: template.id,
        zoneId: net.zoneId,
        networkIds: [net.id],
        name: "joiner-1"
      })
      yield* nodes.create({
        name: "joiner-1",
        taints: [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }]
      })
      yield* fake.setNodeReady("joiner-1", "True")
      yield* waitFor("joiner-1 becomes a member", Effect.map(members("web"), (n) => n > before), WITHIN)
      yield* note(`  web: ${vm.name} is a member of every rule (${(yield* members("web")) / 2} members each)`)
      yield* note(`kubectl: label joiner-1 ${EXCLUDE_LABEL}=true`)
      const joined = yield* nodes.get("joiner-1")
      if (Option.isSome(joined)) {
        yield* nodes.update({
          name: "joiner-1",
          resourceVersion: joined.value.metadata.resourceVersion,
          labels: { [EXCLUDE_LABEL]: "true" }
        })
      }
      yield* waitFor("joiner-1 leaves the LB", Effect.map(members("web"), (n) => n === before), WITHIN)
      yield* note(`  web: joiner-1 removed from the rules (${before / 2} members each)`)
    }

    yield* note("kubectl: Service dns (UDP 53) on isolated1 (virtual router)")
    yield* create({
      name: "dns",
      ports: [{ name: "dns", port: 53, protocol: "UDP" }],
      annotations: yield* onNetwork("isolated1")
    })
    yield* waitFor(
      "dns's UDP refusal",
      Effect.map(warned("dns", "UnsupportedProtocol"), (e) => e !== undefined),
      WITHIN
    )
    yield* note(`  dns: Warning UnsupportedProtocol: ${(yield* warned("dns", "UnsupportedProtocol"))?.message}`)
    yield* note(
      `  dns: no IP kept: status.loadBalancer.ingress is ${JSON.stringify(addressOf(yield* get("dns")) ?? [])}`
    )

    yield* note("kubectl: Service dns-ns (UDP 53) on isolated-ns (Netscaler-like provider)")
    yield* create({
      name: "dns-ns",
      ports: [{ name: "dns", port: 53, protocol: "UDP" }],
      annotations: yield* onNetwork("isolated-ns")
    })
    yield* waitFor("dns-ns gets an IP", Effect.map(get("dns-ns"), (s) => addressOf(s) !== undefined), WITHIN)
    yield* note(`  dns-ns: status.loadBalancer.ingress ${addressOf(yield* get("dns-ns"))}`)
    yield* show("dns-ns")

    yield* note("kubectl: delete every Service")
    for (const name of ["web", "dns", "dns-ns"]) {
      yield* api.delete("default", name).pipe(Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void))
    }
    yield* waitFor("every Service deleted", Effect.map(fake.services, (all) => all.length === 0), WITHIN)
    const state = yield* simulator.state
    const allocated = state.publicIps.filter((ip) => ip.state !== "Free")
    yield* note(
      `  CloudStack: no LB rule left (${state.lbRules.length}), ${allocated.length} IPs allocated (the networks' source NAT only: ${
        allocated.every((ip) => ip.sourceNat) ? "yes" : "no"
      })`
    )
  })
