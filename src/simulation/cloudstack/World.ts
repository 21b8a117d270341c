/**
 * The scenario a CloudStack simulator starts from: zones, accounts and projects (with API keys),
 * offerings, VPCs, ACL lists, networks, VMs and free public IPs. A Schema, so scenario files (JSON
 * or YAML) are decoded at the boundary; references between entries are by name and checked when
 * the simulator seeds its state. Ids left out are derived deterministically from the seed.
 */
import { Schema } from "effect"

/**
 * What one world may hold, so a small scenario file cannot ask for gigabytes (`count: 100000000`)
 * and seeding always ends in well under a second: beyond these a scenario is refused with the limit.
 */
export const WorldLimits = {
  /** Public IPv4 addresses over all ranges (a /16). */
  publicIps: 65_536,
  vms: 100_000,
  /** NICs of one VM. */
  nics: 32,
  networks: 10_000,
  /** Accounts, projects, project members, VPCs, ACL lists, ACL items of a list. */
  entries: 10_000,
  /** Zones, offerings, templates, LB providers, CIDRs of an ACL item. */
  catalogue: 1_000
} as const

const formatted = (n: number) => n.toLocaleString("en-US")

/** An array of at most `max` items; the message names the limit and what it counts. */
const bounded = <S extends Schema.Schema.Any>(item: S, max: number, what: string): Schema.filter<Schema.Array$<S>> =>
  Schema.Array(item).pipe(
    Schema.maxItems<Schema.Array$<S>>(max, {
      message: (issue) =>
        `at most ${formatted(max)} ${what}, not ${formatted(Array.isArray(issue.actual) ? issue.actual.length : 0)}`
    })
  )

/** An API user: requests signed with `apiKey`/`secretKey` act as `name`. */
export class WorldAccount extends Schema.Class<WorldAccount>("WorldAccount")({
  name: Schema.NonEmptyString,
  /** `admin` = root admin (sees every account's non-project resources with listall=true). */
  role: Schema.optionalWith(Schema.Literal("admin", "user"), { default: () => "user" as const }),
  apiKey: Schema.NonEmptyString,
  secretKey: Schema.NonEmptyString,
  /**
   * API commands a `user` account's role is denied besides the admin-only ones: exact names or
   * CloudStack role-rule patterns with `*` (`create*`). They are missing from its listApis and
   * answer 432, like a custom role's deny rules. Ignored for `admin` (a root admin runs everything).
   */
  deniedApis: Schema.optionalWith(
    bounded(Schema.String.pipe(Schema.pattern(/^[a-zA-Z0-9*]+$/)), WorldLimits.catalogue, "denied APIs of an account"),
    {
      default: () => []
    }
  )
}) {}

export class WorldProject extends Schema.Class<WorldProject>("WorldProject")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  /** Account names that are members (the first one is the owner). */
  members: bounded(Schema.String, WorldLimits.entries, "members in a project"),
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
  "Lb",
  "Firewall",
  "SourceNat",
  "StaticNat",
  "PortForwarding",
  "NetworkACL",
  "Dhcp",
  "Dns",
  "UserData",
  "Vpn"
)
export type NetworkService = typeof NetworkService.Type

export class WorldNetworkOffering extends Schema.Class<WorldNetworkOffering>("WorldNetworkOffering")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  displaytext: Schema.optional(Schema.String),
  guestIpType: Schema.Literal("Isolated", "Shared"),
  forVpc: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  conserveMode: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  services: bounded(NetworkService, NetworkService.literals.length, "services in an offering"),
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
  cidrlist: Schema.optionalWith(bounded(Schema.String, WorldLimits.catalogue, "CIDRs in an ACL item"), {
    default: () => ["0.0.0.0/0"]
  }),
  action: Schema.optionalWith(Schema.Literal("Allow", "Deny"), { default: () => "Allow" as const }),
  traffictype: Schema.optionalWith(Schema.Literal("Ingress", "Egress"), { default: () => "Ingress" as const })
}) {}

