/** VPC network ACL lists and items (reference 5.21): the VPC replacement for firewall rules. */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { AclItemId, AclListId, NetworkId, VpcId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const NetworkAclList = Schema.Struct({
  id: AclListId,
  name: Schema.String,
  description: Schema.optional(Schema.String),
  vpcId: Wire.optional("vpcid", VpcId)
})
export type NetworkAclList = typeof NetworkAclList.Type

export const listNetworkACLLists = Command.list({
  name: "listNetworkACLLists",
  itemKey: "networkacllist",
  item: NetworkAclList,
  params: {
    id: Param.optional(Param.string<AclListId>("id")),
    name: Param.optional(Param.string("name")),
    vpcId: Param.optional(Param.string<VpcId>("vpcid")),
    networkId: Param.optional(Param.string<NetworkId>("networkid"))
  }
})

export const NetworkAclItem = Schema.Struct({
  id: AclItemId,
  protocol: Schema.String,
  startPort: Wire.optional("startport", Wire.Port),
  endPort: Wire.optional("endport", Wire.Port),
  trafficType: Wire.optional("traffictype", Schema.String),
  state: Schema.optional(Schema.String),
  cidrList: Wire.optional("cidrlist", Wire.CidrList),
  aclId: Wire.required("aclid", AclListId),
  number: Schema.optional(Schema.Int),
  action: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String),
  tags: Wire.tags
})
export type NetworkAclItem = typeof NetworkAclItem.Type

export const listNetworkACLs = Command.list({
  name: "listNetworkACLs",
  itemKey: "networkacl",
  item: NetworkAclItem,
  params: {
    id: Param.optional(Param.string<AclItemId>("id")),
    aclId: Param.optional(Param.string<AclListId>("aclid")),
    networkId: Param.optional(Param.string<NetworkId>("networkid")),
    tags: Param.optional(Param.tags)
  }
})

const itemFields = {
  protocol: Param.string("protocol"),
  startPort: Param.optional(Param.int("startport")),
  endPort: Param.optional(Param.int("endport")),
  cidrList: Param.optional(Param.list("cidrlist")),
  trafficType: Param.optional(Param.string<"Ingress" | "Egress">("traffictype")),
  number: Param.optional(Param.int("number")),
  action: Param.optional(Param.string<"Allow" | "Deny">("action")),
  reason: Param.optional(Param.string("reason"))
}

export const createNetworkACL = Command.async({
  name: "createNetworkACL",
  create: true,
  resultKey: "networkacl",
  result: NetworkAclItem,
  params: {
    ...itemFields,
    aclId: Param.optional(Param.string<AclListId>("aclid")),
    networkId: Param.optional(Param.string<NetworkId>("networkid"))
  }
})

export const updateNetworkACLItem = Command.async({
  name: "updateNetworkACLItem",
  resultKey: "networkacl",
  result: NetworkAclItem,
  params: { ...itemFields, id: Param.string<AclItemId>("id"), protocol: Param.optional(Param.string("protocol")) }
})

export const deleteNetworkACL = Command.async({
  name: "deleteNetworkACL",
  resultKey: "success",
  result: Wire.Success,
  params: { id: Param.string<AclItemId>("id") }
})
