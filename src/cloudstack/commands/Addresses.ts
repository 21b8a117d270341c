/**
 * Public IP commands (reference 5.5-5.7) and static NAT. associateIpAddress is create-style async
 * and owner-scoped by `projectid`; enableStaticNat is the one synchronous mutation (POST).
 */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { IpAddressId, NetworkId, VmId, VpcId, ZoneId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const PublicIpAddress = Schema.Struct({
  id: IpAddressId,
  ipAddress: Wire.required("ipaddress", Schema.String),
  state: Schema.String,
  zoneId: Wire.required("zoneid", ZoneId),
  isSourceNat: Wire.required("issourcenat", Schema.Boolean),
  isStaticNat: Wire.required("isstaticnat", Schema.Boolean),
  /** The guest network the IP serves (absent for an untiered VPC IP). */
  associatedNetworkId: Wire.optional("associatednetworkid", NetworkId),
  vpcId: Wire.optional("vpcid", VpcId),
  /** The public network of the VLAN, not the guest network. */
  networkId: Wire.optional("networkid", Schema.String),
  virtualMachineId: Wire.optional("virtualmachineid", VmId),
  tags: Wire.tags
})
export type PublicIpAddress = typeof PublicIpAddress.Type

export const listPublicIpAddresses = Command.list({
  name: "listPublicIpAddresses",
  itemKey: "publicipaddress",
  item: PublicIpAddress,
  params: {
    id: Param.optional(Param.string<IpAddressId>("id")),
    ipAddress: Param.optional(Param.string("ipaddress")),
    associatedNetworkId: Param.optional(Param.string<NetworkId>("associatednetworkid")),
    vpcId: Param.optional(Param.string<VpcId>("vpcid")),
    zoneId: Param.optional(Param.string<ZoneId>("zoneid")),
    allocatedOnly: Param.optional(Param.bool("allocatedonly")),
    isSourceNat: Param.optional(Param.bool("issourcenat")),
    isStaticNat: Param.optional(Param.bool("isstaticnat")),
    /** `Free` with `allocatedOnly: false`: the zone's addresses anyone may associate. */
    state: Param.optional(Param.string<"Free" | "Allocated" | "Allocating" | "Releasing">("state")),
    tags: Param.optional(Param.tags)
  }
})

export const associateIpAddress = Command.async({
  name: "associateIpAddress",
  create: true,
  scope: "create",
  resultKey: "ipaddress",
  result: PublicIpAddress,
  params: {
    networkId: Param.optional(Param.string<NetworkId>("networkid")),
    vpcId: Param.optional(Param.string<VpcId>("vpcid")),
    zoneId: Param.optional(Param.string<ZoneId>("zoneid")),
    ipAddress: Param.optional(Param.string("ipaddress"))
  }
})

export const disassociateIpAddress = Command.async({
  name: "disassociateIpAddress",
  resultKey: "success",
  result: Wire.Success,
  params: { id: Param.string<IpAddressId>("id") }
})

export const enableStaticNat = Command.sync({
  name: "enableStaticNat",
  method: "POST",
  response: Schema.Struct({ success: Wire.Success }),
  params: {
    ipAddressId: Param.string<IpAddressId>("ipaddressid"),
    virtualMachineId: Param.string<VmId>("virtualmachineid"),
    networkId: Param.optional(Param.string<NetworkId>("networkid")),
    vmGuestIp: Param.optional(Param.string("vmguestip"))
  }
})

export const disableStaticNat = Command.async({
  name: "disableStaticNat",
  resultKey: "success",
  result: Wire.Success,
  params: { ipAddressId: Param.string<IpAddressId>("ipaddressid") }
})
