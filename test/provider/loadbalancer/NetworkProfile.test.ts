import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import type { Network } from "../../../src/cloudstack/commands/Networks.js"
import { AclListId, NetworkId, VpcId, ZoneId } from "../../../src/cloudstack/Ids.js"
import { DEFAULT_ACL_LISTS, fromNetwork } from "../../../src/provider/loadbalancer/NetworkProfile.js"

const service = (name: string, provider: string, capabilities: Record<string, string> = {}) => ({
  name,
  capabilities: Object.entries(capabilities).map(([n, value]) => ({ name: n, value })),
  providers: [{ name: provider }]
})

const network = (overrides: Partial<Network> = {}): Network => ({
  id: NetworkId.make("net-1"),
  name: "guest",
  type: "Isolated",
  state: "Implemented",
  zoneId: ZoneId.make("zone-1"),
  services: [
    service("Lb", "VirtualRouter", { SupportedProtocols: "tcp, udp, tcp-proxy" }),
    service("Firewall", "VirtualRouter")
  ],
  tags: [],
  ...overrides
})

const ACL = AclListId.make("acl-1")
const tierOf = (services: Network["services"]) => network({ vpcId: VpcId.make("vpc-1"), aclId: ACL, services })

describe("NetworkProfile.fromNetwork", () => {
  it("an isolated network: firewall rules, the Lb provider and its protocols", () => {
    const p = fromNetwork(network(), Option.none())
    assert.deepStrictEqual(p.access, { _tag: "Firewall" })
    assert.isTrue(p.hasLb)
    assert.strictEqual(p.lbProvider, "VirtualRouter")
    assert.deepStrictEqual([...p.protocols].sort(), ["tcp", "tcp-proxy", "udp"])
    assert.deepStrictEqual([p.id, p.name, p.zoneId], ["net-1", "guest", "zone-1"])
    assert.deepStrictEqual([p.vpcId, p.aclId], [Option.none(), Option.none()])
  })
  it("protocols are lower-cased and trimmed; without the capability: tcp and udp", () => {
    const upper = fromNetwork(
      network({ services: [service("Lb", "Netscaler", { SupportedProtocols: " TCP ,UDP,, " })] }),
      Option.none()
    )
    assert.deepStrictEqual([...upper.protocols].sort(), ["tcp", "udp"])
    const none = fromNetwork(network({ services: [service("Lb", "Netscaler")] }), Option.none())
    assert.deepStrictEqual([...none.protocols].sort(), ["tcp", "udp"])
  })
  it("a VPC tier: ACL items on its list, by name; an unreadable name counts as default_deny", () => {
    const services = [service("Lb", "VpcVirtualRouter"), service("NetworkACL", "VpcVirtualRouter")]
    const custom = fromNetwork(tierOf(services), Option.some("web-acl"))
    assert.deepStrictEqual(custom.access, { _tag: "Acl", aclId: ACL, listName: "web-acl" })
    assert.deepStrictEqual([custom.vpcId, custom.aclId], [Option.some("vpc-1"), Option.some("acl-1")])
    const unknown = fromNetwork(tierOf(services), Option.none())
    assert.deepStrictEqual(unknown.access, { _tag: "Acl", aclId: ACL, listName: "default_deny" })
    assert.isTrue(
      DEFAULT_ACL_LISTS.has("default_deny") && DEFAULT_ACL_LISTS.has("default_allow") && DEFAULT_ACL_LISTS.size === 2
    )
  })
  it("a NetworkACL service without a list, or neither service: no access rules", () => {
    const noList = fromNetwork(
      network({
        vpcId: VpcId.make("vpc-1"),
        services: [service("Lb", "VpcVirtualRouter"), service("NetworkACL", "VpcVirtualRouter")]
      }),
      Option.none()
    )
    assert.deepStrictEqual(noList.access, { _tag: "None" })
    const bare = fromNetwork(network({ services: [service("Lb", "Netscaler")] }), Option.none())
    assert.deepStrictEqual(bare.access, { _tag: "None" })
  })
  it("the firewall wins when a network has both services", () => {
    const both = fromNetwork(
      tierOf([service("Lb", "x"), service("Firewall", "x"), service("NetworkACL", "x")]),
      Option.some("web-acl")
    )
    assert.deepStrictEqual(both.access, { _tag: "Firewall" })
  })
  it("a shared or L2 network has no Lb service", () => {
    const shared = fromNetwork(network({ type: "Shared", services: [service("Dhcp", "VirtualRouter")] }), Option.none())
    assert.isFalse(shared.hasLb)
    assert.strictEqual(shared.lbProvider, "")
    const noProvider = fromNetwork(
      network({ services: [{ name: "Lb", capabilities: [], providers: [] }] }),
      Option.none()
    )
    assert.isTrue(noProvider.hasLb)
    assert.strictEqual(noProvider.lbProvider, "")
  })
})
