/**
 * The simulator's API catalogue and its role checker: every command it answers with the
 * description and `isasync` flag the real server's listApis gives (texts from the @APICommand
 * annotations), which role may call it, and CloudStack's role-rule matching (`create*`). Pure data
 * and functions; the handlers that use it are commands/Discovery.ts and the engine's 432 check.
 */
import { CS_SERVER_API, Fail } from "./Fail.js"

export interface ApiEntry {
  readonly name: string
  readonly description: string
  readonly isasync: boolean
  /** `since` of the annotation, only where it is known (the real answer omits it when unset). */
  readonly since?: string
  /** `authorized = {RoleType.Admin}`: root admins only (a user gets 432). */
  readonly adminOnly: boolean
}

const sync = (name: string, description: string, since?: string): ApiEntry =>
  since === undefined
    ? { name, description, isasync: false, adminOnly: false }
    : { name, description, isasync: false, since, adminOnly: false }
const job = (name: string, description: string): ApiEntry => ({ name, description, isasync: true, adminOnly: false })

/** Every command the simulator implements, in the order listApis returns them. */
export const API_CATALOGUE: ReadonlyArray<ApiEntry> = [
  sync("listApis", "Lists all available APIs on the server, provided by the API Discovery plugin", "4.1.0"),
  sync("listCapabilities", "Lists capabilities"),
  { ...sync("listManagementServersMetrics", "Lists Management Server metrics", "4.17.0"), adminOnly: true },
  sync("listZones", "Lists zones"),
  sync("listProjects", "Lists projects and provides detailed information for listed projects"),
  sync("listNetworks", "Lists all available networks."),
  sync("listVPCs", "Lists VPCs"),
  sync("listNetworkACLLists", "Lists all network ACLs"),
  sync("listNetworkACLs", "Lists all network ACL items"),
  sync("listTemplates", "List all public, private, and privileged Templates."),
  sync("listServiceOfferings", "Lists all available service offerings."),
  sync("listVirtualMachines", "List the Instances owned by the account."),
  sync("listPublicIpAddresses", "Lists all public IP addresses"),
  sync("listLoadBalancerRules", "Lists load balancer rules."),
  sync("listLoadBalancerRuleInstances", "List all Instances that are assigned to a load balancer rule."),
  sync("listFirewallRules", "Lists all firewall rules for an IP address."),
  sync("listTags", "List resource tag(s)"),
  sync("listLBStickinessPolicies", "Lists load balancer stickiness policies."),
  sync("listLBHealthCheckPolicies", "Lists load balancer health check policies."),
  sync("queryAsyncJobResult", "Retrieves the current status of asynchronous job."),
  job("associateIpAddress", "Acquires and associates a public IP to an Account."),
  job("disassociateIpAddress", "Disassociates an IP address from the Account."),
  job("createLoadBalancerRule", "Creates a load balancer rule"),
  job("updateLoadBalancerRule", "Updates load balancer"),
  job("deleteLoadBalancerRule", "Deletes a load balancer rule."),
  job("assignToLoadBalancerRule", "Assigns an Instance or a list of Instances to a load balancer rule."),
  job("removeFromLoadBalancerRule", "Removes an Instance or a list of  Instances from a load balancer rule."),
  job("createLBHealthCheckPolicy", "Creates a load balancer health check policy"),
  job("deleteLBHealthCheckPolicy", "Deletes a load balancer health check policy."),
  job("createLBStickinessPolicy", "Creates a load balancer stickiness policy"),
  job("deleteLBStickinessPolicy", "Deletes a load balancer stickiness policy."),
  job("createFirewallRule", "Creates a firewall rule for a given IP address"),
  job("deleteFirewallRule", "Deletes a firewall rule"),
  job("createNetworkACL", "Creates a ACL rule in the given Network (the Network has to belong to VPC)"),
  job("updateNetworkACLItem", "Updates ACL item with specified ID"),
  job("deleteNetworkACL", "Deletes a Network ACL"),
  job("createTags", "Creates resource tag(s)"),
  job("deleteTags", "Deleting resource tag(s)"),
  sync("enableStaticNat", "Enables static NAT for given IP address"),
  job("disableStaticNat", "Disables static rule for given IP address"),
  job(
    "deployVirtualMachine",
    "Creates and automatically starts  an Instance based on a service offering, disk offering, and Template."
  ),
  job("startVirtualMachine", "Starts  an Instance."),
  job("stopVirtualMachine", "Stops  an Instance."),
  job("destroyVirtualMachine", "Destroys  an Instance. Once destroyed, only the administrator can recover it.")
]

const byName: ReadonlyMap<string, ApiEntry> = new Map(API_CATALOGUE.map((e) => [e.name, e]))

export const entryOf = (command: string): ApiEntry | undefined => byName.get(command)

/**
 * CloudStack's role-rule match (Rule.matches): case-insensitive, `*` stands for any run of word
 * characters, the whole name must match.
 */
export const ruleMatches = (rule: string, command: string): boolean =>
  new RegExp(`^${rule.toLowerCase().replace(/\*/g, "\\w*")}$`).test(command.toLowerCase())

export interface Caller {
  readonly role: "admin" | "user"
  readonly deniedApis: ReadonlyArray<string>
}

/**
 * Whether `caller`'s role may run `command` (DynamicRoleBasedAPIAccessChecker): a root admin runs
 * everything; another role only catalogue commands that are neither admin-only nor denied to it.
 */
export const isAllowed = (caller: Caller, command: string): boolean => {
  if (caller.role === "admin") return true
  const entry = byName.get(command)
  return entry !== undefined && !entry.adminOnly && !caller.deniedApis.some((rule) => ruleMatches(rule, command))
}

/**
 * The 432 of a command the caller's role may not run: ApiServer.commandAvailable turns the role
 * checker's UnavailableCommandException into UNSUPPORTED_ACTION_ERROR (cserrorcode 9999), answered
 * under `errorresponse`.
 */
export const unavailable = (command: string, account: string): Fail =>
  new Fail(
    432,
    CS_SERVER_API,
    `The API [${command}] does not exist or is not available for the account ${account}.`,
    true
  )
