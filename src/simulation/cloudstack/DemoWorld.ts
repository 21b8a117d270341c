/**
 * The built-in demo world the simulator serves without a scenario file: one zone, isolated
 * networks on the VirtualRouter and on a Netscaler-like provider (UDP and health checks), a VPC
 * with two tiers on a custom ACL list and one on default_allow, a shared network, a project,
 * running VMs in each network and a pool of free public IPs. Ids come from the simulator's seed.
 */
import { Schema } from "effect"
import { World, type WorldVm } from "./World.js"

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

const vm = (name: string, network: string, ip: string, owner = "admin", ip6?: string) =>
  ({
    name,
    zone: "zone1",
    owner,
    serviceOffering: "Small Instance",
    template: "Debian 12",
    nics: [ip6 === undefined ? { network, ip } : { network, ip, ip6 }] as const
  }) satisfies typeof WorldVm.Encoded

const encoded: typeof World.Encoded = {
  defaultAccount: "admin",
  accounts: [
    { name: "admin", role: "admin", apiKey: "demo-admin-api-key", secretKey: "demo-admin-secret-key" },
    { name: "alice", role: "user", apiKey: "demo-alice-api-key", secretKey: "demo-alice-secret-key" },
    { name: "bob", role: "user", apiKey: "demo-bob-api-key", secretKey: "demo-bob-secret-key" }
  ],
  projects: [{ name: "demo-project", members: ["admin", "alice"], state: "Active" }],
  zones: [{ name: "zone1" }],
  lbProviders: [
    { name: "VirtualRouter", supportsUdp: false, supportsHealthCheck: false },
    { name: "Netscaler", supportsUdp: true, supportsHealthCheck: true }
  ],
  networkOfferings: [
    {
      name: "DefaultIsolatedNetworkOfferingWithSourceNatService",
      displaytext: "Offering for Isolated networks with Source Nat service enabled",
      guestIpType: "Isolated",
      forVpc: false,
      conserveMode: true,
      services: VR_SERVICES,
      lbProvider: "VirtualRouter"
    },
    {
      name: "IsolatedNetscalerOffering",
      displaytext: "Isolated networks with a Netscaler load balancer",
      guestIpType: "Isolated",
      forVpc: false,
      conserveMode: true,
      services: VR_SERVICES,
      lbProvider: "Netscaler"
    },
    {
      name: "DefaultIsolatedNetworkOfferingForVpcNetworks",
      displaytext: "Offering for Isolated VPC networks with Source Nat service enabled",
      guestIpType: "Isolated",
      forVpc: true,
      conserveMode: false,
      services: VPC_SERVICES,
      lbProvider: "VirtualRouter"
    },
    {
      name: "DefaultSharedNetworkOffering",
      displaytext: "Offering for Shared networks",
      guestIpType: "Shared",
      forVpc: false,
      conserveMode: true,
      services: ["Dhcp", "Dns", "UserData"]
    }
  ],
  serviceOfferings: [
    { name: "Small Instance", cpunumber: 1, cpuspeed: 1000, memory: 1024 },
    { name: "Medium Instance", cpunumber: 2, cpuspeed: 1000, memory: 2048 }
  ],
  templates: [{ name: "Debian 12", ostype: "Debian GNU/Linux 12 (64-bit)" }],
  vpcs: [{ name: "vpc1", zone: "zone1", cidr: "10.10.0.0/16", owner: "admin" }],
  aclLists: [{
    name: "web-acl",
    vpc: "vpc1",
    description: "ACL of the web and app tiers",
    items: [
      {
        number: 10,
        protocol: "tcp",
        startport: 80,
        endport: 80,
        cidrlist: ["0.0.0.0/0"],
        action: "Allow",
        traffictype: "Ingress"
      },
      {
        number: 20,
        protocol: "tcp",
        startport: 443,
        endport: 443,
        cidrlist: ["0.0.0.0/0"],
        action: "Allow",
        traffictype: "Ingress"
      }
    ]
  }],
  networks: [
    {
      name: "isolated1",
      zone: "zone1",
      offering: "DefaultIsolatedNetworkOfferingWithSourceNatService",
      owner: "admin",
      cidr: "10.1.1.0/24",
      ip6cidr: "fd00:1:1::/64"
    },
    { name: "isolated-ns", zone: "zone1", offering: "IsolatedNetscalerOffering", owner: "admin", cidr: "10.1.2.0/24" },
    {
      name: "vpc1-web",
      zone: "zone1",
      offering: "DefaultIsolatedNetworkOfferingForVpcNetworks",
      owner: "admin",
      cidr: "10.10.1.0/24",
      vpc: "vpc1",
      acl: "web-acl"
    },
    {
      name: "vpc1-app",
      zone: "zone1",
      offering: "DefaultIsolatedNetworkOfferingForVpcNetworks",
      owner: "admin",
      cidr: "10.10.2.0/24",
      vpc: "vpc1",
      acl: "web-acl"
    },
    {
      name: "vpc1-db",
      zone: "zone1",
      offering: "DefaultIsolatedNetworkOfferingForVpcNetworks",
      owner: "admin",
      cidr: "10.10.3.0/24",
      vpc: "vpc1",
      acl: "default_allow"
    },
    { name: "shared1", zone: "zone1", offering: "DefaultSharedNetworkOffering", owner: "admin", cidr: "10.100.0.0/24" },
    {
      name: "alice-net",
      zone: "zone1",
      offering: "DefaultIsolatedNetworkOfferingWithSourceNatService",
      owner: "alice",
      cidr: "10.3.1.0/24"
    },
    {
      name: "project-net",
      zone: "zone1",
      offering: "DefaultIsolatedNetworkOfferingWithSourceNatService",
      owner: "project:demo-project",
      cidr: "10.4.1.0/24"
    }
  ],
  vms: [
    vm("node-1", "isolated1", "10.1.1.11", "admin", "fd00:1:1::11"),
    vm("node-2", "isolated1", "10.1.1.12"),
    vm("node-3", "isolated1", "10.1.1.13"),
    vm("ns-node-1", "isolated-ns", "10.1.2.11"),
    vm("ns-node-2", "isolated-ns", "10.1.2.12"),
    vm("web-1", "vpc1-web", "10.10.1.11"),
    vm("web-2", "vpc1-web", "10.10.1.12"),
    vm("app-1", "vpc1-app", "10.10.2.11"),
    vm("db-1", "vpc1-db", "10.10.3.11"),
    vm("shared-1", "shared1", "10.100.0.11"),
    vm("shared-2", "shared1", "10.100.0.12"),
    vm("alice-1", "alice-net", "10.3.1.11", "alice"),
    vm("proj-1", "project-net", "10.4.1.11", "project:demo-project"),
    vm("proj-2", "project-net", "10.4.1.12", "project:demo-project")
  ],
  publicIps: [{ zone: "zone1", start: "203.0.113.10", count: 60 }]
}

/** The demo world (a constant: the literal above is type-checked against World's encoded form). */
export const demoWorld: World = Schema.decodeSync(World)(encoded)
