/**
 * Every CloudStack command this CCM sends, by the feature that sends it and what for: the
 * preflight (`cloudstack-ccm check`) compares it with what the caller's role may run (listApis).
 * Pure data, named from the command definitions themselves; test/provider/RequiredCommands.test.ts
 * keeps it equal to the commands the provider and client code import and send.
 */
import { associateIpAddress, disassociateIpAddress, listPublicIpAddresses } from "../cloudstack/commands/Addresses.js"
import { queryAsyncJobResult } from "../cloudstack/commands/AsyncJobs.js"
import { createFirewallRule, deleteFirewallRule, listFirewallRules } from "../cloudstack/commands/Firewall.js"
import {
  assignToLoadBalancerRule,
  createLBHealthCheckPolicy,
  createLBStickinessPolicy,
  createLoadBalancerRule,
  deleteLBHealthCheckPolicy,
  deleteLBStickinessPolicy,
  deleteLoadBalancerRule,
  listLBHealthCheckPolicies,
  listLBStickinessPolicies,
  listLoadBalancerRuleInstances,
  listLoadBalancerRules,
  removeFromLoadBalancerRule,
  updateLoadBalancerRule
} from "../cloudstack/commands/LoadBalancers.js"
import {
  createNetworkACL,
  deleteNetworkACL,
  listNetworkACLLists,
  listNetworkACLs
} from "../cloudstack/commands/NetworkAcls.js"
import { listNetworks } from "../cloudstack/commands/Networks.js"
import { listProjects } from "../cloudstack/commands/Projects.js"
import { createTags } from "../cloudstack/commands/Tags.js"
import { listVirtualMachines } from "../cloudstack/commands/VirtualMachines.js"

/**
 * `nodes`: the cloud-node and cloud-node-lifecycle controllers; `loadBalancers`: the service
 * controller; `project`: resolving a `project-id` given as a name, at start-up, for any controller.
 */
export type Feature = "nodes" | "loadBalancers" | "project"

export interface RequiredCommand {
  readonly command: string
  readonly features: ReadonlyArray<Feature>
  /** What the CCM uses it for, in a few words (the preflight prints it next to a missing command). */
  readonly use: string
}

const lb = (command: { readonly name: string }, use: string): RequiredCommand => ({
  command: command.name,
  features: ["loadBalancers"],
  use
})

export const REQUIRED_COMMANDS: ReadonlyArray<RequiredCommand> = [
  {
    command: listVirtualMachines.name,
    features: ["nodes", "loadBalancers"],
    use: "find the VM of each Node (and the LB members)"
  },
  { command: listProjects.name, features: ["project"], use: "resolve project-id given as a name" },
  lb(listLoadBalancerRules, "read a Service's rules"),
  lb(createLoadBalancerRule, "create a rule per port"),
  lb(updateLoadBalancerRule, "change a rule's algorithm or source CIDRs"),
  lb(deleteLoadBalancerRule, "delete a rule"),
  lb(assignToLoadBalancerRule, "add Nodes to a rule"),
  lb(removeFromLoadBalancerRule, "remove Nodes from a rule"),
  lb(listLoadBalancerRuleInstances, "read a rule's members"),
  lb(listPublicIpAddresses, "find and read a Service's public IP"),
  lb(associateIpAddress, "acquire a public IP"),
  lb(disassociateIpAddress, "release a public IP"),
  lb(listNetworks, "learn a network's Lb provider, its protocols and how access is opened"),
  lb(listNetworkACLLists, "name a VPC tier's ACL list (servers before 4.19)"),
  lb(listNetworkACLs, "read a VPC tier's ACL items"),
  lb(createNetworkACL, "open LB ports on a VPC tier"),
  lb(deleteNetworkACL, "close them"),
  lb(listFirewallRules, "read an isolated network's firewall rules"),
  lb(createFirewallRule, "open LB ports on an isolated network"),
  lb(deleteFirewallRule, "close them"),
  lb(listLBStickinessPolicies, "read a rule's stickiness policy (when stickiness is asked for or was applied)"),
  lb(createLBStickinessPolicy, "apply the sticky-method annotation"),
  lb(deleteLBStickinessPolicy, "remove it"),
  lb(listLBHealthCheckPolicies, "read a rule's health check (providers that offer them)"),
  lb(createLBHealthCheckPolicy, "set a rule's health check"),
  lb(deleteLBHealthCheckPolicy, "replace or remove it"),
  lb(createTags, "tag what the CCM creates with its cluster and Service (--lb-ownership-tags)"),
  lb(queryAsyncJobResult, "wait for every create, update, delete, assign and remove")
]

/** Whether one of the enabled features needs the command. */
export const isNeeded = (command: RequiredCommand, enabled: ReadonlySet<Feature>): boolean =>
  command.features.some((f) => enabled.has(f))
