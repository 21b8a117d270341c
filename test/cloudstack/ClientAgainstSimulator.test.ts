import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import { CloudStackClient, layer as clientLayer } from "../../src/cloudstack/CloudStackClient.js"
import {
  associateIpAddress,
  disassociateIpAddress,
  listPublicIpAddresses
} from "../../src/cloudstack/commands/Addresses.js"
import { createFirewallRule, listFirewallRules } from "../../src/cloudstack/commands/Firewall.js"
import {
  assignToLoadBalancerRule,
  createLoadBalancerRule,
  deleteLoadBalancerRule,
  listLoadBalancerRuleInstances,
  listLoadBalancerRules,
  listLoadBalancerRuleVmIps,
  removeFromLoadBalancerRule
} from "../../src/cloudstack/commands/LoadBalancers.js"
import { listNetworkACLLists, listNetworkACLs } from "../../src/cloudstack/commands/NetworkAcls.js"
import { listNetworks, listVPCs } from "../../src/cloudstack/commands/Networks.js"
import { createTags, listTags } from "../../src/cloudstack/commands/Tags.js"
import {
  deployVirtualMachine,
  destroyVirtualMachine,
  listServiceOfferings,
  listTemplates,
  listVirtualMachines
} from "../../src/cloudstack/commands/VirtualMachines.js"
import { listZones } from "../../src/cloudstack/commands/Zones.js"
import * as HttpTransport from "../../src/cloudstack/HttpTransport.js"
import { CloudConfig } from "../../src/config/CloudConfig.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as SimulatorHttpServer from "../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { cloudConfig, demoKeys } from "../fakes/CloudStackTestEnv.js"

// The typed client over the simulator's in-memory transport: every schema meets the simulator's
// renderings, and the simulator meets the client's encodings (maps, lists, paging, scoping).
type Keys = ReturnType<typeof demoKeys>

const memoryEnv = (projectId: Option.Option<string>, keys: Keys = demoKeys("admin")) =>
  clientLayer.pipe(
    Layer.provideMerge(Simulator.layerWithTransport(demoWorld)),
    Layer.provide(Metrics.layer),
    Layer.provide(Layer.succeed(CloudConfig, cloudConfig({ projectId, ...keys })))
  )

/** The live HttpTransport signing with `keys` (the demo admin's by default), sent to the simulator's HTTP face. */
const httpEnv = (projectId: Option.Option<string>, keys: Keys = demoKeys("admin")) => {
  const server = SimulatorHttpServer.layer({ port: 0, isCommand: Simulator.isCommand }).pipe(
    Layer.provide(Simulator.layer(demoWorld))
  )
  const config = Layer.effect(
    CloudConfig,
    Effect.map(
      SimulatorHttpServer.SimulatorHttpServer,
      (s) => cloudConfig({ apiUrl: new URL(s.apiUrl), ...keys, projectId })
    )
  ).pipe(Layer.provide(server))
  return clientLayer.pipe(Layer.provide(HttpTransport.layer), Layer.provide(Metrics.layer), Layer.provide(config))
}

/** Runs `effect` while moving TestClock on, so job polls and backoff sleeps complete. */
const driven = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 600 && Option.isNone(yield* Fiber.poll(fiber)); i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

