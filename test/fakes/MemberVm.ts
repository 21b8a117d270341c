/**
 * A member of an LB rule as CloudStack's listLoadBalancerRuleInstances answers it: the whole VM
 * (NICs, offering, details, tags, non-ASCII in its display name and an escaped quote in a tag),
 * of which the CCM reads the id and name only.
 */
export const memberVm = (n: number) => ({
  id: `5e1ec7ed-0002-4000-8000-${String(n).padStart(12, "0")}`,
  name: `node-${n}`,
  displayname: `nœud ${n} ✓`,
  state: "Running",
  nic: [{
    id: `nic-${n}`,
    ipaddress: `10.0.${n >> 8}.${n & 255}`,
    networkid: "net-1",
    isdefault: true,
    secondaryip: []
  }],
  serviceofferingname: "small",
  memory: 256,
  cpuused: "10%",
  details: { "Message.ReservedCapacityFreed.Flag": "false" },
  tags: [{ key: "owner", value: "team \"a\"" }],
  servicestate: "Active"
})
