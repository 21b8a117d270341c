/**
 * Wiring of the service controller scenarios: the CloudStack simulator (in memory) behind the real
 * client, Instances and LoadBalancers, FakeKubernetes, and helpers to register initialised Nodes for
 * demo-world VMs, start the controller and read the results. The scenarios run on virtual time
 * (test/fakes/Virtual.ts).
 */
import { Effect, Layer, Option } from "effect"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { listVirtualMachines } from "../../src/cloudstack/commands/VirtualMachines.js"
import * as ServiceController from "../../src/controllers/ServiceController.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi, type ServiceCreate } from "../../src/kubernetes/ServiceApi.js"
import * as LoadBalancers from "../../src/provider/loadbalancer/LoadBalancers.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { cloudLayer, type CloudOptions } from "./NodeScenariosEnv.js"

export const env = (options: CloudOptions = {}) =>
  Layer.merge(LoadBalancers.layer().pipe(Layer.provideMerge(cloudLayer(options))), FakeKubernetes.layer())

/** Registers initialised Nodes (providerID set, as the node controller leaves them) for demo VMs. */
export const registerNodes = (...vmNames: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const api = yield* NodeApi
    const vms = yield* cs.list(listVirtualMachines, {})
    for (const name of vmNames) {
      const vm = vms.find((v) => v.name === name)
      yield* api.create({ name, ...(vm === undefined ? {} : { providerID: `external-cloudstack://${vm.id}` }) })
    }
  })

export const startController = (options: ServiceController.ServiceControllerOptions = {}) =>
  Effect.gen(function*() {
    const controller = yield* ServiceController.make({ drainTimeout: 0, ...options })
    yield* controller.run
  })

export const createService = (input: Partial<ServiceCreate> & { readonly name: string }) =>
  Effect.flatMap(
    ServiceApi,
    (api) => api.create({ namespace: "default", type: "LoadBalancer", ports: [{ name: "http", port: 80 }], ...input })
  )

export const serviceNamed = (name: string) =>
  Effect.flatMap(ServiceApi, (api) => Effect.map(api.get("default", name), Option.getOrUndefined))

export const eventsOf = (name: string) =>
  Effect.map(
    Effect.flatMap(FakeKubernetes.FakeKubernetes, (k) => k.events),
    (events) => events.filter((e) => e.involvedObject.kind === "Service" && e.involvedObject.name === name)
  )

export const cloud = Effect.flatMap(CloudStackSimulator, (s) => s.state)

/** The simulator's rules of the Service whose UID is `uid`. */
export const rulesOf = (uid: string) =>
  Effect.map(cloud, (s) => s.lbRules.filter((r) => r.name.startsWith(`a${uid.replace(/-/g, "")}`.slice(0, 32) + "-")))

export const allocated = Effect.map(
  cloud,
  (s) => s.publicIps.filter((ip) => ip.state !== "Free").map((ip) => ip.uuid).sort()
)

export const counters = Effect.flatMap(CloudStackSimulator, (s) => s.counters)
