/**
 * The behaviour rules of reference section 6 (and the LB provider limits of 5.9/5.15), one test
 * each, driven through the API like a client would.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import {
  World,
  WorldNetwork,
  WorldNetworkOffering,
  WorldNic,
  WorldVm
} from "../../../src/simulation/cloudstack/World.js"
import { arr, byName, call, items, job, simLayer, str, wait } from "./SimHarness.js"

const ALICE = "demo-alice-api-key"

const netId = (name: string) => byName("listNetworks", "network", name)
const vmId = (name: string) => byName("listVirtualMachines", "virtualmachine", name)
const vpcId = () => byName("listVPCs", "vpc", "vpc1")

const acquire = (params: Record<string, string>, apiKey?: string) =>
  Effect.map(job("associateIpAddress", params, apiKey), (j) => str(j.submitted.inner.id))

const lbRule = (ip: string, publicport: string, extra: Record<string, string> = {}) =>
  job("createLoadBalancerRule", {
    name: "lb",
    algorithm: "roundrobin",
    publicport,
    privateport: "30080",
    publicipid: ip,
    ...extra
  })

const ipRow = (id: string) =>
  Effect.map(call("listPublicIpAddresses", { id, allocatedonly: "false" }), (a) => items(a, "publicipaddress")[0] ?? {})

const lbRow = (id: string) =>
  Effect.map(call("listLoadBalancerRules", { id }), (a) => items(a, "loadbalancerrule")[0] ?? {})

const errorOf = (a: { readonly status: number; readonly inner: Record<string, unknown> }) => ({
  status: a.status,
  errorcode: a.inner.errorcode,
  cserrorcode: a.inner.cserrorcode,
  errortext: a.inner.errortext
})

const jobError = (j: { readonly result: { readonly inner: Record<string, unknown> } }) => ({
  jobstatus: j.result.inner.jobstatus,
  jobresultcode: j.result.inner.jobresultcode,
  jobresult: j.result.inner.jobresult
})

const run = <A, E>(self: Effect.Effect<A, E, CloudStackSimulator>) => Effect.provide(self, simLayer())

describe("6.1 IPs, networks, VPC", () => {
  it.effect("an IP acquired for an isolated network is associated at once and rules run on that network", () =>
    run(Effect.gen(function*() {
      const net = yield* netId("isolated1")
      const other = yield* netId("isolated-ns")
      const ip = yield* acquire({ networkid: net })
      assert.strictEqual((yield* ipRow(ip)).associatednetworkid, net)
      const lb = yield* lbRule(ip, "80", { networkid: other })
      assert.strictEqual(obj(lb.result.inner.jobresult).loadbalancer !== undefined, true)
      assert.strictEqual((yield* lbRow(str(lb.submitted.inner.id))).networkid, net)
    })))

  it.effect("a VPC IP has no tier until its first LB rule, only tiers of its own VPC qualify, and it is released from the tier with its last rule", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ vpcid: yield* vpcId() })
      const before = yield* ipRow(ip)
      assert.strictEqual(before.associatednetworkid, undefined)
      assert.strictEqual(before.vpcid, yield* vpcId())
      const noNet = yield* lbRule(ip, "80")
      assert.deepStrictEqual(errorOf(noNet.submitted), {
        status: 431,
        errorcode: 431,
        cserrorcode: 4350,
        errortext: `IP address ID=${ip} is not associated with any network`
      })
      const foreign = yield* lbRule(ip, "80", { networkid: yield* netId("isolated1") })
      assert.strictEqual(foreign.submitted.status, 431)
      assert.match(
        str(foreign.submitted.inner.errortext),
        /^Ip address 203\.0\.113\.\d+ is not assigned to the network /
      )
      const web = yield* netId("vpc1-web")
      const lb = yield* lbRule(ip, "80", { networkid: web })
      assert.strictEqual(lb.result.inner.jobstatus, 1)
      assert.strictEqual((yield* ipRow(ip)).associatednetworkid, web)
      yield* job("deleteLoadBalancerRule", { id: str(lb.submitted.inner.id) })
      assert.strictEqual((yield* ipRow(ip)).associatednetworkid, undefined)
    })))

  it.effect("openfirewall=true is refused for a VPC IP", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ vpcid: yield* vpcId() })
      const r = yield* lbRule(ip, "80", { networkid: yield* netId("vpc1-web"), openfirewall: "true" })
      assert.deepStrictEqual(
        errorOf(r.submitted).errortext,
        "Can't have openFirewall=true when IP address belongs to VPC"
      )
    })))

  it.effect("the source-NAT IP carries LB rules in a conserve-mode isolated network but never in a VPC, and cannot be released", () =>
    run(Effect.gen(function*() {
      const list = yield* call("listPublicIpAddresses", { issourcenat: "true", listall: "true" })
      const isolatedSnat = items(list, "publicipaddress").find((i) => i.associatednetworkname === "isolated1")
      const vpcSnat = items(list, "publicipaddress").find((i) => i.vpcid !== undefined)
      const lb = yield* lbRule(str(isolatedSnat?.id), "80")
      assert.strictEqual(lb.result.inner.jobstatus, 1)
      const vpcLb = yield* lbRule(str(vpcSnat?.id), "80", { networkid: yield* netId("vpc1-web") })
      assert.strictEqual(vpcLb.submitted.status, 431)
      for (const snat of [isolatedSnat, vpcSnat]) {
        const release = yield* job("disassociateIpAddress", { id: str(snat?.id) })
        assert.deepStrictEqual(jobError(release), {
          jobstatus: 2,
          jobresultcode: 530,
          jobresult: {
            errorcode: 530,
            errortext: "ip address is used for source nat purposes and can not be disassociated."
          }
        })
        assert.strictEqual((yield* ipRow(str(snat?.id))).state, "Allocated")
      }
    })))

  it.effect("in a non-conserve-mode offering the source-NAT IP serves source NAT only", () =>
    Effect.gen(function*() {
      const list = yield* call("listPublicIpAddresses", {
        issourcenat: "true",
        associatednetworkid: yield* netId("strict")
      })
      const snat = str(items(list, "publicipaddress")[0]?.id)
      const r = yield* lbRule(snat, "80")
      assert.strictEqual(r.submitted.status, 431)
      assert.match(
        str(r.submitted.inner.errortext),
        /^The IP 203\.0\.113\.\d+ is already used as SourceNat rather than Lb$/
      )
    }).pipe(Effect.provide(simLayer(strictWorld))))

  it.effect("a static-NAT IP cannot carry LB rules, and static NAT cannot be enabled on an IP with LB rules", () =>
    run(Effect.gen(function*() {
      const net = yield* netId("isolated1")
      const nat = yield* acquire({ networkid: net })
      const enabled = yield* call("enableStaticNat", { ipaddressid: nat, virtualmachineid: yield* vmId("node-1") })
      assert.deepStrictEqual(enabled.inner, { success: true })
      const r = yield* lbRule(nat, "80")
      assert.deepStrictEqual(errorOf(r.submitted), {
        status: 537,
        errorcode: 537,
        cserrorcode: 4360,
        errortext: `Can't do load balance on ip address: ${str((yield* ipRow(nat)).ipaddress)}`
      })
      const withLb = yield* acquire({ networkid: net })
      yield* lbRule(withLb, "80")
      const clash = yield* call("enableStaticNat", { ipaddressid: withLb, virtualmachineid: yield* vmId("node-2") })
      assert.deepStrictEqual(errorOf(clash), {
        status: 537,
        errorcode: 537,
        cserrorcode: 4360,
        errortext: `There is already firewall rule specified for the ip address id=${withLb}`
      })
    })))

  it.effect("releasing an IP deletes its LB rules (with members), firewall rules and tags; the row stays Free", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const lb = yield* lbRule(ip, "80")
      const lbId = str(lb.submitted.inner.id)
      yield* job("assignToLoadBalancerRule", { id: lbId, virtualmachineids: yield* vmId("node-1") })
      const fw = yield* job("createFirewallRule", { ipaddressid: ip, protocol: "tcp", startport: "22" })
      assert.strictEqual(fw.result.inner.jobstatus, 1)
      yield* job("createTags", {
        resourcetype: "PublicIpAddress",
        resourceids: ip,
        "tags[0].key": "svc",
        "tags[0].value": "web"
      })
      const released = yield* job("disassociateIpAddress", { id: ip })
      assert.strictEqual(released.result.inner.jobstatus, 1)
      assert.strictEqual((yield* call("listLoadBalancerRules", { id: lbId })).status, 431)
      assert.strictEqual((yield* call("listFirewallRules", { id: str(fw.submitted.inner.id) })).status, 431)
      assert.deepStrictEqual((yield* call("listTags", { resourceid: ip, listall: "true" })).inner, {})
      assert.deepStrictEqual((yield* call("listPublicIpAddresses", { id: ip })).inner, {})
      assert.strictEqual((yield* ipRow(ip)).state, "Free")
      const sim = yield* CloudStackSimulator
      assert.deepStrictEqual((yield* sim.state).lbRules, [])
    })))
})

describe("5.7 a release that fails half way", () => {
  // IpAddressManagerImpl.disassociatePublicIpAddress: cleanupIpResources, markIpAsUnavailable
  // (Releasing), then applyIpAssociations on the IP's network; the job fails when that fails, and
  // releaseIpAddressInternal checks nothing but the allocation time, so a second release is accepted.
  it.effect("the IP stays Releasing without its rules (still the account's); no rule goes on it; a second release frees it", () =>
    run(Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const lb = str((yield* lbRule(ip, "80")).submitted.inner.id)
      yield* sim.failNextJobs("disassociateIpAddress", 1)
      const failed = yield* job("disassociateIpAddress", { id: ip })
      assert.strictEqual(failed.result.inner.jobstatus, 2)
      assert.strictEqual((yield* ipRow(ip)).state, "Releasing")
      assert.strictEqual((yield* call("listLoadBalancerRules", { id: lb })).status, 431, "its rules went")
      const listed = items(yield* call("listPublicIpAddresses", { id: ip, listall: "true" }), "publicipaddress")
      assert.deepStrictEqual(listed.map((i) => i.state), ["Releasing"], "still listed as allocated")
      assert.strictEqual((yield* lbRule(ip, "443")).submitted.status, 431, "no new rule on it")
      assert.strictEqual((yield* job("disassociateIpAddress", { id: ip })).result.inner.jobstatus, 1)
      assert.strictEqual((yield* ipRow(ip)).state, "Free")
    })))

  it.effect("a release waiting in its network's queue leaves the IP Allocated until its job runs", () =>
    run(Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      yield* sim.setFaults({ jobDuration: "5 seconds" })
      yield* call("disassociateIpAddress", { id: ip })
      assert.strictEqual((yield* ipRow(ip)).state, "Allocated")
      yield* wait(5_000)
      yield* call("listZones", {})
      assert.strictEqual((yield* ipRow(ip)).state, "Free")
    })))
})

describe("6.1 an association still running", () => {
  // IPAddressVO.readyToUse is `state == Allocated`: createLoadBalancerRule refuses an Allocating IP.
  it.effect("the IP takes no rule until its job ran", () =>
    run(Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* sim.setFaults({ jobDuration: "5 seconds" })
      const ip = str((yield* call("associateIpAddress", { networkid: yield* netId("isolated1") })).inner.id)
      assert.strictEqual((yield* ipRow(ip)).state, "Allocating")
      const rule = {
        name: "lb",
        algorithm: "roundrobin",
        publicport: "80",
        privateport: "30080",
        publicipid: ip
      }
      assert.strictEqual((yield* call("createLoadBalancerRule", rule)).status, 431)
      assert.strictEqual(
        (yield* call("createFirewallRule", { ipaddressid: ip, protocol: "tcp", startport: "80" })).status,
        431
      )
      yield* wait(5_000)
      assert.strictEqual((yield* call("createLoadBalancerRule", rule)).status, 200)
    })))
})

describe("6.2 rule conflicts", () => {
  it.effect("LB rules on one IP and port conflict whatever their protocol (TCP vs UDP), with the real 537 text", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated-ns") })
      assert.strictEqual((yield* lbRule(ip, "53")).result.inner.jobstatus, 1)
      const udp = yield* lbRule(ip, "53", { protocol: "udp" })
      assert.strictEqual(udp.submitted.status, 537)
      assert.strictEqual(udp.submitted.inner.cserrorcode, 4360)
      assert.match(
        str(udp.submitted.inner.errortext),
        /^The range specified, 53-53, conflicts with rule Rule\[\d+-LoadBalancing-Add\] which has 53-53$/
      )
      assert.strictEqual((yield* lbRule(ip, "54", { protocol: "udp" })).result.inner.jobstatus, 1)
    })))

  it.effect("firewall rules never conflict with LB rules (openfirewall=true opens a firewall rule that does)", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      yield* lbRule(ip, "80", { openfirewall: "false" })
      const fw = yield* job("createFirewallRule", { ipaddressid: ip, protocol: "tcp", startport: "80", endport: "80" })
      assert.strictEqual(fw.result.inner.jobstatus, 1)
      yield* lbRule(ip, "443")
      const opened = items(yield* call("listFirewallRules", { ipaddressid: ip }), "firewallrule")
      assert.deepStrictEqual(opened.map((r) => [r.startport, r.cidrlist]), [[443, "0.0.0.0/0"], [80, "0.0.0.0/0"]])
      assert.strictEqual(
        (yield* job("createFirewallRule", { ipaddressid: ip, protocol: "tcp", startport: "443" })).submitted.status,
        537
      )
    })))

  it.effect("firewall rules conflict only with the same protocol, a shared CIDR and overlapping ports", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const fw = (params: Record<string, string>) => job("createFirewallRule", { ipaddressid: ip, ...params })
      yield* fw({ protocol: "tcp", startport: "100", endport: "200", cidrlist: "10.0.0.0/8,192.168.0.0/16" })
      const overlap = yield* fw({ protocol: "tcp", startport: "150", endport: "250", cidrlist: "192.168.0.0/16" })
      assert.strictEqual(overlap.submitted.status, 537)
      assert.match(
        str(overlap.submitted.inner.errortext),
        /^The range specified, 150-250, conflicts with rule Rule\[\d+-Firewall-Active\] which has 100-200$/
      )
      assert.strictEqual(
        (yield* fw({ protocol: "tcp", startport: "150", endport: "250", cidrlist: "172.16.0.0/12" })).submitted.status,
        200
      )
      assert.strictEqual(
        (yield* fw({ protocol: "udp", startport: "150", endport: "250", cidrlist: "192.168.0.0/16" })).submitted.status,
        200
      )
      assert.strictEqual(
        (yield* fw({ protocol: "tcp", startport: "201", endport: "300", cidrlist: "10.0.0.0/8" })).submitted.status,
        200
      )
    })))

  it.effect("port-less firewall rules with a shared CIDR conflict (537), and ICMP with the same type and code is 431", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const fw = (params: Record<string, string>) => job("createFirewallRule", { ipaddressid: ip, ...params })
      yield* fw({ protocol: "udp" })
      assert.deepStrictEqual(errorOf((yield* fw({ protocol: "udp" })).submitted), {
        status: 537,
        errorcode: 537,
        cserrorcode: 4360,
        errortext: "There is already a firewall rule specified with protocol = udp and no ports"
      })
      yield* fw({ protocol: "icmp", icmptype: "8", icmpcode: "0" })
      const icmp = yield* fw({ protocol: "icmp", icmptype: "8", icmpcode: "0" })
      assert.strictEqual(icmp.submitted.status, 431)
      assert.match(
        str(icmp.submitted.inner.errortext),
        /^New rule conflicts with existing rule: Rule\[\d+-Firewall-Active\]$/
      )
      assert.strictEqual((yield* fw({ protocol: "icmp", icmptype: "0", icmpcode: "0" })).submitted.status, 200)
    })))
})

describe("6.3 LB membership", () => {
  const setup = Effect.gen(function*() {
    const ip = yield* acquire({ networkid: yield* netId("isolated1") })
    const lb = yield* lbRule(ip, "80")
    return str(lb.submitted.inner.id)
  })
  const assignFailed = {
    jobstatus: 2,
    jobresultcode: 530,
    jobresult: { errorcode: 530, errortext: "Failed to assign load balancer rule" }
  }

  it.effect("only VMs with a NIC in the rule's network can be assigned (job fails 530)", () =>
    run(Effect.gen(function*() {
      const lb = yield* setup
      const r = yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: yield* vmId("ns-node-1") })
      assert.deepStrictEqual(jobError(r), assignFailed)
      assert.strictEqual((yield* lbRow(lb)).state, "Add")
    })))

  it.effect("destroyed VMs and duplicate mappings are rejected; on success the rule becomes Active", () =>
    run(Effect.gen(function*() {
      const lb = yield* setup
      const node1 = yield* vmId("node-1")
      const node3 = yield* vmId("node-3")
      assert.strictEqual(
        (yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).result.inner.jobstatus,
        1
      )
      assert.strictEqual((yield* lbRow(lb)).state, "Active")
      assert.deepStrictEqual(
        jobError(yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })),
        assignFailed
      )
      yield* job("destroyVirtualMachine", { id: node3 })
      assert.deepStrictEqual(
        jobError(yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: node3 })),
        assignFailed
      )
    })))

  it.effect("vmidipmap IPs must be the VM's NIC IP in the rule's network", () =>
    run(Effect.gen(function*() {
      const lb = yield* setup
      const node2 = yield* vmId("node-2")
      const wrong = yield* job("assignToLoadBalancerRule", {
        id: lb,
        "vmidipmap[0].vmid": node2,
        "vmidipmap[0].vmip": "10.1.1.99"
      })
      assert.deepStrictEqual(jobError(wrong), assignFailed)
      const right = yield* job("assignToLoadBalancerRule", {
        id: lb,
        "vmidipmap[0].vmid": node2,
        "vmidipmap[0].vmip": "10.1.1.12"
      })
      assert.strictEqual(right.result.inner.jobstatus, 1)
      const members = yield* call("listLoadBalancerRuleInstances", { id: lb, lbvmips: "true" })
      assert.deepStrictEqual(items(members, "lbrulevmidip").map((m) => m.lbvmipaddresses), [["10.1.1.12"]])
    })))

  it.effect("an unknown VM id is a synchronous 431, giving no VMs at all too", () =>
    run(Effect.gen(function*() {
      const lb = yield* setup
      const r = yield* call("assignToLoadBalancerRule", {
        id: lb,
        virtualmachineids: "00000000-0000-4000-8000-000000000000"
      })
      assert.strictEqual(r.status, 431)
      assert.strictEqual(
        (yield* call("assignToLoadBalancerRule", { id: lb })).inner.errortext,
        "Both instanceids and vmidipmap can't be null"
      )
    })))

  it.effect("destroying a VM removes it from its LB rules, which go back to Add", () =>
    run(Effect.gen(function*() {
      const lb = yield* setup
      const node1 = yield* vmId("node-1")
      yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })
      yield* job("destroyVirtualMachine", { id: node1, expunge: "true" })
      assert.deepStrictEqual((yield* call("listLoadBalancerRuleInstances", { id: lb })).inner, {})
      assert.strictEqual((yield* lbRow(lb)).state, "Add")
      // expunged: the row is removed, so even an admin's lookup by id is empty (the id still resolves)
      assert.deepStrictEqual(yield* call("listVirtualMachines", { id: node1 }), {
        status: 200,
        body: { listvirtualmachinesresponse: {} },
        inner: {},
        key: "listvirtualmachinesresponse"
      })
      const state = yield* (yield* CloudStackSimulator).state
      assert.strictEqual(state.vms.find((v) => v.uuid === node1)?.state, "Expunging")
    })))

  it.effect("removing the last VM puts the rule back to Add; an unmapped vmidipmap entry fails with 431", () =>
    run(Effect.gen(function*() {
      const lb = yield* setup
      const node1 = yield* vmId("node-1")
      yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })
      const bad = yield* job("removeFromLoadBalancerRule", {
        id: lb,
        "vmidipmap[0].vmid": node1,
        "vmidipmap[0].vmip": "10.1.1.50"
      })
      assert.deepStrictEqual(jobError(bad), {
        jobstatus: 2,
        jobresultcode: 431,
        jobresult: { errorcode: 431, errortext: "Failed to remove Instance from load balancer rule" }
      })
      assert.strictEqual(
        (yield* job("removeFromLoadBalancerRule", { id: lb, virtualmachineids: node1 })).result.inner.jobstatus,
        1
      )
      assert.strictEqual((yield* lbRow(lb)).state, "Add")
    })))
})

describe("6.4 duplicates and names; provider limits (5.9, 5.15)", () => {
  it.effect("LB rule names are not unique", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      yield* lbRule(ip, "80")
      yield* lbRule(ip, "443")
      const named = yield* call("listLoadBalancerRules", { name: "lb", listall: "true" })
      assert.strictEqual(named.inner.count, 2)
    })))

  it.effect("tags: one value per key and resource (case-insensitive key); the duplicate fails the job with 530", () =>
    run(Effect.gen(function*() {
      const vm = yield* vmId("node-1")
      const tag = (key: string, value: string) =>
        job("createTags", { resourcetype: "uservm", resourceids: vm, "tags[0].key": key, "tags[0].value": value })
      assert.strictEqual((yield* tag("Owner", "a")).result.inner.jobstatus, 1)
      const dup = yield* tag("owner", "b")
      assert.strictEqual(dup.result.inner.jobresultcode, 530)
      assert.match(
        str(obj(dup.result.inner.jobresult).errortext),
        /Duplicate entry .* for key 'i_tags__resource_id__resource_type__key'/
      )
      const tags = items(yield* call("listTags", { resourceid: vm, listall: "true" }), "tag")
      assert.deepStrictEqual(tags.map((t) => [t.key, t.value, t.resourcetype]), [["Owner", "a", "UserVm"]])
    })))

  it.effect("the virtual router refuses UDP rules and health checks; a provider with both capabilities accepts them", () =>
    run(Effect.gen(function*() {
      const vrIp = yield* acquire({ networkid: yield* netId("isolated1") })
      assert.deepStrictEqual(errorOf((yield* lbRule(vrIp, "53", { protocol: "udp" })).submitted), {
        status: 431,
        errorcode: 431,
        cserrorcode: 9999,
        errortext: "LB service provider cannot support this rule"
      })
      const vrLb = str((yield* lbRule(vrIp, "80")).submitted.inner.id)
      const hc = yield* call("createLBHealthCheckPolicy", { lbruleid: vrLb, pingpath: "/healthz" })
      assert.deepStrictEqual(errorOf(hc), {
        status: 430,
        errorcode: 430,
        cserrorcode: 9999,
        errortext:
          `Failed to create HealthCheck policy: Validation Failed (HealthCheck Policy is not supported by LB Provider for the LB rule:${vrLb})`
      })
      const nsIp = yield* acquire({ networkid: yield* netId("isolated-ns") })
      assert.strictEqual((yield* lbRule(nsIp, "53", { protocol: "udp" })).result.inner.jobstatus, 1)
      const nsLb = str((yield* lbRule(nsIp, "80")).submitted.inner.id)
      const ok = yield* job("createLBHealthCheckPolicy", { lbruleid: nsLb, pingpath: "/healthz" })
      assert.strictEqual(ok.result.inner.jobstatus, 1)
      const policies = obj(obj(ok.result.inner.jobresult).healthcheckpolicies)
      assert.strictEqual(policies.lbruleid, nsLb)
      // No `state`: LBHealthCheckPolicyResponse sets it only to "Revoked" (Gson leaves nulls out).
      assert.deepStrictEqual(
        Object.keys(items({ status: 200, body: {}, key: "", inner: policies }, "healthcheckpolicy")[0] ?? {}).sort(),
        [
          "fordisplay",
          "healthcheckinterval",
          "healthcheckthresshold",
          "id",
          "pingpath",
          "responsetime",
          "unhealthcheckthresshold"
        ]
      )
      const second = yield* call("createLBHealthCheckPolicy", { lbruleid: nsLb })
      assert.deepStrictEqual(errorOf(second).errortext, "Already policy attached for the LB Rule")
      assert.strictEqual(second.status, 430)
    })))

  it.effect("a new stickiness policy replaces the previous one", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const lb = str((yield* lbRule(ip, "80")).submitted.inner.id)
      yield* job("createLBStickinessPolicy", { lbruleid: lb, name: "first", methodname: "SourceBased" })
      const second = yield* job("createLBStickinessPolicy", {
        lbruleid: lb,
        name: "second",
        methodname: "lbcookie",
        "param[0].name": "cookie-name",
        "param[0].value": "SRV"
      })
      assert.strictEqual(second.result.inner.jobstatus, 1)
      const listed = items(yield* call("listLBStickinessPolicies", { lbruleid: lb }), "stickinesspolicies")[0] ?? {}
      const policies = Array.isArray(listed.stickinesspolicy) ? listed.stickinesspolicy.map(obj) : []
      assert.deepStrictEqual(policies.map((p) => [p.name, p.methodname, p.params]), [["second", "LbCookie", {
        "cookie-name": "SRV"
      }]])
      const bad = yield* call("createLBStickinessPolicy", {
        lbruleid: lb,
        name: "x",
        methodname: "LbCookie",
        "param[0].name": "nope",
        "param[0].value": "1"
      })
      assert.strictEqual(bad.status, 431)
    })))

  it.effect("ACL item numbers are unique per list and the default lists are immutable", () =>
    run(Effect.gen(function*() {
      const web = yield* netId("vpc1-web")
      const acl = (params: Record<string, string>) =>
        job("createNetworkACL", { protocol: "tcp", startport: "8080", ...params })
      const first = yield* acl({ networkid: web, number: "30" })
      assert.strictEqual(first.result.inner.jobstatus, 1)
      const aclId = str(obj(obj(first.result.inner.jobresult).networkacl).aclid)
      assert.deepStrictEqual(errorOf((yield* acl({ networkid: web, number: "30" })).submitted), {
        status: 431,
        errorcode: 431,
        cserrorcode: 4350,
        errortext: `ACL item with number 30 already exists in ACL: ${aclId}`
      })
      const db = yield* netId("vpc1-db")
      assert.deepStrictEqual(
        errorOf((yield* acl({ networkid: db })).submitted).errortext,
        "Default ACL cannot be modified"
      )
      const defaults = items(yield* call("listNetworkACLLists", { name: "default_allow" }), "networkacllist")
      const defaultItem = items(yield* call("listNetworkACLs", { aclid: str(defaults[0]?.id) }), "networkacl")[0]
      const update = yield* job("updateNetworkACLItem", { id: str(defaultItem?.id), action: "Deny" })
      assert.deepStrictEqual(jobError(update), {
        jobstatus: 2,
        jobresultcode: 431,
        jobresult: { errorcode: 431, errortext: "Default ACL cannot be modified" }
      })
      assert.strictEqual(
        (yield* acl({ networkid: yield* netId("isolated1") })).submitted.inner.errortext,
        `Network ${yield* netId("isolated1")} does not belong to VPC`
      )
      assert.strictEqual(
        (yield* acl({ protocol: "all", networkid: web })).submitted.inner.errortext,
        "start port and end port must be null if protocol = 'all'"
      )
    })))
})

describe("6.5 transitional states and deletes", () => {
  it.effect("create-phase entities are visible before their job completes (IP Allocating, LB Add, firewall Add)", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* sim.setFaults({ jobDuration: "10 seconds" })
      const net = yield* netId("isolated1")
      const ip = str((yield* call("associateIpAddress", { networkid: net })).inner.id)
      assert.strictEqual((yield* ipRow(ip)).state, "Allocating")
      yield* wait(10_000)
      assert.strictEqual((yield* ipRow(ip)).state, "Allocated")
      const fw = str(
        (yield* call("createFirewallRule", { ipaddressid: ip, protocol: "tcp", startport: "22" })).inner.id
      )
      assert.strictEqual(items(yield* call("listFirewallRules", { id: fw }), "firewallrule")[0]?.state, "Add")
      const lb = str(
        (yield* call("createLoadBalancerRule", {
          name: "x",
          algorithm: "source",
          publicport: "80",
          privateport: "80",
          publicipid: ip
        })).inner.id
      )
      assert.strictEqual((yield* lbRow(lb)).state, "Add")
      yield* wait(20_000)
      assert.strictEqual(items(yield* call("listFirewallRules", { id: fw }), "firewallrule")[0]?.state, "Active")
      yield* call("deleteLoadBalancerRule", { id: lb })
      assert.strictEqual((yield* lbRow(lb)).state, "Deleting")
      yield* wait(10_000)
      assert.strictEqual((yield* call("listLoadBalancerRules", { id: lb })).status, 431)
    }).pipe(Effect.provide(simLayer())))

  it.effect("a failed create job removes the entity it created", () =>
    run(Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      yield* sim.failNextJobs("createLoadBalancerRule", 1)
      const lb = yield* lbRule(ip, "80")
      assert.deepStrictEqual(jobError(lb), {
        jobstatus: 2,
        jobresultcode: 530,
        jobresult: { errorcode: 530, errortext: "Failed to create load balancer rule" }
      })
      assert.strictEqual((yield* call("listLoadBalancerRules", { id: str(lb.submitted.inner.id) })).status, 431)
      assert.strictEqual((yield* lbRule(ip, "80")).result.inner.jobstatus, 1)
    })))

  it.effect("hard-deleted rows (LB, firewall, ACL) give 431 by id; soft-deleted ones (VM, IP) give an empty list", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const lb = str((yield* lbRule(ip, "80")).submitted.inner.id)
      yield* job("deleteLoadBalancerRule", { id: lb })
      const gone = yield* call("listLoadBalancerRules", { id: lb })
      assert.strictEqual(gone.status, 431)
      assert.match(str(gone.inner.errortext), /entity does not exist/)
      const acl = yield* job("createNetworkACL", {
        networkid: yield* netId("vpc1-web"),
        protocol: "udp",
        startport: "53"
      })
      const aclItem = str(acl.submitted.inner.id)
      yield* job("deleteNetworkACL", { id: aclItem })
      assert.strictEqual((yield* call("listNetworkACLs", { id: aclItem })).status, 431)
      yield* job("disassociateIpAddress", { id: ip })
      assert.deepStrictEqual(yield* call("listPublicIpAddresses", { id: ip }), {
        status: 200,
        body: { listpublicipaddressesresponse: {} },
        inner: {},
        key: "listpublicipaddressesresponse"
      })
      const own = str(items(yield* call("listVirtualMachines", {}, ALICE), "virtualmachine")[0]?.id)
      yield* job("destroyVirtualMachine", { id: own }, ALICE)
      assert.deepStrictEqual((yield* call("listVirtualMachines", { id: own }, ALICE)).inner, {})
      assert.strictEqual(
        items(yield* call("listVirtualMachines", { id: own }), "virtualmachine")[0]?.state,
        "Destroyed"
      )
    })))
})

describe("6.6 access", () => {
  it.effect("another account's resources give 531; a user sees only their own", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const lb = str((yield* lbRule(ip, "80")).submitted.inner.id)
      const r = yield* call("deleteLoadBalancerRule", { id: lb }, ALICE)
      assert.strictEqual(r.status, 531)
      assert.strictEqual(r.inner.cserrorcode, 4365)
      assert.match(str(r.inner.errortext), /does not have permission/)
      assert.deepStrictEqual((yield* call("listLoadBalancerRules", { listall: "true" }, ALICE)).inner, {})
      const mine = items(yield* call("listVirtualMachines", { listall: "true" }, ALICE), "virtualmachine")
      assert.deepStrictEqual(mine.map((v) => v.name), ["alice-1"])
    })))
})

const obj = (
  u: unknown
): Record<
  string,
  unknown
> => (typeof u === "object" && u !== null && !Array.isArray(u) ? Object.fromEntries(Object.entries(u)) : {})

const strictWorld = new World({
  ...demoWorld,
  networkOfferings: [
    ...demoWorld.networkOfferings,
    new WorldNetworkOffering({
      name: "StrictOffering",
      guestIpType: "Isolated",
      forVpc: false,
      conserveMode: false,
      services: ["Lb", "Firewall", "SourceNat"],
      lbProvider: "VirtualRouter"
    })
  ],
  networks: [
    ...demoWorld.networks,
    new WorldNetwork({ name: "strict", zone: "zone1", offering: "StrictOffering", owner: "admin", cidr: "10.9.0.0/24" })
  ],
  vms: [
    ...demoWorld.vms,
    new WorldVm({
      name: "strict-1",
      zone: "zone1",
      owner: "admin",
      state: "Running",
      serviceOffering: "Small Instance",
      template: "Debian 12",
      nics: [new WorldNic({ network: "strict", ip: "10.9.0.11" })]
    })
  ]
})

describe("lifecycle commands", () => {
  it.effect("policies are deleted by id; listing them afterwards shows none", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated-ns") })
      const lb = str((yield* lbRule(ip, "80")).submitted.inner.id)
      const hc = str((yield* job("createLBHealthCheckPolicy", { lbruleid: lb })).submitted.inner.id)
      const sp = str(
        (yield* job("createLBStickinessPolicy", { lbruleid: lb, name: "s", methodname: "SourceBased" })).submitted.inner
          .id
      )
      assert.strictEqual((yield* job("deleteLBHealthCheckPolicy", { id: hc })).result.inner.jobstatus, 1)
      assert.strictEqual((yield* job("deleteLBStickinessPolicy", { id: sp })).result.inner.jobstatus, 1)
      const hcs = items(yield* call("listLBHealthCheckPolicies", { lbruleid: lb }), "healthcheckpolicies")[0]
      assert.deepStrictEqual(hcs?.healthcheckpolicy, [])
      const sps = items(yield* call("listLBStickinessPolicies", { lbruleid: lb }), "stickinesspolicies")[0]
      assert.deepStrictEqual(sps?.stickinesspolicy, [])
      assert.strictEqual((yield* call("deleteLBHealthCheckPolicy", { id: hc })).status, 431)
      assert.strictEqual((yield* job("createLBHealthCheckPolicy", { lbruleid: lb })).result.inner.jobstatus, 1)
    })))

  it.effect("updateLoadBalancerRule changes name, algorithm and CIDRs but validates them first", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const lb = str((yield* lbRule(ip, "80")).submitted.inner.id)
      assert.strictEqual(
        (yield* call("updateLoadBalancerRule", { id: lb, algorithm: "fastest" })).inner.errortext,
        "Invalid algorithm: fastest"
      )
      assert.strictEqual(
        (yield* call("updateLoadBalancerRule", { id: lb, cidrlist: "10.0.0.0/33" })).inner.errortext,
        "Invalid CIDR list: 10.0.0.0/33"
      )
      const updated = yield* job("updateLoadBalancerRule", {
        id: lb,
        name: "renamed",
        algorithm: "leastconn",
        cidrlist: "10.0.0.0/8,192.168.1.1"
      })
      const rule = obj(obj(updated.result.inner.jobresult).loadbalancer)
      assert.deepStrictEqual([rule.name, rule.algorithm, rule.cidrlist, rule.publicport], [
        "renamed",
        "leastconn",
        "10.0.0.0/8,192.168.1.1",
        "80"
      ])
    })))

  it.effect("static NAT: enable shows the IP on the VM, disable frees it for LB rules", () =>
    run(Effect.gen(function*() {
      const ip = yield* acquire({ networkid: yield* netId("isolated1") })
      const vm = yield* vmId("node-2")
      yield* call("enableStaticNat", { ipaddressid: ip, virtualmachineid: vm })
      const row = items(yield* call("listVirtualMachines", { id: vm }), "virtualmachine")[0]
      assert.strictEqual(row?.publicipid, ip)
      assert.strictEqual((yield* ipRow(ip)).virtualmachineid, vm)
      assert.strictEqual((yield* job("disableStaticNat", { ipaddressid: ip })).result.inner.jobstatus, 1)
      assert.strictEqual((yield* ipRow(ip)).isstaticnat, false)
      assert.strictEqual((yield* lbRule(ip, "80")).result.inner.jobstatus, 1)
      assert.strictEqual(
        (yield* call("disableStaticNat", { ipaddressid: ip })).inner.errortext,
        "Specified IP address id is not associated with any vm Id"
      )
    })))

  it.effect("deploy creates a Starting VM that runs when its job completes; stop/start/destroy change its state", () =>
    run(Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* sim.setFaults({ jobDuration: "3 seconds" })
      const project = yield* byName("listProjects", "project", "demo-project")
      const deployed = yield* call("deployVirtualMachine", {
        zoneid: yield* byName("listZones", "zone", "zone1"),
        serviceofferingid: yield* byName("listServiceOfferings", "serviceoffering", "Small Instance"),
        templateid: yield* byName("listTemplates", "template", "Debian 12", { templatefilter: "featured" }),
        networkids: yield* byName("listNetworks", "network", "project-net", { projectid: project }),
        projectid: project,
        name: "proj-3"
      }, ALICE)
      assert.strictEqual(deployed.status, 200, JSON.stringify(deployed.body))
      const id = str(deployed.inner.id)
      const state = () =>
        Effect.map(
          call("listVirtualMachines", { id, projectid: project }, ALICE),
          (a) => items(a, "virtualmachine")[0]?.state
        )
      assert.strictEqual(yield* state(), "Starting")
      yield* wait(3000)
      assert.strictEqual(yield* state(), "Running")
      const nic = arr(
        items(yield* call("listVirtualMachines", { id, projectid: project }, ALICE), "virtualmachine")[0]?.nic
      )[0] ?? {}
      assert.strictEqual(nic.ipaddress, "10.4.1.2")
      for (
        const [command, expected] of [["stopVirtualMachine", "Stopped"], ["startVirtualMachine", "Running"], [
          "destroyVirtualMachine",
          undefined
        ]] as const
      ) {
        yield* call(command, { id }, ALICE)
        yield* wait(3000)
        assert.strictEqual(yield* state(), expected)
      }
    })))

  it.effect("no free public IP left is 533 (text hidden from users)", () =>
    run(Effect.gen(function*() {
      const net = yield* netId("isolated1")
      const free =
        items(yield* call("listPublicIpAddresses", { allocatedonly: "false", state: "Free" }), "publicipaddress").length
      for (let i = 0; i < free; i++) yield* acquire({ networkid: net })
      const admin = yield* call("associateIpAddress", { networkid: net })
      assert.strictEqual(admin.status, 533)
      assert.match(str(admin.inner.errortext), /^Insufficient address capacity/)
      const user = yield* call("associateIpAddress", { networkid: yield* netId("alice-net") }, ALICE)
      assert.deepStrictEqual([user.status, user.inner.cserrorcode, user.inner.errortext], [
        533,
        4320,
        "Internal error executing command, please contact your system administrator"
      ])
    })))
})

describe("6.1 VPC tier association by networkid", () => {
  it.effect("an IP acquired with a tier's networkid belongs to the VPC and serves that tier at once", () =>
    run(Effect.gen(function*() {
      const web = yield* netId("vpc1-web")
      const ip = yield* acquire({ networkid: web })
      const row = yield* ipRow(ip)
      assert.deepStrictEqual([row.associatednetworkid, row.vpcid], [web, yield* vpcId()])
      const lb = yield* lbRule(ip, "80")
      assert.strictEqual((yield* lbRow(str(lb.submitted.inner.id))).networkid, web)
    })))
})