interface Scenario {
  readonly name: string
  readonly projectId: Option.Option<string>
  readonly run: Effect.Effect<unknown, unknown, CloudStackClient>
}

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "isolated network: IP, LB rule, members, tags, firewall, conflict, clean-up",
    projectId: Option.none(),
    run: Effect.gen(function*() {
      const cs = yield* CloudStackClient
      const [zone] = yield* cs.list(listZones, {})
      assert.strictEqual(zone?.name, "zone1")
      const networks = yield* cs.list(listNetworks, {})
      const net = networks.find((n) => n.name === "isolated1")
      assert.isDefined(net)
      if (net === undefined) return
      assert.isTrue(net.services.some((s) => s.name === "Lb"))
      assert.isFalse(networks.some((n) => n.name === "project-net"), "project resources need projectid")

      const vms = yield* cs.list(listVirtualMachines, { networkId: net.id })
      const node1 = vms.find((v) => v.name === "node-1")
      assert.strictEqual(node1?.nics[0]?.ipAddress, "10.1.1.11")
      if (node1 === undefined) return

      const ipJob = yield* cs.submit(associateIpAddress, { networkId: net.id })
      const ip = yield* cs.waitForJob(associateIpAddress, ipJob)
      assert.deepStrictEqual(Option.some(ip.id), ipJob.entityId)
      assert.strictEqual(ip.associatedNetworkId, net.id)
      const listed = yield* cs.list(listPublicIpAddresses, { id: ip.id })
      assert.strictEqual(listed[0]?.state, "Allocated")

      const rule = yield* cs.run(createLoadBalancerRule, {
        name: "a0123-tcp-80",
        algorithm: "roundrobin",
        publicIpId: ip.id,
        publicPort: 80,
        privatePort: 30080,
        openFirewall: false
      })
      assert.strictEqual(rule.publicPort, 80)
      assert.strictEqual(rule.privatePort, 30080)
      assert.strictEqual(
        yield* cs.run(assignToLoadBalancerRule, { id: rule.id, vmIdIpMap: [{ vmId: node1.id, vmIp: "10.1.1.11" }] }),
        true
      )
      const members = yield* cs.list(listLoadBalancerRuleVmIps, { id: rule.id })
      assert.deepStrictEqual(members.map((m) => [m.vm.name, m.vmIps]), [["node-1", ["10.1.1.11"]]])
      // Only the id and the name are kept of a member (a rule can have thousands).
      assert.deepStrictEqual(yield* cs.list(listLoadBalancerRuleInstances, { id: rule.id }), [{
        id: node1.id,
        name: "node-1"
      }])

      yield* cs.run(createTags, {
        resourceType: "LoadBalancer",
        resourceIds: [rule.id],
        tags: [{ key: "cloudstack-ccm/cluster", value: "demo" }]
      })
      const tags = yield* cs.list(listTags, { resourceId: rule.id })
      assert.deepStrictEqual(tags.map((t) => [t.key, t.value]), [["cloudstack-ccm/cluster", "demo"]])
      const [withTags] = yield* cs.list(listLoadBalancerRules, { publicIpId: ip.id })
      assert.deepStrictEqual(withTags?.tags.map((t) => t.key), ["cloudstack-ccm/cluster"])
      assert.strictEqual(withTags?.state, "Active")

      const fw = yield* cs.run(createFirewallRule, {
        ipAddressId: ip.id,
        protocol: "tcp",
        startPort: 80,
        endPort: 80,
        cidrList: ["0.0.0.0/0"]
      })
      assert.deepStrictEqual([fw.startPort, fw.endPort, fw.cidrList], [80, 80, ["0.0.0.0/0"]])
      assert.strictEqual((yield* cs.list(listFirewallRules, { ipAddressId: ip.id })).length, 1)

      const conflict = yield* Effect.flip(
        cs.submit(createLoadBalancerRule, {
          name: "x",
          algorithm: "roundrobin",
          publicIpId: ip.id,
          publicPort: 80,
          privatePort: 1
        })
      )
      assert.deepInclude(conflict, { _tag: "CloudStackApiError", errorCode: 537 })

      assert.strictEqual(
        yield* cs.run(removeFromLoadBalancerRule, { id: rule.id, virtualMachineIds: [node1.id] }),
        true
      )
      assert.strictEqual(yield* cs.run(deleteLoadBalancerRule, { id: rule.id }), true)
      assert.strictEqual(yield* cs.run(disassociateIpAddress, { id: ip.id }), true)
      assert.deepStrictEqual(yield* cs.list(listLoadBalancerRules, { publicIpId: ip.id }), [])
    })
  },
  {
    name: "VPC: tiers, ACL lists and items (string ports decoded)",
    projectId: Option.none(),
    run: Effect.gen(function*() {
      const cs = yield* CloudStackClient
      const [vpc] = yield* cs.list(listVPCs, {})
      assert.strictEqual(vpc?.name, "vpc1")
      if (vpc === undefined) return
      const tiers = yield* cs.list(listNetworks, { vpcId: vpc.id })
      assert.sameMembers(tiers.map((t) => t.name), ["vpc1-web", "vpc1-app", "vpc1-db"])
      const lists = yield* cs.list(listNetworkACLLists, { vpcId: vpc.id })
      const web = lists.find((l) => l.name === "web-acl")
      assert.isDefined(web)
      if (web === undefined) return
      const items = yield* cs.list(listNetworkACLs, { aclId: web.id })
      assert.sameMembers(items.map((i) => i.startPort), [80, 443])
    })
  },
  {
    name: "project by name: resolved once; scoped lists see the project's network",
    projectId: Option.some("demo-project"),
    run: Effect.gen(function*() {
      const cs = yield* CloudStackClient
      assert.isTrue(Option.isSome(cs.projectId))
      const networks = yield* cs.list(listNetworks, {})
      assert.deepStrictEqual(networks.map((n) => n.name), ["project-net"])
    })
  },
  {
    name: "deploy and expunge a VM from template and offering",
    projectId: Option.none(),
    run: Effect.gen(function*() {
      const cs = yield* CloudStackClient
      const [template] = yield* cs.list(listTemplates, { templateFilter: "executable" })
      const [offering] = yield* cs.list(listServiceOfferings, { name: "Small Instance" })
      const [zone] = yield* cs.list(listZones, {})
      const net = (yield* cs.list(listNetworks, {})).find((n) => n.name === "isolated1")
      if (template === undefined || offering === undefined || zone === undefined || net === undefined) {
        return assert.fail("demo world lacks template, offering, zone or network")
      }
      const vm = yield* cs.run(deployVirtualMachine, {
        templateId: template.id,
        serviceOfferingId: offering.id,
        zoneId: zone.id,
        networkIds: [net.id],
        name: "node-9"
      })
      assert.strictEqual(vm.state, "Running")
      assert.strictEqual(vm.nics[0]?.networkId, net.id)
      const destroyed = yield* cs.run(destroyVirtualMachine, { id: vm.id, expunge: true })
      assert.strictEqual(destroyed.id, vm.id)
      // an admin may still see it while the expunge thread has not removed it yet
      const after = yield* cs.list(listVirtualMachines, { id: vm.id })
      assert.isTrue(after.every((v) => v.state === "Expunging"), JSON.stringify(after.map((v) => v.state)))
    })
  }
]

