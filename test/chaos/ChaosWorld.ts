/**
 * The cloud the chaos suite runs in: the cluster's account `k8s` (the CCM's key, a root admin, so
 * every other account's resources are visible to it and deletable by it), the user accounts
 * `alice` and `bob`; an isolated network on the virtual router (no UDP, no health checks), one on
 * a Netscaler-like provider, a VPC with a tier on a custom ACL list and one on `default_allow`, a
 * shared network (no Lb). Node VMs on the four cluster networks; VMs of the user's own that are no
 * nodes. Foreign resources (other accounts' and the user's own IPs, LB rules, firewall rules, ACL
 * items, tags, policies) are created through the API as their owners before the CCM starts.
 */
import { Effect, Schema } from "effect"
import type { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import { World } from "../../src/simulation/cloudstack/World.js"

export const CLUSTER = "chaos"
export const CCM_ACCOUNT = "k8s"
export const CCM_KEYS = { apiKey: "chaos-k8s-api-key", secretKey: "chaos-k8s-secret-key" } as const
const ALICE_KEY = "chaos-alice-api-key"
const BOB_KEY = "chaos-bob-api-key"

/** The cluster's networks a Service may land on, with what their provider offers. */
export const CLUSTER_NETWORKS = [
  { name: "k8s-vr", prefix: "10.1", udp: false, healthChecks: false, vpc: false },
  { name: "k8s-ns", prefix: "10.2", udp: true, healthChecks: true, vpc: false },
  { name: "k8s-tier1", prefix: "10.10.1", udp: false, healthChecks: false, vpc: true },
  { name: "k8s-tier2", prefix: "10.10.2", udp: false, healthChecks: false, vpc: true }
] as const
export type ClusterNetwork = (typeof CLUSTER_NETWORKS)[number]["name"]

/** Node VMs at the start, per network. */
export const INITIAL_NODES: Readonly<Record<ClusterNetwork, number>> = {
  "k8s-vr": 5,
  "k8s-ns": 3,
  "k8s-tier1": 3,
  "k8s-tier2": 2
}

/** Free addresses Services ask for by `loadBalancerIP` or the address annotation (never picked by the world's setup). */
export const REQUESTABLE_FREE = [
  "100.64.3.10",
  "100.64.3.11",
  "100.64.3.12",
  "100.64.3.13",
  "100.64.3.14",
  "100.64.3.15"
]

const VR_SERVICES = ["Lb", "Firewall", "SourceNat", "StaticNat", "PortForwarding", "Dhcp", "Dns", "UserData"] as const
const VPC_SERVICES = [
  "Lb",
  "NetworkACL",
  "SourceNat",
  "StaticNat",
  "PortForwarding",
  "Dhcp",
  "Dns",
  "UserData"
] as const

const vm = (name: string, network: string, ip: string, owner = CCM_ACCOUNT) => ({
  name,
  zone: "zone1",
  owner,
  serviceOffering: "Small Instance",
  template: "Debian 12",
  nics: [{ network, ip }] as const
})

const nodeVms = CLUSTER_NETWORKS.flatMap((n) =>
  Array.from(
    { length: INITIAL_NODES[n.name] },
    (_, i) => vm(`${n.name.replace("k8s-", "")}-${i + 1}`, n.name, `${n.prefix}.${n.vpc ? "" : "0."}${11 + i}`)
  )
)

export const chaosWorld: World = Schema.decodeSync(World)({
  defaultAccount: CCM_ACCOUNT,
  accounts: [
    { name: CCM_ACCOUNT, role: "admin", apiKey: CCM_KEYS.apiKey, secretKey: CCM_KEYS.secretKey },
    { name: "alice", role: "user", apiKey: ALICE_KEY, secretKey: "chaos-alice-secret-key" },
    { name: "bob", role: "user", apiKey: BOB_KEY, secretKey: "chaos-bob-secret-key" }
  ],
  zones: [{ name: "zone1" }],
  lbProviders: [
    { name: "VirtualRouter", supportsUdp: false, supportsHealthCheck: false },
    { name: "Netscaler", supportsUdp: true, supportsHealthCheck: true }
  ],
  networkOfferings: [
    { name: "IsolatedVR", guestIpType: "Isolated", services: VR_SERVICES, lbProvider: "VirtualRouter" },
    { name: "IsolatedNetscaler", guestIpType: "Isolated", services: VR_SERVICES, lbProvider: "Netscaler" },
    {
      name: "VpcTier",
      guestIpType: "Isolated",
      forVpc: true,
      conserveMode: false,
      services: VPC_SERVICES,
      lbProvider: "VirtualRouter"
    },
    { name: "Shared", guestIpType: "Shared", services: ["Dhcp", "Dns", "UserData"] }
  ],
  serviceOfferings: [{ name: "Small Instance" }],
  templates: [{ name: "Debian 12" }],
  vpcs: [{ name: "vpc1", zone: "zone1", cidr: "10.10.0.0/16", owner: CCM_ACCOUNT }],
  aclLists: [{
    name: "k8s-acl",
    vpc: "vpc1",
    items: [
      { number: 10, protocol: "tcp", startport: 22, endport: 22, cidrlist: ["10.0.0.0/8"] },
      { number: 20, protocol: "tcp", startport: 443, endport: 443, cidrlist: ["0.0.0.0/0"] }
    ]
  }],
  networks: [
    { name: "k8s-vr", zone: "zone1", offering: "IsolatedVR", owner: CCM_ACCOUNT, cidr: "10.1.0.0/16" },
    { name: "k8s-ns", zone: "zone1", offering: "IsolatedNetscaler", owner: CCM_ACCOUNT, cidr: "10.2.0.0/16" },
    {
      name: "k8s-tier1",
      zone: "zone1",
      offering: "VpcTier",
      owner: CCM_ACCOUNT,
      cidr: "10.10.1.0/24",
      vpc: "vpc1",
      acl: "k8s-acl"
    },
    {
      name: "k8s-tier2",
      zone: "zone1",
      offering: "VpcTier",
      owner: CCM_ACCOUNT,
      cidr: "10.10.2.0/24",
      vpc: "vpc1",
      acl: "default_allow"
    },
    { name: "shared1", zone: "zone1", offering: "Shared", owner: CCM_ACCOUNT, cidr: "10.100.0.0/24" },
    { name: "alice-net", zone: "zone1", offering: "IsolatedVR", owner: "alice", cidr: "10.3.1.0/24" },
    { name: "bob-net", zone: "zone1", offering: "IsolatedNetscaler", owner: "bob", cidr: "10.4.1.0/24" }
  ],
  vms: [
    ...nodeVms,
    // The user's own VMs (no nodes): members of the user's own LB rules.
    vm("db-1", "k8s-vr", "10.1.0.200"),
    vm("app-1", "k8s-tier1", "10.10.1.200"),
    vm("alice-1", "alice-net", "10.3.1.11", "alice"),
    vm("bob-1", "bob-net", "10.4.1.11", "bob")
  ],
  publicIps: [{ zone: "zone1", start: "100.64.0.10", count: 1000 }]
})

/** One API call as `apiKey`'s account; the answer's inner object, or a failure naming the call. */
const call = (sim: CloudStackSimulator["Type"], apiKey: string, command: string, params: Record<string, string>) =>
  Effect.flatMap(sim.handle({ command, params, apiKey }), (r) => {
    const body = typeof r.body === "object" && r.body !== null ? Object.values(r.body)[0] : undefined
    const inner: Record<string, unknown> = typeof body === "object" && body !== null ? { ...body } : {}
    return r.status === 200
      ? Effect.succeed(inner)
      : Effect.dieMessage(`world setup: ${command} answered ${r.status}: ${JSON.stringify(r.body)}`)
  })

const text = (u: unknown): string => (typeof u === "string" ? u : "")

/** The id of the named entity in a list answer. */
const idOf = (sim: CloudStackSimulator["Type"], apiKey: string, command: string, key: string, name: string) =>
  Effect.map(call(sim, apiKey, command, { listall: "true" }), (inner) => {
    const list = inner[key]
    const found = Array.isArray(list)
      ? list.find((x: unknown) => typeof x === "object" && x !== null && "name" in x && x.name === name)
      : undefined
    const id = typeof found === "object" && found !== null && "id" in found ? text(found.id) : ""
    return id === "" ? Effect.dieMessage(`world setup: no ${name} in ${command}`) : Effect.succeed(id)
  }).pipe(Effect.flatten)

/** Foreign addresses a Service may request: the user's idle IP on k8s-ns, alice's IP (never usable). */
export interface ForeignAddresses {
  readonly userIdleNs: string
  readonly alice: string
  readonly userVr: string
}

/**
 * Creates the foreign resources as their owners (jobs run at once: no faults are on yet): alice's
 * and bob's IPs with LB rules, members, firewall rules, a stickiness policy and tags; the user's
 * own IPs in the cluster's account (one with an LB rule on port 8443 and a member that is no node,
 * one idle that Services may request, one in the VPC with a rule on tier 1), a firewall rule on the
 * virtual router's source-NAT IP and an ACL item of its own on the tier's list.
 */
export const createForeign = (sim: CloudStackSimulator["Type"]) =>
  Effect.gen(function*() {
    const admin = CCM_KEYS.apiKey
    const job = (apiKey: string, command: string, params: Record<string, string>) => call(sim, apiKey, command, params)
    const ipOn = (apiKey: string, params: Record<string, string>) =>
      Effect.map(job(apiKey, "associateIpAddress", params), (r) => text(r.id))
    const addressOf = (apiKey: string, id: string) =>
      Effect.map(call(sim, apiKey, "listPublicIpAddresses", { id, listall: "true" }), (r) => {
        const list = r.publicipaddress
        const first: unknown = Array.isArray(list) ? list[0] : undefined
        return typeof first === "object" && first !== null && "ipaddress" in first ? text(first.ipaddress) : ""
      })
    const tag = (apiKey: string, type: string, id: string, key: string, value: string) =>
      job(apiKey, "createTags", { resourcetype: type, resourceids: id, "tags[0].key": key, "tags[0].value": value })

    // alice: an IP, a rule with her VM, a firewall rule, a tag.
    const aliceNet = yield* idOf(sim, ALICE_KEY, "listNetworks", "network", "alice-net")
    const aliceIp = yield* ipOn(ALICE_KEY, { networkid: aliceNet })
    const aliceRule = text(
      (yield* job(ALICE_KEY, "createLoadBalancerRule", {
        name: "alice-web",
        algorithm: "roundrobin",
        publicport: "80",
        privateport: "8080",
        publicipid: aliceIp,
        openfirewall: "false"
      })).id
    )
    yield* job(ALICE_KEY, "assignToLoadBalancerRule", {
      id: aliceRule,
      virtualmachineids: yield* idOf(sim, ALICE_KEY, "listVirtualMachines", "virtualmachine", "alice-1")
    })
    yield* job(ALICE_KEY, "createFirewallRule", {
      ipaddressid: aliceIp,
      protocol: "tcp",
      startport: "80",
      endport: "80",
      cidrlist: "0.0.0.0/0"
    })
    yield* tag(ALICE_KEY, "LoadBalancer", aliceRule, "team", "alice")

    // bob: UDP on his Netscaler network with a stickiness policy.
    const bobNet = yield* idOf(sim, BOB_KEY, "listNetworks", "network", "bob-net")
    const bobIp = yield* ipOn(BOB_KEY, { networkid: bobNet })
    const bobRule = text(
      (yield* job(BOB_KEY, "createLoadBalancerRule", {
        name: "bob-dns",
        algorithm: "source",
        publicport: "53",
        privateport: "53",
        protocol: "udp",
        publicipid: bobIp,
        openfirewall: "false"
      })).id
    )
    yield* job(BOB_KEY, "createLBStickinessPolicy", {
      lbruleid: bobRule,
      name: "bob-sticky",
      methodname: "SourceBased"
    })
    yield* job(BOB_KEY, "createFirewallRule", {
      ipaddressid: bobIp,
      protocol: "udp",
      startport: "53",
      endport: "53",
      cidrlist: "192.0.2.0/24"
    })

    // The user's own, in the cluster's account.
    const vr = yield* idOf(sim, admin, "listNetworks", "network", "k8s-vr")
    const ns = yield* idOf(sim, admin, "listNetworks", "network", "k8s-ns")
    const tier1 = yield* idOf(sim, admin, "listNetworks", "network", "k8s-tier1")
    const vpc = yield* idOf(sim, admin, "listVPCs", "vpc", "vpc1")
    const userVr = yield* ipOn(admin, { networkid: vr })
    const userRule = text(
      (yield* job(admin, "createLoadBalancerRule", {
        name: "user-admin",
        algorithm: "leastconn",
        publicport: "8443",
        privateport: "30999",
        publicipid: userVr,
        openfirewall: "false"
      })).id
    )
    yield* job(admin, "assignToLoadBalancerRule", {
      id: userRule,
      virtualmachineids: yield* idOf(sim, admin, "listVirtualMachines", "virtualmachine", "db-1")
    })
    yield* job(admin, "createFirewallRule", {
      ipaddressid: userVr,
      protocol: "tcp",
      startport: "8443",
      endport: "8443",
      cidrlist: "10.0.0.0/8"
    })
    yield* tag(admin, "PublicIpAddress", userVr, "owner", "ops")
    const userIdleNs = yield* ipOn(admin, { networkid: ns })
    const userVpc = yield* ipOn(admin, { vpcid: vpc })
    const vpcRule = text(
      (yield* job(admin, "createLoadBalancerRule", {
        name: "user-app",
        algorithm: "roundrobin",
        publicport: "9000",
        privateport: "9000",
        publicipid: userVpc,
        networkid: tier1,
        openfirewall: "false"
      })).id
    )
    yield* job(admin, "assignToLoadBalancerRule", {
      id: vpcRule,
      virtualmachineids: yield* idOf(sim, admin, "listVirtualMachines", "virtualmachine", "app-1")
    })
    const acl = yield* idOf(sim, admin, "listNetworkACLLists", "networkacllist", "k8s-acl")
    yield* job(admin, "createNetworkACL", {
      aclid: acl,
      protocol: "udp",
      startport: "500",
      endport: "500",
      cidrlist: "198.51.100.0/24",
      number: "30",
      action: "Allow",
      traffictype: "Ingress"
    })
    // A firewall rule on the virtual router's source-NAT address.
    const sourceNat = yield* Effect.map(
      call(sim, admin, "listPublicIpAddresses", { associatednetworkid: vr, issourcenat: "true", listall: "true" }),
      (r) => {
        const list = r.publicipaddress
        const first: unknown = Array.isArray(list) ? list[0] : undefined
        return typeof first === "object" && first !== null && "id" in first ? text(first.id) : ""
      }
    )
    yield* job(admin, "createFirewallRule", {
      ipaddressid: sourceNat,
      protocol: "tcp",
      startport: "22",
      endport: "22",
      cidrlist: "192.0.2.0/24"
    })

    return {
      userIdleNs: yield* addressOf(admin, userIdleNs),
      alice: yield* addressOf(ALICE_KEY, aliceIp),
      userVr: yield* addressOf(admin, userVr)
    } satisfies ForeignAddresses
  })
