import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createFirewallRule } from "../../src/cloudstack/commands/Firewall.js"
import {
  assignToLoadBalancerRule,
  createLBStickinessPolicy,
  createLoadBalancerRule,
  listLoadBalancerRules,
  listLoadBalancerRuleVmIps
} from "../../src/cloudstack/commands/LoadBalancers.js"
import { createTags } from "../../src/cloudstack/commands/Tags.js"
import { IpAddressId, LbRuleId, VmId } from "../../src/cloudstack/Ids.js"

describe("command parameter encoding", () => {
  it("maps use name[i].field: vmidipmap vmid/vmip, lists comma-joined", () => {
    const wire = assignToLoadBalancerRule.encode({
      id: LbRuleId.make("r1"),
      virtualMachineIds: [VmId.make("v1"), VmId.make("v2")],
      vmIdIpMap: [{ vmId: "v3", vmIp: "10.0.0.3" }, { vmId: "v4", vmIp: "10.0.0.4" }]
    })
    assert.deepStrictEqual(wire, {
      id: "r1",
      virtualmachineids: "v1,v2",
      "vmidipmap[0].vmid": "v3",
      "vmidipmap[0].vmip": "10.0.0.3",
      "vmidipmap[1].vmid": "v4",
      "vmidipmap[1].vmip": "10.0.0.4"
    })
  })

  it("tags and stickiness params", () => {
    assert.deepStrictEqual(
      createTags.encode({
        resourceType: "LoadBalancer",
        resourceIds: ["a", "b"],
        tags: [{ key: "cluster", value: "prod" }]
      }),
      { resourcetype: "LoadBalancer", resourceids: "a,b", "tags[0].key": "cluster", "tags[0].value": "prod" }
    )
    assert.deepStrictEqual(
      createLBStickinessPolicy.encode({
        lbRuleId: LbRuleId.make("r"),
        name: "s",
        methodName: "LbCookie",
        param: [{ name: "cookie-name", value: "c" }]
      }),
      { lbruleid: "r", name: "s", methodname: "LbCookie", "param[0].name": "cookie-name", "param[0].value": "c" }
    )
  })

  it("numbers and booleans as text; absent optionals left out", () => {
    assert.deepStrictEqual(
      createLoadBalancerRule.encode({
        name: "n",
        algorithm: "roundrobin",
        privatePort: 30080,
        publicPort: 80,
        openFirewall: false
      }),
      { name: "n", algorithm: "roundrobin", privateport: "30080", publicport: "80", openfirewall: "false" }
    )
    assert.deepStrictEqual(listLoadBalancerRules.encode({}), {})
    assert.deepStrictEqual(
      createFirewallRule.encode({ ipAddressId: IpAddressId.make("ip"), protocol: "tcp", cidrList: [] }),
      {
        ipaddressid: "ip",
        protocol: "tcp",
        cidrlist: ""
      }
    )
  })

  it("fixed parameters of a command variant are always sent", () => {
    assert.deepStrictEqual(listLoadBalancerRuleVmIps.encode({ id: LbRuleId.make("r") }), { id: "r", lbvmips: "true" })
  })
})

describe("response decoding", () => {
  it.effect("LB ports arrive as strings and decode to numbers; empty cidrlist is []", () =>
    Effect.gen(function*() {
      const page = yield* listLoadBalancerRules.decodePage({
        count: 1,
        loadbalancerrule: [{
          id: "r",
          name: "n",
          algorithm: "roundrobin",
          publicip: "1.2.3.4",
          publicipid: "ip",
          publicport: "80",
          privateport: "30080",
          state: "Add",
          cidrlist: "",
          extra: { ignored: true }
        }]
      })
      const rule = page.items[0]
      assert.strictEqual(rule?.publicPort, 80)
      assert.strictEqual(rule?.privatePort, 30080)
      assert.deepStrictEqual(rule?.cidrList, [])
      assert.deepStrictEqual(rule?.tags, [])
    }))

  it.effect("a port that is not a number fails", () =>
    Effect.gen(function*() {
      const r = yield* Effect.either(listLoadBalancerRules.decodePage({
        count: 1,
        loadbalancerrule: [{
          id: "r",
          name: "n",
          algorithm: "x",
          publicip: "1",
          publicipid: "i",
          publicport: "http",
          privateport: "1",
          state: "Add"
        }]
      }))
      assert.isTrue(r._tag === "Left")
    }))
})