/** A custom ACL list of a VPC; `default_allow` and `default_deny` always exist and are immutable. */
export class WorldAclList extends Schema.Class<WorldAclList>("WorldAclList")({
  id: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  vpc: Schema.String,
  description: Schema.optional(Schema.String),
  items: Schema.optionalWith(bounded(WorldAclItem, WorldLimits.entries, "items in an ACL list"), { default: () => [] })
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
  nics: Schema.NonEmptyArray(WorldNic).pipe(
    Schema.maxItems(WorldLimits.nics, { message: () => `at most ${WorldLimits.nics} NICs in a VM` })
  )
}) {}

/** Free public addresses of a zone: an explicit list and/or `count` consecutive IPv4 from `start`. */
export class WorldIpRange extends Schema.Class<WorldIpRange>("WorldIpRange")({
  zone: Schema.String,
  addresses: Schema.optionalWith(bounded(Schema.String, WorldLimits.publicIps, "public IPs in a world"), {
    default: () => []
  }),
  start: Schema.optional(Schema.String),
  count: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, WorldLimits.publicIps, {
      message: () =>
        `count: 1 to ${formatted(WorldLimits.publicIps)} (at most ${
          formatted(WorldLimits.publicIps)
        } public IPs in a world)`
    })),
    { exact: true }
  )
}) {}

/** How many addresses the ranges name: explicit ones plus `count` (1 by default) from `start`. */
export const publicIpCount = (ranges: ReadonlyArray<WorldIpRange>): number =>
  ranges.reduce((n, r) => n + r.addresses.length + (r.start === undefined ? 0 : (r.count ?? 1)), 0)

const WorldFields = Schema.Struct({
  /**
   * The management server's version. Before 4.22 updateLoadBalancerRule ignores `cidrlist` (an
   * unknown parameter to it), as those servers do.
   */
  version: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^\d+\.\d+(\.\d+)*$/)), { default: () => "4.22.0.0" }),
  /** Calls to the engine without an api key (the operator's console, tests) act as this account. */
  defaultAccount: Schema.String,
  accounts: Schema.NonEmptyArray(WorldAccount).pipe(
    Schema.maxItems(WorldLimits.entries, {
      message: () => `at most ${formatted(WorldLimits.entries)} accounts in a world`
    })
  ),
  projects: Schema.optionalWith(bounded(WorldProject, WorldLimits.entries, "projects in a world"), {
    default: () => []
  }),
  zones: Schema.NonEmptyArray(WorldZone).pipe(
    Schema.maxItems(WorldLimits.catalogue, {
      message: () => `at most ${formatted(WorldLimits.catalogue)} zones in a world`
    })
  ),
  lbProviders: Schema.optionalWith(bounded(WorldLbProvider, WorldLimits.catalogue, "LB providers in a world"), {
    default: () => [new WorldLbProvider({ name: "VirtualRouter", supportsUdp: false, supportsHealthCheck: false })]
  }),
  networkOfferings: bounded(WorldNetworkOffering, WorldLimits.catalogue, "network offerings in a world"),
  serviceOfferings: bounded(WorldServiceOffering, WorldLimits.catalogue, "service offerings in a world"),
  templates: bounded(WorldTemplate, WorldLimits.catalogue, "templates in a world"),
  vpcs: Schema.optionalWith(bounded(WorldVpc, WorldLimits.entries, "VPCs in a world"), { default: () => [] }),
  aclLists: Schema.optionalWith(bounded(WorldAclList, WorldLimits.entries, "ACL lists in a world"), {
    default: () => []
  }),
  networks: bounded(WorldNetwork, WorldLimits.networks, "networks in a world"),
  vms: Schema.optionalWith(bounded(WorldVm, WorldLimits.vms, "VMs in a world"), { default: () => [] }),
  publicIps: bounded(WorldIpRange, WorldLimits.publicIps, "public IP ranges in a world")
}).pipe(
  Schema.filter((world) => {
    const total = publicIpCount(world.publicIps)
    return total <= WorldLimits.publicIps ||
      `publicIps: at most ${formatted(WorldLimits.publicIps)} public IPs in a world, not ${formatted(total)}`
  })
)

export class World extends Schema.Class<World>("World")(WorldFields) {}

/** Decodes an already-parsed JSON/YAML value into a World, reporting every error at once. */
export const decodeWorld = Schema.decodeUnknown(World, { errors: "all" })
