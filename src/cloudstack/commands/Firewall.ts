/** Ingress firewall rules on public IPs of isolated networks (reference 5.17-5.19); ports are numbers here. */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { FirewallRuleId, IpAddressId, NetworkId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const FirewallRule = Schema.Struct({
  id: FirewallRuleId,
  protocol: Schema.String,
  startPort: Wire.optional("startport", Wire.Port),
  endPort: Wire.optional("endport", Wire.Port),
  ipAddressId: Wire.required("ipaddressid", IpAddressId),
  ipAddress: Wire.optional("ipaddress", Schema.String),
  networkId: Wire.optional("networkid", NetworkId),
  state: Schema.String,
  cidrList: Wire.optional("cidrlist", Wire.CidrList),
  tags: Wire.tags
})
export type FirewallRule = typeof FirewallRule.Type

export const listFirewallRules = Command.list({
  name: "listFirewallRules",
  itemKey: "firewallrule",
  item: FirewallRule,
  params: {
    id: Param.optional(Param.string<FirewallRuleId>("id")),
    ipAddressId: Param.optional(Param.string<IpAddressId>("ipaddressid")),
    networkId: Param.optional(Param.string<NetworkId>("networkid")),
    tags: Param.optional(Param.tags)
  }
})

export const createFirewallRule = Command.async({
  name: "createFirewallRule",
  create: true,
  resultKey: "firewallrule",
  result: FirewallRule,
  params: {
    ipAddressId: Param.string<IpAddressId>("ipaddressid"),
    protocol: Param.string<"tcp" | "udp" | "icmp">("protocol"),
    startPort: Param.optional(Param.int("startport")),
    endPort: Param.optional(Param.int("endport")),
    cidrList: Param.optional(Param.list("cidrlist"))
  }
})

export const deleteFirewallRule = Command.async({
  name: "deleteFirewallRule",
  resultKey: "success",
  result: Wire.Success,
  params: { id: Param.string<FirewallRuleId>("id") }
})
