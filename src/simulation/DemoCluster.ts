/**
 * The seeded demo cluster for `cloudstack-ccm simulate`: makes sure the simulated cloud has enough
 * running VMs (deploying extra ones through the CloudStack API) and registers one Node per VM as
 * kubelet `--cloud-provider=external` would: tainted uninitialized, with only a Hostname address.
 * It plays kubelet's part only; everything after registration is the real controllers' work.
 */
import { Chunk, Effect, Random, Schema } from "effect"
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
import { NodeApi, type NodeCreate } from "../kubernetes/NodeApi.js"
import { demoWorld } from "./cloudstack/DemoWorld.js"
import { World } from "./cloudstack/World.js"

/**
 * A world with `count` extra running VMs `big-<n>` (IPv4 + IPv6) on a /16 network `big`, for
 * paging and scale (tests, benchmarks, `simulate --nodes` beyond the demo world without deploys).
 */
export const scaledWorld = (count: number, world: World = demoWorld): World => {
  const base = Schema.encodeSync(World)(world)
  const vms: ReadonlyArray<unknown> = base.vms ?? []
  return Schema.decodeUnknownSync(World)({
    ...base,
    networks: [
      ...base.networks,
      {
        name: "big",
        zone: base.zones[0].name,
        offering: "DefaultIsolatedNetworkOfferingWithSourceNatService",
        owner: base.defaultAccount,
        cidr: "10.20.0.0/16",
        ip6cidr: "fd00:20::/64"
      }
    ],
    vms: [
      ...vms,
      ...Array.from({ length: count }, (_, i) => ({
        name: `big-${i + 1}`,
        zone: base.zones[0].name,
        owner: base.defaultAccount,
        serviceOffering: "Medium Instance",
        template: "Debian 12",
        nics: [{
          network: "big",
          ip: `10.20.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 2}`,
          ip6: `fd00:20::${(i + 1).toString(16)}`
        }]
      }))
    ]
  })
}

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
  Effect.gen(function*(): Effect.fn.Return<ReadonlyArray<VirtualMachine>, CloudStackError, CloudStackClient> {
    const client = yield* CloudStackClient
    const [zone] = yield* client.list(listZones, {})
    const [offering] = yield* client.list(listServiceOfferings, {})
    if (zone === undefined || offering === undefined) return []
    const templates = yield* client.list(listTemplates, { templateFilter: "executable", zoneId: zone.id })
    const networks = yield* client.list(listNetworks, { zoneId: zone.id, type: "Isolated" })
    const template = templates[0]
    const network = networks.find((n) => n.vpcId === undefined) ?? networks[0]
    if (template === undefined || network === undefined) return []
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
    const running = yield* client.list(listVirtualMachines, { state: "Running", details: ["min", "nics"] })
    const extra = Math.max(0, options.nodes - running.length)
    const deployed = extra > 0 ? yield* deployMore(extra, running.length + 1) : []
    const vms = Chunk.toReadonlyArray(yield* Random.shuffle([...running, ...deployed])).slice(0, options.nodes)
    return yield* Effect.forEach(vms, (vm, i) =>
      Effect.map(nodes.create(nodeFor(vm, i, domain)), (created) => ({ vm, node: created.metadata.name })), {
      concurrency: 16
    })
  })
