import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { applyProvidedNodeIp, equal, forNode, fromVm, type NodeAddress } from "../../src/provider/NodeAddresses.js"

const vm = {
  nics: [
    { ipAddress: "10.1.0.5", isDefault: false },
    { ipAddress: "10.0.0.7", ip6Address: "fd00::7", isDefault: true }
  ],
  publicIp: "203.0.113.9"
}

describe("NodeAddresses", () => {
  it("default NIC first, IPv4 and IPv6 InternalIP, static NAT as ExternalIP", () => {
    assert.deepStrictEqual(fromVm(vm), [
      { type: "InternalIP", address: "10.0.0.7" },
      { type: "InternalIP", address: "fd00::7" },
      { type: "InternalIP", address: "10.1.0.5" },
      { type: "ExternalIP", address: "203.0.113.9" }
    ])
  })
  it("no NIC address and no public IP gives no addresses", () => {
    assert.deepStrictEqual(fromVm({ nics: [{ isDefault: true }] }), [])
  })
  it("keeps the kubelet Hostname and leaves the node alone when the cloud has nothing", () => {
    const current: ReadonlyArray<NodeAddress> = [{ type: "Hostname", address: "node-1" }, {
      type: "InternalIP",
      address: "1.1.1.1"
    }]
    assert.deepStrictEqual(forNode(fromVm(vm), current, undefined).pipe(Either.getOrThrow)?.at(-1), {
      type: "Hostname",
      address: "node-1"
    })
    assert.deepStrictEqual(forNode([], current, undefined), Either.right(undefined))
  })
  it("provided-node-ip goes first and drops other addresses of its type", () => {
    const out = Either.getOrThrow(applyProvidedNodeIp("10.1.0.5", fromVm(vm)))
    assert.deepStrictEqual(out, [
      { type: "InternalIP", address: "10.1.0.5" },
      { type: "ExternalIP", address: "203.0.113.9" }
    ])
  })
  it("dual-stack provided-node-ip with a differently spelled IPv6", () => {
    const out = Either.getOrThrow(applyProvidedNodeIp("10.0.0.7,fd00:0::0007", fromVm(vm)))
    assert.deepStrictEqual(out.map((a) => a.address), ["10.0.0.7", "fd00::7", "203.0.113.9"])
  })
  it("a provided IP that is not the VM's is an error, and so is garbage", () => {
    const reason = (p: string) =>
      Either.match(applyProvidedNodeIp(p, fromVm(vm)), { onLeft: (e) => e.reason, onRight: () => "ok" })
    assert.strictEqual(reason("192.168.9.9"), "NotACloudAddress")
    assert.strictEqual(reason("not-an-ip"), "Invalid")
  })
  it("equal compares type, address and order", () => {
    const a = fromVm(vm)
    assert.isTrue(equal(a, [...a]))
    assert.isFalse(equal(a, [...a].reverse()))
  })
})
