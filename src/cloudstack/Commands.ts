/**
 * Every typed CloudStack command definition (`commands/*.ts`), under one name for the package's
 * public entry (`Commands.listVirtualMachines`). Re-exports only; each definition lives in the
 * module of its resource.
 */
export * from "./commands/Addresses.js"
export * from "./commands/AsyncJobs.js"
export * from "./commands/Discovery.js"
export * from "./commands/Firewall.js"
export * from "./commands/LoadBalancers.js"
export * from "./commands/NetworkAcls.js"
export * from "./commands/Networks.js"
export * from "./commands/Projects.js"
export * from "./commands/Tags.js"
export * from "./commands/VirtualMachines.js"
export * from "./commands/Zones.js"
