import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import {
  destroyVirtualMachine,
  listVirtualMachines,
  stopVirtualMachine
} from "../../src/cloudstack/commands/VirtualMachines.js"
import { Instances } from "../../src/provider/Instances.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import { bigWorld, cloudLayer } from "./NodeScenariosEnv.js"

const vmNamed = (name: string) =>
  Effect.gen(function*() {
    const client = yield* CloudStackClient
    const vms = yield* client.list(listVirtualMachines, { name })
    const vm = vms.find((v) => v.name === name)
    assert.isDefined(vm)
    return vm!
  })

const listCalls = Effect.map(
  Effect.flatMap(CloudStackSimulator, (s) => s.counters),
  (c) => c.get("listVirtualMachines") ?? 0
)

describe("Instances on the CloudStack simulator", () => {
  it.effect("600 nodes resolve with 2 paged list calls and nothing per node", () =>
    Effect.gen(function*() {
      const instances = yield* Instances
      const before = yield* listCalls
      const nodes = Array.from({ length: 600 }, (_, i) => ({ name: `big-${i + 1}`, providerID: "" }))
      const lookups = yield* instances.resolve(nodes)
      assert.strictEqual([...lookups.values()].filter((l) => l._tag === "Found").length, 600)
      assert.strictEqual((yield* listCalls) - before, 2)
      const log = yield* Effect.flatMap(CloudStackSimulator, (s) => s.callLog)
      const last = log.filter((c) => c.command === "listVirtualMachines").at(-1)
      assert.strictEqual(last?.params["listall"], "true")
      assert.strictEqual(last?.params["pagesize"], "500")
    }).pipe(Effect.provide(cloudLayer({ world: bigWorld(600) }))))

  it.effect("IPv6 and IPv4 InternalIPs, the Go CCM's instance type, zone and region", () =>
    Effect.gen(function*() {
      const instances = yield* Instances
      const md = yield* instances.instanceMetadata({ name: "node-1", providerID: "" })
      const vm = yield* vmNamed("node-1")
      assert.deepStrictEqual(md, {
        providerID: `cloudstack:///${vm.id}`,
        instanceType: "SmallInstance",
        zone: "zone1",
        region: "eu-1",
        addresses: [{ type: "InternalIP", address: "10.1.1.11" }, { type: "InternalIP", address: "fd00:1:1::11" }]
      })
    }).pipe(Effect.provide(cloudLayer({ providerName: "cloudstack", config: { region: Option.some("eu-1") } }))))

  it.effect("project scoping: project VMs resolve only with project-id configured", () =>
    Effect.gen(function*() {
      const withoutProject = yield* Effect.provide(
        Effect.flatMap(Instances, (i) => i.instanceExists({ name: "proj-1", providerID: "" })),
        cloudLayer()
      )
      assert.isFalse(withoutProject)
      const withProject = yield* Effect.provide(
        Effect.flatMap(Instances, (i) => i.instanceExists({ name: "proj-1", providerID: "" })),
        cloudLayer({ config: { projectId: Option.some("demo-project") } })
      )
      assert.isTrue(withProject)
    }))

  it.effect("stopped VM: exists and shut down; destroyed VM: does not exist", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const instances = yield* Instances
      const n2 = yield* vmNamed("node-2")
      const n3 = yield* vmNamed("node-3")
      yield* client.run(stopVirtualMachine, { id: n2.id })
      yield* client.run(destroyVirtualMachine, { id: n3.id, expunge: true })
      assert.isTrue(yield* instances.instanceExists({ name: "node-2", providerID: "" }))
      assert.isTrue(yield* instances.instanceShutdown({ name: "node-2", providerID: "" }))
      assert.isFalse(yield* instances.instanceExists({ name: "node-3", providerID: `external-cloudstack://${n3.id}` }))
      assert.isFalse(yield* instances.instanceExists({ name: "node-3", providerID: "" }))
    }).pipe(Effect.provide(cloudLayer())))

  it.effect("an API outage is an error, never 'does not exist'", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const instances = yield* Instances
      yield* sim.setFaults({ errorRates: [{ command: "*", code: 530, rate: 1 }] })
      const exit = yield* Effect.exit(instances.instanceExists({ name: "node-1", providerID: "" }))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.provide(cloudLayer())))
})
