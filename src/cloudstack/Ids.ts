/**
 * Branded CloudStack entity ids (UUID strings on the wire). Branding keeps a VM id from being passed
 * where a rule id is expected; the brands are applied only by response Schemas at the boundary.
 */
import { Schema } from "effect"

export const VmId = Schema.String.pipe(Schema.brand("VmId"))
export type VmId = typeof VmId.Type
export const NicId = Schema.String.pipe(Schema.brand("NicId"))
export type NicId = typeof NicId.Type
export const ZoneId = Schema.String.pipe(Schema.brand("ZoneId"))
export type ZoneId = typeof ZoneId.Type
export const NetworkId = Schema.String.pipe(Schema.brand("NetworkId"))
export type NetworkId = typeof NetworkId.Type
export const VpcId = Schema.String.pipe(Schema.brand("VpcId"))
export type VpcId = typeof VpcId.Type
export const ProjectId = Schema.String.pipe(Schema.brand("ProjectId"))
export type ProjectId = typeof ProjectId.Type
export const IpAddressId = Schema.String.pipe(Schema.brand("IpAddressId"))
export type IpAddressId = typeof IpAddressId.Type
export const LbRuleId = Schema.String.pipe(Schema.brand("LbRuleId"))
export type LbRuleId = typeof LbRuleId.Type
export const FirewallRuleId = Schema.String.pipe(Schema.brand("FirewallRuleId"))
export type FirewallRuleId = typeof FirewallRuleId.Type
export const AclListId = Schema.String.pipe(Schema.brand("AclListId"))
export type AclListId = typeof AclListId.Type
export const AclItemId = Schema.String.pipe(Schema.brand("AclItemId"))
export type AclItemId = typeof AclItemId.Type
export const HealthCheckPolicyId = Schema.String.pipe(Schema.brand("HealthCheckPolicyId"))
export type HealthCheckPolicyId = typeof HealthCheckPolicyId.Type
export const StickinessPolicyId = Schema.String.pipe(Schema.brand("StickinessPolicyId"))
export type StickinessPolicyId = typeof StickinessPolicyId.Type
export const TemplateId = Schema.String.pipe(Schema.brand("TemplateId"))
export type TemplateId = typeof TemplateId.Type
export const ServiceOfferingId = Schema.String.pipe(Schema.brand("ServiceOfferingId"))
export type ServiceOfferingId = typeof ServiceOfferingId.Type
export const JobId = Schema.String.pipe(Schema.brand("JobId"))
export type JobId = typeof JobId.Type
