/**
 * The seeded demo cluster for `cloudstack-ccm simulate`: makes sure the simulated cloud has enough
 * running VMs (deploying extra ones through the CloudStack API) and registers one Node per VM as
 * kubelet `--cloud-provider=external` would: tainted uninitialized, with only a Hostname address.
 * It plays kubelet's part only; everything after registration is the real controllers' work.
 */
import { Chunk, Effect, Random } from "effect"
import { CloudStackClient } from "../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../cloudstack/CloudStackError.js"
import { listNetworks } from "../cloudstack/commands/Networks.js"
import {
  deployVirtualMachine,
  listServiceOfferings,
  listTemplates,
  listVirtualMachines,
  type VirtualMachine
} from "../cloudstack/commands/VirtualMachines.js"
import { listZones } from "../cloudstack/commands/Zones.js"
import { TAINT_UNINITIALIZED } from "../controllers/NodePlan.js"
import type { KubeApiError } from "../kubernetes/KubeError.js"
import { type NodeCreate, NodeApi } from "../kubernetes/NodeApi.js"

export interface DemoClusterOptions {
  /** How many Nodes (and running VMs) the cluster has. */
  readonly nodes: number
  /** DNS suffix some Nodes register with (their VM is found by the short name). */
  readonly domain?: string | undefined
}

/**
 * A Node name for a VM, as a kubelet would register it: lowercase (Kubernetes names are), and
 * every third one as an FQDN, so the demo exercises the case-insensitive and short-name matches.
 */
export const nodeName = (vmName: string, index: number, domain: string): string =>
  index % 3 === 2 ? `${vmName.toLowerCase()}.${domain}` : vmName.toLowerCase()

/** What kubelet registers: the uninitialized taint and its own Hostname address. Pure. */
export const nodeFor = (vm: VirtualMachine, index: number, domain: string): NodeCreate => {
  const name = nodeName(vm.name, index, domain)
  return {
    name,
    labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" },
    taints: [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }],
    addresses: [{ type: "Hostname", address: name }]
  }
}

/** Deploys `count` more VMs in the first zone's first isolated network, named `Worker-<n>`. */
const deployMore = (count: number, first: number) =>
  Effect.gen(function*() {
    const client = yield* CloudStackClient
    const [zone] = yield* client.list(listZones, {})
    const [offering] = yield* client.list(listServiceOfferings, {})
    if (zone === undefined || offering === undefined) return [] as ReadonlyArray<VirtualMachine>
    const templates = yield* client.list(listTemplates, { templateFilter: "executable", zoneId: zone.id })
    const networks = yield* client.list(listNetworks, { zoneId: zone.id, type: "Isolated" })
    const template = templates[0]
    const network = networks.find((n) => n.vpcId === undefined) ?? networks[0]
    if (template === undefined || network === undefined) return [] as ReadonlyArray<VirtualMachine>
    return yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => first + i),
      (n) =>
        client.run(deployVirtualMachine, {
          serviceOfferingId: offering.id,
          templateId: template.id,
          zoneId: zone.id,
          networkIds: [network.id],
          name: `Worker-${String(n).padStart(3, "0")}`
        }),
      { concurrency: 8 }
    )
  })

/**
 * Ensures `nodes` running VMs exist, then registers a Node per VM (in a seeded order). Returns the
 * VMs with their Node names. Fails on CloudStack or Kubernetes errors (the demo cannot go on).
 */
export const setup = (options: DemoClusterOptions): Effect.Effect<
  ReadonlyArray<{ readonly vm: VirtualMachine; readonly node: string }>,
  CloudStackError | KubeApiError,
  CloudStackClient | NodeApi
> =>
  Effect.gen(function*() {
    const client = yield* CloudStackClient
    const nodes = yield* NodeApi
    const domain = options.domain ?? "cluster.example"
    const running = (yield* client.list(listVirtualMachines, { state: "Running", details: ["min", "nics"] }))
    const extra = Math.max(0, options.nodes - running.length)
    const deployed = extra > 0 ? yield* deployMore(extra, running.length + 1) : []
    const vms = Chunk.toReadonlyArray(yield* Random.shuffle([...running, ...deployed])).slice(0, options.nodes)
    return yield* Effect.forEach(vms, (vm, i) =>
      Effect.map(nodes.create(nodeFor(vm, i, domain)), (created) => ({ vm, node: created.metadata.name })), {
      concurrency: 16
    })
  })
