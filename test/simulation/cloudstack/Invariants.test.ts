/**
 * Random operation sequences against the simulator: the per-IP rule index must agree with a full
 * scan, LB states must follow their members, and released IPs must carry nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck } from "effect"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { byName, call, items, job, simLayer, str } from "./SimHarness.js"

type Op =
  | { readonly op: "acquire" }
  | { readonly op: "lb"; readonly ip: number; readonly port: number; readonly udp: boolean }
  | { readonly op: "fw"; readonly ip: number; readonly port: number }
  | { readonly op: "assign"; readonly lb: number; readonly vm: number }
  | { readonly op: "unassign"; readonly lb: number; readonly vm: number }
  | { readonly op: "deleteLb"; readonly lb: number }
  | { readonly op: "release"; readonly ip: number }

const opArb: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  { weight: 3, arbitrary: FastCheck.constant<Op>({ op: "acquire" }) },
  {
    weight: 4,
    arbitrary: FastCheck.record({
      op: FastCheck.constant("lb" as const),
      ip: FastCheck.nat(5),
      port: FastCheck.integer({ min: 80, max: 84 }),
      udp: FastCheck.boolean()
    })
  },
  {
    weight: 1,
    arbitrary: FastCheck.record({
      op: FastCheck.constant("fw" as const),
      ip: FastCheck.nat(5),
      port: FastCheck.integer({ min: 80, max: 84 })
    })
  },
  {
    weight: 4,
    arbitrary: FastCheck.record({
      op: FastCheck.constant("assign" as const),
      lb: FastCheck.nat(8),
      vm: FastCheck.nat(4)
    })
  },
  {
    weight: 1,
    arbitrary: FastCheck.record({
      op: FastCheck.constant("unassign" as const),
      lb: FastCheck.nat(8),
      vm: FastCheck.nat(4)
    })
  },
  { weight: 1, arbitrary: FastCheck.record({ op: FastCheck.constant("deleteLb" as const), lb: FastCheck.nat(8) }) },
  { weight: 1, arbitrary: FastCheck.record({ op: FastCheck.constant("release" as const), ip: FastCheck.nat(5) }) }
)

const VMS = ["node-1", "node-2", "ns-node-1", "ns-node-2", "web-1"]
const NETWORKS = ["isolated1", "isolated-ns"]

const runOps = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const nets = yield* Effect.forEach(NETWORKS, (n) => byName("listNetworks", "network", n))
    const vms = yield* Effect.forEach(VMS, (n) => byName("listVirtualMachines", "virtualmachine", n))
    const ips: Array<string> = []
    const lbs: Array<string> = []
    for (const [i, o] of ops.entries()) {
      switch (o.op) {
        case "acquire":
          ips.push(str((yield* job("associateIpAddress", { networkid: nets[i % 2] ?? "" })).submitted.inner.id))
          break
        case "lb": {
          const ip = ips[o.ip % Math.max(1, ips.length)]
          if (ip === undefined) break
          const r = yield* job("createLoadBalancerRule", {
            name: "r",
            algorithm: "roundrobin",
            publicport: String(o.port),
            privateport: "8080",
            publicipid: ip,
            protocol: o.udp ? "udp" : "tcp",
            openfirewall: "false"
          })
          if (r.submitted.status === 200) lbs.push(str(r.submitted.inner.id))
          break
        }
        case "fw": {
          const ip = ips[o.ip % Math.max(1, ips.length)]
          if (ip !== undefined) {
            yield* job("createFirewallRule", { ipaddressid: ip, protocol: "tcp", startport: String(o.port) })
          }
          break
        }
        case "assign":
        case "unassign": {
          const lb = lbs[o.lb % Math.max(1, lbs.length)]
          if (lb !== undefined) {
            yield* job(o.op === "assign" ? "assignToLoadBalancerRule" : "removeFromLoadBalancerRule", {
              id: lb,
              virtualmachineids: vms[o.vm] ?? ""
            })
          }
          break
        }
        case "deleteLb": {
          const lb = lbs[o.lb % Math.max(1, lbs.length)]
          if (lb !== undefined) {
            yield* job("deleteLoadBalancerRule", { id: lb })
          }
          break
        }
        case "release": {
          const ip = ips[o.ip % Math.max(1, ips.length)]
          if (ip !== undefined) yield* job("disassociateIpAddress", { id: ip })
          break
        }
      }
    }
    const state = yield* (yield* CloudStackSimulator).state
    // 1. the per-IP index (publicipid filter) agrees with a scan of all rules
    for (const ip of state.publicIps) {
      const indexed = items(
        yield* call("listLoadBalancerRules", { publicipid: ip.uuid, listall: "true" }),
        "loadbalancerrule"
      ).map((r) => r.id)
      const scanned = state.lbRules.filter((r) => r.ipUuid === ip.uuid).map((r) => r.uuid)
      assert.deepStrictEqual(indexed, scanned)
      // 2. released IPs carry nothing
      if (ip.state === "Free") {
        assert.deepStrictEqual(scanned, [])
        assert.isFalse(state.firewallRules.some((f) => f.ipUuid === ip.uuid))
      }
    }
    for (const r of state.lbRules) {
      // 3. states follow members; rules live on their IP's network; no two rules share a port
      assert.strictEqual(r.state, r.members.size > 0 ? "Active" : "Add")
      assert.strictEqual(state.publicIps.find((i) => i.uuid === r.ipUuid)?.associatedNetworkUuid, r.networkUuid)
      assert.strictEqual(state.lbRules.filter((o) => o.ipUuid === r.ipUuid && o.publicPort === r.publicPort).length, 1)
      for (const vm of r.members.keys()) {
        assert.isTrue(state.vms.some((v) => v.uuid === vm && v.nics.some((n) => n.networkUuid === r.networkUuid)))
      }
    }
    return {
      active: state.lbRules.filter((r) => r.state === "Active").length,
      released: state.jobs.filter((j) => j.command === "disassociateIpAddress" && j.status === 1).length,
      conflicts: (yield* (yield* CloudStackSimulator).callLog).filter((c) => c.status === 537).length
    }
  })

describe("invariants under random operation sequences", () => {
  it.effect("rule index, LB states, membership and release cascade stay consistent", () =>
    Effect.gen(function*() {
      const runs = yield* Effect.forEach(
        FastCheck.sample(FastCheck.array(opArb, { minLength: 10, maxLength: 60 }), { seed: 20261128, numRuns: 40 }),
        (ops) => Effect.provide(runOps(ops), simLayer())
      )
      // the sequences do reach the interesting states
      for (const k of ["active", "released", "conflicts"] as const) {
        assert.isAbove(runs.reduce((n, r) => n + r[k], 0), 0, k)
      }
    }))
})
