/**
 * The simulator's in-memory rows: one record type per CloudStack table it models, plus the
 * read-only snapshot (`SimState`) handed to tests. Data only: no behaviour, no services.
 */

/** `Expunging`: destroyed with expunge; the row counts as removed (no list shows it, ids still resolve). */
export type VmState = "Running" | "Stopped" | "Starting" | "Stopping" | "Destroyed" | "Expunging"
export type IpState = "Free" | "Allocating" | "Allocated" | "Releasing"
export type LbState = "Add" | "Active" | "Deleting"
export type RuleState = "Add" | "Active" | "Revoke"

export interface AccountRow {
  readonly uuid: string
  readonly name: string
  readonly role: "admin" | "user"
  /** Role-rule patterns of the commands the account is denied (World's `deniedApis`). */
  readonly deniedApis: ReadonlyArray<string>
  /** Set for the hidden account that owns a project's resources. */
  readonly projectUuid: string | undefined
}

export interface ProjectRow {
  readonly uuid: string
  readonly name: string
  state: "Active" | "Suspended" | "Disabled"
  /** `PrjAcct-<name>-<n>`: the account owning the project's resources. */
  readonly accountName: string
  readonly members: ReadonlyArray<string>
  readonly created: number
}

export interface ZoneRow {
  readonly uuid: string
  readonly name: string
}

export interface LbProviderRow {
  readonly name: string
  readonly supportsUdp: boolean
  readonly supportsHealthCheck: boolean
}

export interface NetworkOfferingRow {
  readonly uuid: string
  readonly name: string
  readonly displaytext: string
  readonly guestIpType: "Isolated" | "Shared"
  readonly forVpc: boolean
  readonly conserveMode: boolean
  readonly services: ReadonlySet<string>
  readonly lbProvider: LbProviderRow | undefined
}

export interface ServiceOfferingRow {
  readonly uuid: string
  readonly name: string
  readonly cpunumber: number
  readonly cpuspeed: number
  readonly memory: number
  readonly created: number
}

export interface TemplateRow {
  readonly uuid: string
  readonly name: string
  readonly ostype: string
  readonly created: number
}

export interface VpcRow {
  readonly uuid: string
  readonly name: string
  readonly zoneUuid: string
  readonly cidr: string
  readonly owner: string
  readonly created: number
}

export interface AclListRow {
  readonly uuid: string
  readonly name: string
  readonly description: string
  /** undefined for the global `default_allow` / `default_deny` lists. */
  readonly vpcUuid: string | undefined
}

export interface AclItemRow {
  readonly uuid: string
  readonly internalId: number
  readonly aclUuid: string
  number: number
  protocol: string
  startport: number | undefined
  endport: number | undefined
  cidrlist: ReadonlyArray<string>
  action: "Allow" | "Deny"
  traffictype: "Ingress" | "Egress"
  icmptype: number | undefined
  icmpcode: number | undefined
  reason: string | undefined
  state: RuleState
}

export interface NetworkRow {
  readonly uuid: string
  readonly name: string
  readonly zoneUuid: string
  readonly offeringUuid: string
  readonly owner: string
  readonly cidr: string
  readonly gateway: string
  readonly netmask: string
  readonly ip6cidr: string | undefined
  readonly vpcUuid: string | undefined
  aclUuid: string | undefined
  readonly type: "Isolated" | "Shared"
  readonly created: number
}

export interface NicRow {
  readonly uuid: string
  readonly networkUuid: string
  readonly ip: string
  readonly ip6: string | undefined
  readonly isdefault: boolean
  readonly mac: string
}

export interface VmRow {
  readonly uuid: string
  readonly internalId: number
  readonly name: string
  readonly displayname: string
  readonly zoneUuid: string
  readonly owner: string
  state: VmState
  readonly serviceOfferingUuid: string
  readonly templateUuid: string
  readonly nics: ReadonlyArray<NicRow>
  readonly created: number
}

export interface IpRow {
  readonly uuid: string
  readonly internalId: number
  readonly address: string
  readonly zoneUuid: string
  state: IpState
  owner: string | undefined
  associatedNetworkUuid: string | undefined
  vpcUuid: string | undefined
  sourceNat: boolean
  staticNatVmUuid: string | undefined
  allocated: number | undefined
}

export interface LbRuleRow {
  readonly uuid: string
  readonly internalId: number
  name: string
  description: string | undefined
  algorithm: string
  readonly publicPort: number
  readonly privatePort: number
  protocol: string
  cidrlist: ReadonlyArray<string>
  state: LbState
  readonly ipUuid: string
  readonly networkUuid: string
  readonly owner: string
  /** VM uuid -> the VM IPs mapped (the NIC's primary IP unless a vmidipmap named one). */
  readonly members: Map<string, Set<string>>
}

export interface FirewallRuleRow {
  readonly uuid: string
  readonly internalId: number
  readonly ipUuid: string
  readonly networkUuid: string
  readonly protocol: string
  readonly startport: number | undefined
  readonly endport: number | undefined
  readonly cidrlist: ReadonlyArray<string>
  readonly icmptype: number | undefined
  readonly icmpcode: number | undefined
  state: RuleState
  readonly owner: string
  /** The LB rule this firewall rule was opened for (`openfirewall=true`); deleted with it. */
  readonly relatedLbUuid: string | undefined
}

export interface HealthCheckRow {
  readonly uuid: string
  readonly lbUuid: string
  readonly pingpath: string
  readonly description: string | undefined
  readonly responsetime: number
  readonly interval: number
  readonly healthy: number
  readonly unhealthy: number
  state: RuleState
}

export interface StickinessRow {
  readonly uuid: string
  readonly lbUuid: string
  readonly name: string
  readonly methodname: string
  readonly description: string | undefined
  readonly params: Readonly<Record<string, string>>
  state: RuleState
}

export interface TagRow {
  /** Canonical resource type name, e.g. `UserVm`, `LoadBalancer`, `PublicIpAddress`. */
  readonly resourceType: string
  readonly resourceUuid: string
  readonly key: string
  readonly value: string
  readonly owner: string
}

export interface JobRow {
  readonly uuid: string
  readonly command: string
  readonly cmdClass: string
  readonly accountUuid: string
  readonly userUuid: string
  readonly created: number
  /** Epoch ms on the simulator's Clock when the job's execute phase runs. */
  readonly finishAt: number
  /** Jobs on one network (or one VM) execute one at a time, in submission order. */
  readonly queueKey: string
  status: 0 | 1 | 2
  resultCode: number
  result: unknown
  readonly instanceType: string | undefined
  readonly instanceUuid: string | undefined
  completed: number | undefined
}

/** Read-only copy of the simulator's tables, for assertions in tests and scenario tooling. */
export interface SimState {
  readonly now: number
  readonly zones: ReadonlyArray<ZoneRow>
  readonly projects: ReadonlyArray<ProjectRow>
  readonly vpcs: ReadonlyArray<VpcRow>
  readonly networks: ReadonlyArray<NetworkRow>
  readonly aclLists: ReadonlyArray<AclListRow>
  readonly aclItems: ReadonlyArray<AclItemRow>
  readonly vms: ReadonlyArray<VmRow>
  readonly publicIps: ReadonlyArray<IpRow>
  readonly lbRules: ReadonlyArray<LbRuleRow>
  readonly firewallRules: ReadonlyArray<FirewallRuleRow>
  readonly healthChecks: ReadonlyArray<HealthCheckRow>
  readonly stickiness: ReadonlyArray<StickinessRow>
  readonly tags: ReadonlyArray<TagRow>
  readonly jobs: ReadonlyArray<JobRow>
}
