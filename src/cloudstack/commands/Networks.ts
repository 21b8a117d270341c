/** listNetworks and listVPCs (reference 5.3): guest networks, VPC tiers and their LB capabilities. */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { AclListId, NetworkId, VpcId, ZoneId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const Capability = Schema.Struct({ name: Schema.String, value: Schema.String })

export const NetworkService = Schema.Struct({
  name: Schema.String,
  capabilities: Wire.array("capability", Capability),
  providers: Wire.array("provider", Schema.Struct({ name: Schema.String }))
})
export type NetworkService = typeof NetworkService.Type

export const Network = Schema.Struct({
  id: NetworkId,
  name: Schema.String,
  type: Schema.String,
  state: Schema.String,
  cidr: Schema.optional(Schema.String),
  zoneId: Wire.required("zoneid", ZoneId),
  vpcId: Wire.optional("vpcid", VpcId),
  aclId: Wire.optional("aclid", AclListId),
  /** The tier's ACL list name (`default_allow`, `default_deny` or a custom list). */
  aclName: Wire.optional("aclname", Schema.String),
  conserveMode: Wire.optional("networkofferingconservemode", Schema.Boolean),
  services: Wire.array("service", NetworkService),
  tags: Wire.tags
})
export type Network = typeof Network.Type

export const listNetworks = Command.list({
  name: "listNetworks",
  itemKey: "network",
  item: Network,
  params: {
    id: Param.optional(Param.string<NetworkId>("id")),
    name: Param.optional(Param.string("name")),
    zoneId: Param.optional(Param.string<ZoneId>("zoneid")),
    vpcId: Param.optional(Param.string<VpcId>("vpcid")),
    type: Param.optional(Param.string<"Isolated" | "Shared" | "L2">("type"))
  }
})

export const Vpc = Schema.Struct({
  id: VpcId,
  name: Schema.String,
  state: Schema.String,
  cidr: Schema.optional(Schema.String),
  zoneId: Wire.required("zoneid", ZoneId),
  tags: Wire.tags
})
export type Vpc = typeof Vpc.Type

export const listVPCs = Command.list({
  name: "listVPCs",
  itemKey: "vpc",
  item: Vpc,
  params: {
    id: Param.optional(Param.string<VpcId>("id")),
    name: Param.optional(Param.string("name")),
    zoneId: Param.optional(Param.string<ZoneId>("zoneid"))
  }
})
