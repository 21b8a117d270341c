/**
 * List behaviour: paging and its errors (reference 4.1), account/project scoping (4.2), filters
 * (`name` exact, `keyword`, tags ORed), orderings, and the LB capabilities listNetworks reports.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { byName, call, items, job, obj, simLayer, str } from "./SimHarness.js"

const ALICE = "demo-alice-api-key"
const BOB = "demo-bob-api-key"
const run = <A, E>(self: Effect.Effect<A, E, CloudStackSimulator>) => Effect.provide(self, simLayer())
const names = (a: { readonly inner: Record<string, unknown> }, key: string) =>
  items({ status: 200, body: {}, key: "", inner: a.inner }, key).map((x) => x.name)

describe("4.1 paging", () => {
  it.effect("count is the total, pages slice it, a page past the end is {count} only, nothing is {}", () =>
    run(Effect.gen(function*() {
      const all = yield* call("listVirtualMachines", { listall: "true" })
      const total = all.inner.count
      assert.strictEqual(total, 12)
      const p2 = yield* call("listVirtualMachines", { listall: "true", page: "2", pagesize: "4" })
      assert.strictEqual(p2.inner.count, 12)
      assert.deepStrictEqual(names(p2, "virtualmachine"), names(all, "virtualmachine").slice(4, 8))
      assert.deepStrictEqual(
        (yield* call("listVirtualMachines", { listall: "true", page: "4", pagesize: "4" })).inner,
        { count: 12 }
      )
      assert.deepStrictEqual((yield* call("listVirtualMachines", { name: "nope" })).inner, {})
      assert.strictEqual((yield* call("listVirtualMachines", { listall: "true", pagesize: "-1" })).inner.count, 12)
    })))

  it.effect("page/pagesize errors have the real 431 texts", () =>
    run(Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ page: "1" }, `"pagesize" parameter is required when "page" is specified`],
        [{ pagesize: "10" }, `"page" parameter is required when "pagesize" is specified`],
        [{ page: "1", pagesize: "501" }, "Page size can't exceed max allowed page size value: 500"],
        [{ page: "1", pagesize: "-1" }, "Can't specify page parameter when pagesize is -1 (Unlimited)"],
        [
          { page: "x", pagesize: "10" },
          "Unable to execute API command listzones due to invalid value x for parameter page"
        ]
      ]
      for (const [params, text] of cases) {
        const r = yield* call("listZones", params)
        assert.deepStrictEqual([r.status, r.inner.errortext], [431, text], JSON.stringify(params))
      }
    })))

  it.effect("the default page holds 500 rows", () =>
    run(Effect.gen(function*() {
      const vm = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      for (let i = 0; i < 510; i++) {
        yield* job("createTags", {
          resourcetype: "UserVm",
          resourceids: vm,
          "tags[0].key": `k${i}`,
          "tags[0].value": "v"
        })
      }
      const page = yield* call("listTags", { listall: "true" })
      assert.strictEqual(page.inner.count, 510)
      assert.strictEqual(items(page, "tag").length, 500)
    })))

  it.effect("orderings: VMs and LB rules by creation, firewall rules newest first, IPs by address", () =>
    run(Effect.gen(function*() {
      const net = yield* byName("listNetworks", "network", "isolated1")
      const ipA = str((yield* job("associateIpAddress", { networkid: net })).submitted.inner.id)
      const ipB = str((yield* job("associateIpAddress", { networkid: net })).submitted.inner.id)
      for (const port of ["22", "23"]) {
        yield* job("createFirewallRule", { ipaddressid: ipA, protocol: "tcp", startport: port })
      }
      const fw = items(yield* call("listFirewallRules", { ipaddressid: ipA }), "firewallrule")
      assert.deepStrictEqual(fw.map((r) => r.startport), [23, 22])
      for (const [ip, name] of [[ipB, "b"], [ipA, "a"]] as const) {
        yield* job("createLoadBalancerRule", {
          name,
          algorithm: "roundrobin",
          publicport: "80",
          privateport: "80",
          publicipid: ip,
          openfirewall: "false"
        })
      }
      assert.deepStrictEqual(names(yield* call("listLoadBalancerRules", {}), "loadbalancerrule"), ["b", "a"])
      const ips = items(yield* call("listPublicIpAddresses", { listall: "true" }), "publicipaddress").map((i) =>
        str(i.ipaddress)
      )
      const numeric = (s: string) => s.split(".").reduce((n, o) => n * 256 + Number(o), 0)
      assert.deepStrictEqual(ips, [...ips].sort((x, y) => numeric(x) - numeric(y)))
      assert.isAbove(ips.length, 2)
    })))
})

describe("4.2 scoping", () => {
  it.effect("project resources only appear with projectid; projectid=-1 lists all accessible projects", () =>
    run(Effect.gen(function*() {
      const project = yield* byName("listProjects", "project", "demo-project")
      // the name filter ignores case, as MySQL's collation does
      assert.deepStrictEqual(names(yield* call("listProjects", { name: "Demo-PROJECT", listall: "true" }), "project"), [
        "demo-project"
      ])
      const noProject = names(yield* call("listVirtualMachines", { listall: "true" }), "virtualmachine")
      assert.isFalse(noProject.includes("proj-1"))
      assert.deepStrictEqual(names(yield* call("listVirtualMachines", { projectid: project }), "virtualmachine"), [
        "proj-1",
        "proj-2"
      ])
      assert.deepStrictEqual(names(yield* call("listVirtualMachines", { projectid: "-1" }, ALICE), "virtualmachine"), [
        "proj-1",
        "proj-2"
      ])
      assert.deepStrictEqual(
        names(yield* call("listVirtualMachines", { projectid: "-1", listall: "true" }, ALICE), "virtualmachine"),
        ["alice-1", "proj-1", "proj-2"]
      )
      const vm = items(yield* call("listVirtualMachines", { projectid: project }), "virtualmachine")[0]
      assert.strictEqual(vm?.project, "demo-project")
      assert.strictEqual(vm?.projectid, project)
      assert.strictEqual(vm?.account, undefined)
    })))

  it.effect("a user looking up a project resource by id without projectid gets an empty list; an admin sees it", () =>
    run(Effect.gen(function*() {
      const project = yield* byName("listProjects", "project", "demo-project")
      const id = str(items(yield* call("listVirtualMachines", { projectid: project }), "virtualmachine")[0]?.id)
      assert.deepStrictEqual((yield* call("listVirtualMachines", { id }, ALICE)).inner, {})
      assert.strictEqual((yield* call("listVirtualMachines", { id })).inner.count, 1)
    })))

  it.effect("an inaccessible project is 531, an unknown one 431, account with projectid 431", () =>
    run(Effect.gen(function*() {
      const project = yield* byName("listProjects", "project", "demo-project")
      const denied = yield* call("listVirtualMachines", { projectid: project }, BOB)
      assert.deepStrictEqual([denied.status, denied.inner.cserrorcode, denied.inner.errortext], [
        531,
        4365,
        `Account bob can't access project id=${project}`
      ])
      assert.strictEqual(
        (yield* call("listVirtualMachines", { projectid: "11111111-1111-4111-8111-111111111111" })).status,
        431
      )
      const both = yield* call("listVirtualMachines", { projectid: project, account: "admin" })
      assert.deepStrictEqual([both.status, both.inner.errortext], [
        431,
        "Account and projectId can't be specified together"
      ])
    })))

  it.effect("users see only their own resources whatever listall says; an admin needs listall=true for others'", () =>
    run(Effect.gen(function*() {
      assert.deepStrictEqual(names(yield* call("listVirtualMachines", { listall: "true" }, ALICE), "virtualmachine"), [
        "alice-1"
      ])
      assert.deepStrictEqual((yield* call("listVirtualMachines", {}, BOB)).inner, {})
      assert.isFalse(names(yield* call("listVirtualMachines", {}), "virtualmachine").includes("alice-1"))
      assert.isTrue(
        names(yield* call("listVirtualMachines", { listall: "true" }), "virtualmachine").includes("alice-1")
      )
      assert.deepStrictEqual(names(yield* call("listVirtualMachines", { account: "alice" }), "virtualmachine"), [
        "alice-1"
      ])
    })))

  it.effect("an unknown api key gets the 401 body without cserrorcode", () =>
    run(Effect.gen(function*() {
      const r = yield* call("listZones", {}, "no-such-key")
      assert.deepStrictEqual(r.body, {
        listzonesresponse: {
          uuidList: [],
          errorcode: 401,
          errortext: "unable to verify user credentials and/or request signature"
        }
      })
    })))
})

describe("filters", () => {
  it.effect("name is exact, keyword is a case-insensitive substring, tags match if any pair matches", () =>
    run(Effect.gen(function*() {
      assert.deepStrictEqual(names(yield* call("listVirtualMachines", { name: "node" }), "virtualmachine"), [])
      assert.deepStrictEqual(names(yield* call("listVirtualMachines", { name: "node-2" }), "virtualmachine"), [
        "node-2"
      ])
      assert.deepStrictEqual(names(yield* call("listVirtualMachines", { keyword: "NS-NODE" }), "virtualmachine"), [
        "ns-node-1",
        "ns-node-2"
      ])
      const n1 = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      const n2 = yield* byName("listVirtualMachines", "virtualmachine", "node-2")
      yield* job("createTags", {
        resourcetype: "UserVm",
        resourceids: n1,
        "tags[0].key": "role",
        "tags[0].value": "web"
      })
      yield* job("createTags", {
        resourcetype: "UserVm",
        resourceids: n2,
        "tags[0].key": "tier",
        "tags[0].value": "db"
      })
      const either = yield* call("listVirtualMachines", {
        "tags[0].key": "role",
        "tags[0].value": "web",
        "tags[1].key": "tier",
        "tags[1].value": "db"
      })
      assert.deepStrictEqual(names(either, "virtualmachine"), ["node-1", "node-2"])
      const noValue = yield* call("listVirtualMachines", { "tags[0].key": "role" })
      assert.deepStrictEqual([noValue.status, noValue.inner.errortext], [431, "No value is passed in for key role"])
      const vm = items(yield* call("listVirtualMachines", { id: n1 }), "virtualmachine")[0]
      assert.deepStrictEqual(
        Array.isArray(vm?.tags)
          ? vm.tags.map((t: unknown) => typeof t === "object" && t !== null && "key" in t ? t.key : "")
          : [],
        ["role"]
      )
    })))

  it.effect("ids with id is 431; details without nics leaves the NICs out", () =>
    run(Effect.gen(function*() {
      const n1 = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      const both = yield* call("listVirtualMachines", { id: n1, ids: n1 })
      assert.deepStrictEqual([both.status, both.inner.errortext], [
        431,
        "Specify either id or ids but not both parameters"
      ])
      const lean = items(yield* call("listVirtualMachines", { id: n1, details: "min" }), "virtualmachine")[0]
      assert.strictEqual(lean?.nic, undefined)
      assert.strictEqual((yield* call("listVirtualMachines", { details: "bogus" })).status, 431)
    })))

  it.effect("listNetworks reports LB capabilities from the offering's provider (the VR claims udp, as the real one)", () =>
    run(Effect.gen(function*() {
      const caps = (name: string) =>
        Effect.map(call("listNetworks", { name, listall: "true" }), (a) => {
          const services = items(a, "network")[0]?.service
          const lb = Array.isArray(services)
            ? services.find((s: unknown) => typeof s === "object" && s !== null && "name" in s && s.name === "Lb")
            : undefined
          const capability = typeof lb === "object" && lb !== null && "capability" in lb && Array.isArray(lb.capability)
            ? lb.capability
            : []
          return Object.fromEntries(capability.map((c: unknown) =>
            typeof c === "object" && c !== null && "name" in c && "value" in c
              ? [String(c.name), String(c.value)]
              : ["", ""]
          ))
        })
      const vr = yield* caps("isolated1")
      // The real virtual router advertises udp and refuses UDP rules (cloudstack PR #4501).
      assert.strictEqual(vr.SupportedProtocols, "tcp, udp, tcp-proxy")
      assert.strictEqual(vr.HealthCheckPolicy, undefined)
      const ns = yield* caps("isolated-ns")
      assert.strictEqual(ns.SupportedProtocols, "tcp, udp, tcp-proxy")
      assert.strictEqual(ns.HealthCheckPolicy, "true")
      assert.deepStrictEqual(yield* caps("shared1"), {})
      const tiers = yield* call("listNetworks", { vpcid: yield* byName("listVPCs", "vpc", "vpc1") })
      assert.deepStrictEqual(items(tiers, "network").map((n) => [n.name, n.aclname]), [
        ["vpc1-web", "web-acl"],
        ["vpc1-app", "web-acl"],
        ["vpc1-db", "default_allow"]
      ])
    })))
})

describe("public IPs and ACL lists", () => {
  it.effect("allocatedonly=false adds the zone's free addresses for any caller, with or without projectid", () =>
    run(Effect.gen(function*() {
      const project = yield* byName("listProjects", "project", "demo-project")
      const free = yield* call("listPublicIpAddresses", {
        ipaddress: "203.0.113.40",
        allocatedonly: "false",
        listall: "true",
        projectid: project
      }, ALICE)
      assert.deepStrictEqual(items(free, "publicipaddress").map((i) => [i.ipaddress, i.state, i.account]), [[
        "203.0.113.40",
        "Free",
        undefined
      ]])
      assert.deepStrictEqual((yield* call("listPublicIpAddresses", { ipaddress: "203.0.113.40" }, ALICE)).inner, {})
    })))

  it.effect("ACL lists: the defaults are visible to all, a VPC's custom list to whoever sees the VPC; custom items update", () =>
    run(Effect.gen(function*() {
      assert.deepStrictEqual(names(yield* call("listNetworkACLLists", {}, ALICE), "networkacllist"), [
        "default_allow",
        "default_deny"
      ])
      assert.deepStrictEqual(names(yield* call("listNetworkACLLists", { listall: "true" }), "networkacllist"), [
        "default_allow",
        "default_deny",
        "web-acl"
      ])
      const web = yield* byName("listNetworks", "network", "vpc1-web")
      const rules = items(yield* call("listNetworkACLs", { networkid: web }), "networkacl")
      assert.deepStrictEqual(rules.map((r) => [r.number, r.startport, r.action]), [[20, "443", "Allow"], [
        10,
        "80",
        "Allow"
      ]])
      const updated = yield* job("updateNetworkACLItem", {
        id: str(rules[1]?.id),
        action: "deny",
        cidrlist: "10.0.0.0/8"
      })
      assert.strictEqual(obj(obj(updated.result.inner.jobresult).networkacl).action, "Deny")
      const after = items(yield* call("listNetworkACLs", { id: str(rules[1]?.id) }), "networkacl")[0]
      assert.deepStrictEqual([after?.action, after?.cidrlist, after?.number], ["Deny", "10.0.0.0/8", 10])
    })))
})