describe("CloudStackClient against the simulator, in memory (TestClock)", () => {
  for (const scenario of scenarios) {
    it.effect(scenario.name, () => driven(scenario.run).pipe(Effect.provide(memoryEnv(scenario.projectId))))
  }
})

describe("CloudStackClient over HTTP against the simulator's HTTP face (signatures verified)", () => {
  for (const scenario of scenarios) {
    it.live(scenario.name, () => Effect.scoped(scenario.run.pipe(Effect.provide(httpEnv(scenario.projectId)))))
  }

  it.live("a wrong secret key is refused with 401 (the face really checks signatures)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(
        Effect.flatMap(CloudStackClient, (cs) => cs.list(listZones, {})).pipe(
          Effect.provide(httpEnv(Option.none(), { ...demoKeys("admin"), secretKey: Redacted.make("not-the-secret") }))
        )
      ))
      assert.deepInclude(error, { _tag: "CloudStackApiError", errorCode: 401 })
    }))
})

describe("the configured key's account, the same in memory and over HTTP", () => {
  const vmNames = Effect.flatMap(CloudStackClient, (cs) => cs.list(listVirtualMachines, {})).pipe(
    Effect.map((vms) => vms.map((v) => v.name).sort())
  )
  const viaMemory = <A, E>(effect: Effect.Effect<A, E, CloudStackClient>, keys: Keys) =>
    effect.pipe(Effect.provide(memoryEnv(Option.none(), keys)))
  const viaHttp = <A, E>(effect: Effect.Effect<A, E, CloudStackClient>, keys: Keys) =>
    Effect.scoped(effect.pipe(Effect.provide(httpEnv(Option.none(), keys))))

  it.live("alice's keys list only alice's VM; admin's list every account's", () =>
    Effect.gen(function*() {
      const alice = demoKeys("alice")
      assert.deepStrictEqual(yield* viaMemory(vmNames, alice), ["alice-1"])
      assert.deepStrictEqual(yield* viaHttp(vmNames, alice), ["alice-1"])
      const admin = yield* viaMemory(vmNames, demoKeys("admin"))
      assert.include(admin, "alice-1")
      assert.isAbove(admin.length, 1)
      assert.deepStrictEqual(yield* viaHttp(vmNames, demoKeys("admin")), admin)
      const bob = demoKeys("bob")
      assert.deepStrictEqual(yield* viaMemory(vmNames, bob), yield* viaHttp(vmNames, bob))
    }))

  it.live("an unknown key gets the same 401 in memory as over HTTP, and never reaches the engine", () =>
    Effect.gen(function*() {
      const unknown: Keys = { apiKey: Redacted.make("no-such-api-key"), secretKey: Redacted.make("no-such-secret") }
      const calls = Effect.map(Effect.flatMap(CloudStackSimulator, (s) => s.callLog), (log) => log.length)
      const inMemory = yield* Effect.gen(function*() {
        const error = yield* Effect.flip(Effect.flatMap(CloudStackClient, (cs) => cs.list(listZones, {})))
        return { error, calls: yield* calls }
      }).pipe(Effect.provide(memoryEnv(Option.none(), unknown)))
      const overHttp = yield* Effect.flip(
        viaHttp(Effect.flatMap(CloudStackClient, (cs) => cs.list(listZones, {})), unknown)
      )
      assert.deepInclude(inMemory.error, { _tag: "CloudStackApiError", httpStatus: 401, errorCode: 401 })
      assert.deepStrictEqual(inMemory.error, overHttp)
      assert.strictEqual(inMemory.calls, 0)
    }))
})
