/**
 * The scenario a CloudStack simulator starts from: zones, accounts and projects (with API keys),
 * offerings, VPCs, ACL lists, networks, VMs and free public IPs. A Schema, so scenario files (JSON
 * or YAML) are decoded at the boundary; references between entries are by name and checked when
 * the simulator seeds its state. Ids left out are derived deterministically from the seed.
 */
import { Schema } from "effect"

/** An API user: requests signed with `apiKey`/`secretKey` act as `name`. */
export class WorldAccount extends Schema.Class<WorldAccount>("WorldAccount")({
  name: Schema.NonEmptyString,
  /** `admin` = root admin (sees every account's non-project resources with listall=true). */
  role: Schema.optionalWith(Schema.Literal("admin", "user"), { default: () => "user" as const }),
  apiKey: Schema.NonEmptyString,
  secretKey: Schema.NonEmptyString
}) {}

export class WorldProject extends Schema.Class<WorldProject>("WorldProject")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  /** Account names that are members (the first one is the owner). */
  members: Schema.Array(Schema.String),
  state: Schema.optionalWith(Schema.Literal("Active", "Suspended", "Disabled"), { default: () => "Active" as const })
}) {}

export class WorldZone extends Schema.Class<WorldZone>("WorldZone")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString
}) {}

/**
 * A load-balancer provider and what it accepts. The VirtualRouter (HAProxy) refuses UDP since
 * 4.15 and has no HealthCheckPolicy capability; a Netscaler-like provider accepts both.
 */
export class WorldLbProvider extends Schema.Class<WorldLbProvider>("WorldLbProvider")({
  name: Schema.NonEmptyString,
  supportsUdp: Schema.Boolean,
  supportsHealthCheck: Schema.Boolean
}) {}

export const NetworkService = Schema.Literal(
  "Lb", "Firewall", "SourceNat", "StaticNat", "PortForwarding", "NetworkACL", "Dhcp", "Dns", "UserData", "Vpn"
)
export type NetworkService = typeof NetworkService.Type

export class WorldNetworkOffering extends Schema.Class<WorldNetworkOffering>("WorldNetworkOffering")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  displaytext: Schema.optional(Schema.String),
  guestIpType: Schema.Literal("Isolated", "Shared"),
  forVpc: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  conserveMode: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  services: Schema.Array(NetworkService),
  /** Name of a `lbProviders` entry; required when `services` contains Lb. */
  lbProvider: Schema.optional(Schema.String)
}) {}

export class WorldServiceOffering extends Schema.Class<WorldServiceOffering>("WorldServiceOffering")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  cpunumber: Schema.optionalWith(Schema.Int, { default: () => 1 }),
  cpuspeed: Schema.optionalWith(Schema.Int, { default: () => 1000 }),
  memory: Schema.optionalWith(Schema.Int, { default: () => 1024 })
}) {}

export class WorldTemplate extends Schema.Class<WorldTemplate>("WorldTemplate")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  ostype: Schema.optionalWith(Schema.String, { default: () => "Debian GNU/Linux 12 (64-bit)" })
}) {}

/** Owner reference: an account name, or `project:<name>` for project-owned resources. */
export const Owner = Schema.String
export type Owner = typeof Owner.Type

export class WorldVpc extends Schema.Class<WorldVpc>("WorldVpc")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  zone: Schema.String,
  cidr: Schema.String,
  owner: Owner
}) {}

export class WorldAclItem extends Schema.Class<WorldAclItem>("WorldAclItem")({
  number: Schema.Int,
  protocol: Schema.String,
  startport: Schema.optional(Schema.Int),
  endport: Schema.optional(Schema.Int),
  cidrlist: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["0.0.0.0/0"] }),
  action: Schema.optionalWith(Schema.Literal("Allow", "Deny"), { default: () => "Allow" as const }),
  traffictype: Schema.optionalWith(Schema.Literal("Ingress", "Egress"), { default: () => "Ingress" as const })
}) {}

/** A custom ACL list of a VPC; `default_allow` and `default_deny` always exist and are immutable. */
export class WorldAclList extends Schema.Class<WorldAclList>("WorldAclList")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  vpc: Schema.String,
  description: Schema.optional(Schema.String),
  items: Schema.optionalWith(Schema.Array(WorldAclItem), { default: () => [] })
}) {}

export class WorldNetwork extends Schema.Class<WorldNetwork>("WorldNetwork")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  zone: Schema.String,
  offering: Schema.String,
  owner: Owner,
  /** IPv4 CIDR, e.g. 10.1.1.0/24 (gateway = first address). */
  cidr: Schema.String,
  ip6cidr: Schema.optional(Schema.String),
  /** VPC name for a tier. */
  vpc: Schema.optional(Schema.String),
  /** ACL list name for a tier: a custom list of the VPC, `default_allow` or `default_deny`. */
  acl: Schema.optional(Schema.String),
  /** Source-NAT public address of an isolated network (taken from the free pool when absent). */
  sourceNatIp: Schema.optional(Schema.String)
}) {}

export class WorldNic extends Schema.Class<WorldNic>("WorldNic")({
  network: Schema.String,
  ip: Schema.String,
  ip6: Schema.optional(Schema.String)
}) {}

export class WorldVm extends Schema.Class<WorldVm>("WorldVm")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  displayname: Schema.optional(Schema.String),
  zone: Schema.String,
  owner: Owner,
  state: Schema.optionalWith(Schema.Literal("Running", "Stopped", "Destroyed", "Expunging"), {
    default: () => "Running" as const
  }),
  serviceOffering: Schema.String,
  template: Schema.String,
  /** The first NIC is the default one. */
  nics: Schema.NonEmptyArray(WorldNic)
}) {}

/** Free public addresses of a zone: an explicit list and/or `count` consecutive IPv4 from `start`. */
export class WorldIpRange extends Schema.Class<WorldIpRange>("WorldIpRange")({
  zone: Schema.String,
  addresses: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  start: Schema.optional(Schema.String),
  count: Schema.optional(Schema.Int)
}) {}

export class World extends Schema.Class<World>("World")({
  /** Calls to the engine without an api key (the operator's console, tests) act as this account. */
  defaultAccount: Schema.String,
  accounts: Schema.NonEmptyArray(WorldAccount),
  projects: Schema.optionalWith(Schema.Array(WorldProject), { default: () => [] }),
  zones: Schema.NonEmptyArray(WorldZone),
  lbProviders: Schema.optionalWith(Schema.Array(WorldLbProvider), {
    default: () => [new WorldLbProvider({ name: "VirtualRouter", supportsUdp: false, supportsHealthCheck: false })]
  }),
  networkOfferings: Schema.Array(WorldNetworkOffering),
  serviceOfferings: Schema.Array(WorldServiceOffering),
  templates: Schema.Array(WorldTemplate),
  vpcs: Schema.optionalWith(Schema.Array(WorldVpc), { default: () => [] }),
  aclLists: Schema.optionalWith(Schema.Array(WorldAclList), { default: () => [] }),
  networks: Schema.Array(WorldNetwork),
  vms: Schema.optionalWith(Schema.Array(WorldVm), { default: () => [] }),
  publicIps: Schema.Array(WorldIpRange)
}) {}

/** Decodes an already-parsed JSON/YAML value into a World, reporting every error at once. */
export const decodeWorld = Schema.decodeUnknown(World, { errors: "all" })
