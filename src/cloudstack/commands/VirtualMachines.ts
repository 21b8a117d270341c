/**
 * Virtual machine commands (reference 5.1) plus what a demo/simulated cluster needs to create VMs:
 * templates, service offerings, deploy/start/stop/destroy. Response Schemas model only used fields.
 */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { IpAddressId, NetworkId, NicId, ProjectId, ServiceOfferingId, TemplateId, VmId, ZoneId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const SecondaryIp = Schema.Struct({ id: Schema.String, ipAddress: Wire.required("ipaddress", Schema.String) })

export const Nic = Schema.Struct({
  id: NicId,
  networkId: Wire.required("networkid", NetworkId),
  networkName: Wire.optional("networkname", Schema.String),
  ipAddress: Wire.optional("ipaddress", Schema.String),
  ip6Address: Wire.optional("ip6address", Schema.String),
  isDefault: Wire.required("isdefault", Schema.Boolean),
  type: Schema.optional(Schema.String),
  macAddress: Wire.optional("macaddress", Schema.String),
  secondaryIps: Wire.array("secondaryip", SecondaryIp)
})
export type Nic = typeof Nic.Type

export const VirtualMachine = Schema.Struct({
  id: VmId,
  name: Schema.String,
  displayName: Wire.optional("displayname", Schema.String),
  state: Schema.String,
  zoneId: Wire.required("zoneid", ZoneId),
  zoneName: Wire.optional("zonename", Schema.String),
  projectId: Wire.optional("projectid", ProjectId),
  serviceOfferingName: Wire.optional("serviceofferingname", Schema.String),
  /** Root-admin view only. */
  instanceName: Wire.optional("instancename", Schema.String),
  /** The hypervisor host, not the guest name (reference 5.1). */
  hostName: Wire.optional("hostname", Schema.String),
  /** Static-NAT public IP only. */
  publicIp: Wire.optional("publicip", Schema.String),
  publicIpId: Wire.optional("publicipid", IpAddressId),
  nics: Wire.array("nic", Nic),
  tags: Wire.tags
})
export type VirtualMachine = typeof VirtualMachine.Type

const listVirtualMachinesParams = {
  id: Param.optional(Param.string<VmId>("id")),
  ids: Param.optional(Param.list<VmId>("ids")),
  name: Param.optional(Param.string("name")),
  keyword: Param.optional(Param.string("keyword")),
  zoneId: Param.optional(Param.string<ZoneId>("zoneid")),
  networkId: Param.optional(Param.string<NetworkId>("networkid")),
  state: Param.optional(Param.string("state")),
  details: Param.optional(Param.list("details")),
  tags: Param.optional(Param.tags)
}

export const listVirtualMachines = Command.list({
  name: "listVirtualMachines",
  itemKey: "virtualmachine",
  item: VirtualMachine,
  params: listVirtualMachinesParams
})

/** A NIC as the Instances provider keeps it: the network and the addresses. */
export const InstanceNic = Nic.pick("networkId", "ipAddress", "ip6Address", "isDefault")
export type InstanceNic = typeof InstanceNic.Type

/**
 * A VM as the Instances provider keeps it between rounds (every VM of the account, for minutes):
 * only what Node matching, addresses, labels and LB members read. A VirtualMachine is one.
 */
export const InstanceVm = Schema.Struct({
  ...VirtualMachine.pick("id", "name", "state", "zoneName", "serviceOfferingName", "publicIp").fields,
  nics: Wire.array("nic", InstanceNic)
})
export type InstanceVm = typeof InstanceVm.Type

/** listVirtualMachines decoded to InstanceVms: the fields nobody reads are never built. */
export const listInstanceVms = Command.list({
  name: "listVirtualMachines",
  itemKey: "virtualmachine",
  item: InstanceVm,
  params: listVirtualMachinesParams
})

export const Template = Schema.Struct({
  id: TemplateId,
  name: Schema.String,
  zoneId: Wire.optional("zoneid", ZoneId),
  isReady: Wire.optional("isready", Schema.Boolean)
})
export type Template = typeof Template.Type

export const listTemplates = Command.list({
  name: "listTemplates",
  itemKey: "template",
  item: Template,
  params: {
    templateFilter: Param.string<
      "featured" | "self" | "selfexecutable" | "sharedexecutable" | "executable" | "community" | "all"
    >(
      "templatefilter"
    ),
    id: Param.optional(Param.string<TemplateId>("id")),
    name: Param.optional(Param.string("name")),
    zoneId: Param.optional(Param.string<ZoneId>("zoneid"))
  }
})

export const ServiceOffering = Schema.Struct({
  id: ServiceOfferingId,
  name: Schema.String,
  cpuNumber: Wire.optional("cpunumber", Schema.Int),
  memory: Schema.optional(Schema.Int)
})
export type ServiceOffering = typeof ServiceOffering.Type

export const listServiceOfferings = Command.list({
  name: "listServiceOfferings",
  itemKey: "serviceoffering",
  item: ServiceOffering,
  scope: "none",
  params: {
    id: Param.optional(Param.string<ServiceOfferingId>("id")),
    name: Param.optional(Param.string("name")),
    zoneId: Param.optional(Param.string<ZoneId>("zoneid"))
  }
})

export const deployVirtualMachine = Command.async({
  name: "deployVirtualMachine",
  create: true,
  scope: "create",
  resultKey: "virtualmachine",
  result: VirtualMachine,
  params: {
    serviceOfferingId: Param.string<ServiceOfferingId>("serviceofferingid"),
    templateId: Param.string<TemplateId>("templateid"),
    zoneId: Param.string<ZoneId>("zoneid"),
    networkIds: Param.optional(Param.list<NetworkId>("networkids")),
    name: Param.optional(Param.string("name")),
    displayName: Param.optional(Param.string("displayname")),
    startVm: Param.optional(Param.bool("startvm")),
    keypair: Param.optional(Param.string("keypair")),
    userData: Param.optional(Param.string("userdata"))
  }
})

export const startVirtualMachine = Command.async({
  name: "startVirtualMachine",
  resultKey: "virtualmachine",
  result: VirtualMachine,
  params: { id: Param.string<VmId>("id") }
})

export const stopVirtualMachine = Command.async({
  name: "stopVirtualMachine",
  resultKey: "virtualmachine",
  result: VirtualMachine,
  params: { id: Param.string<VmId>("id"), forced: Param.optional(Param.bool("forced")) }
})

/** Destroys (with `expunge: true`, also expunges) a VM; the job result is the VM in its final state. */
export const destroyVirtualMachine = Command.async({
  name: "destroyVirtualMachine",
  resultKey: "virtualmachine",
  result: VirtualMachine,
  params: { id: Param.string<VmId>("id"), expunge: Param.optional(Param.bool("expunge")) }
})
