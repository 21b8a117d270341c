/**
 * What the LB code needs to know of a guest network: its zone and VPC, how public access is opened
 * (firewall rules on isolated networks, network ACL items on VPC tiers) and the Lb provider's
 * advertised capabilities. Pure: derived from a `listNetworks` answer (plus the ACL list's name).
 */
import { Option, Schema } from "effect"
import type { Network } from "../../cloudstack/commands/Networks.js"
import type { AclListId, NetworkId, VpcId, ZoneId } from "../../cloudstack/Ids.js"

export type Access =
  | { readonly _tag: "Firewall" }
  /** `listName` decides whether items may be added (`default_allow` / `default_deny` may not). */
  | { readonly _tag: "Acl"; readonly aclId: AclListId; readonly listName: string }
  | { readonly _tag: "None" }

export interface NetworkProfile {
  readonly id: NetworkId
  readonly name: string
  readonly zoneId: ZoneId
  readonly vpcId: Option.Option<VpcId>
  readonly aclId: Option.Option<AclListId>
  /** Whether the network offers the Lb service at all. */
  readonly hasLb: boolean
  readonly lbProvider: string
  /** The Lb capability `SupportedProtocols` (lower case; may claim more than the provider accepts). */
  readonly protocols: ReadonlySet<string>
  readonly access: Access
  /** `SupportedStickinessMethods`: method (lower case) → its parameters (lower case) and whether each is a flag. */
  readonly stickiness: ReadonlyMap<string, ReadonlyMap<string, { readonly isFlag: boolean }>>
  /** The Lb provider offers `HealthCheckPolicy` (the virtual router does not). */
  readonly healthChecks: boolean
}

/** The default ACL lists CloudStack refuses to change ("Default ACL cannot be modified"). */
export const DEFAULT_ACL_LISTS: ReadonlySet<string> = new Set(["default_allow", "default_deny"])

const splitList = (value: string): ReadonlySet<string> =>
  new Set(value.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0))

const StickinessMethods = Schema.parseJson(Schema.Array(Schema.Struct({
  methodname: Schema.String,
  paramlist: Schema.optionalWith(
    Schema.Array(
      Schema.Struct({ paramname: Schema.String, isflag: Schema.optionalWith(Schema.Boolean, { default: () => false }) })
    ),
    { default: () => [] }
  )
})))

/** The methods of a `SupportedStickinessMethods` value (JSON); nothing when it does not decode. */
export const stickinessMethods = (value: string | undefined): NetworkProfile["stickiness"] =>
  Option.match(Option.flatMap(Option.fromNullable(value), Schema.decodeUnknownOption(StickinessMethods)), {
    onNone: () => new Map(),
    onSome: (methods) =>
      new Map(
        methods.map((
          m
        ) => [
          m.methodname.toLowerCase(),
          new Map(m.paramlist.map((p) => [p.paramname.toLowerCase(), { isFlag: p.isflag }]))
        ])
      )
  })

/**
 * The profile of `network`; `aclListName` is the name of its ACL list (VPC tiers only: None when
 * the list could not be read, which is treated like a default list: no items are written).
 */
export const fromNetwork = (network: Network, aclListName: Option.Option<string>): NetworkProfile => {
  const lb = network.services.find((s) => s.name === "Lb")
  const has = (name: string) => network.services.some((s) => s.name === name)
  const protocols = lb?.capabilities.find((c) => c.name === "SupportedProtocols")?.value ?? "tcp, udp"
  const access: Access = has("Firewall")
    ? { _tag: "Firewall" }
    : has("NetworkACL") && network.aclId !== undefined
    ? { _tag: "Acl", aclId: network.aclId, listName: Option.getOrElse(aclListName, () => "default_deny") }
    : { _tag: "None" }
  return {
    id: network.id,
    name: network.name,
    zoneId: network.zoneId,
    vpcId: Option.fromNullable(network.vpcId),
    aclId: Option.fromNullable(network.aclId),
    hasLb: lb !== undefined,
    lbProvider: lb?.providers[0]?.name ?? "",
    protocols: splitList(protocols),
    access,
    stickiness: stickinessMethods(lb?.capabilities.find((c) => c.name === "SupportedStickinessMethods")?.value),
    healthChecks: lb?.capabilities.some((c) => c.name === "HealthCheckPolicy" && c.value.toLowerCase() === "true") ??
      false
  }
}
