/**
 * Async jobs as reference 3: queryAsyncJobResult while pending and when done, synchronous errors
 * without a job, per-network FIFO execution on the simulator's Clock, forced and random failures.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { byName, call, job, simLayer, str, wait } from "./SimHarness.js"

const status = (jobid: string) => Effect.map(call("queryAsyncJobResult", { jobid }), (a) => a.inner)

const lbOn = (network: string) =>
  Effect.gen(function*() {
    const net = yield* byName("listNetworks", "network", network)
    const ip = str((yield* job("associateIpAddress", { networkid: net })).submitted.inner.id)
    const lb = yield* job("createLoadBalancerRule", {
      name: network,
      algorithm: "roundrobin",
      publicport: "80",
      privateport: "80",
      publicipid: ip
    })
    return str(lb.submitted.inner.id)
  })

describe("async jobs", () => {
  it.effect("a pending job has jobstatus 0 and no jobresult; it completes after jobDuration on the Clock", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      yield* wait(1_633_000_000_000)
      yield* sim.setFaults({ jobDuration: "5 seconds" })
      const net = yield* byName("listNetworks", "network", "isolated1")
      const submitted = yield* call("associateIpAddress", { networkid: net })
      assert.deepStrictEqual(Object.keys(submitted.inner), ["id", "jobid"])
      const jobid = str(submitted.inner.jobid)
      const pending = yield* status(jobid)
      assert.strictEqual(pending.jobstatus, 0)
      assert.strictEqual(pending.jobresultcode, 0)
      assert.isFalse("jobresult" in pending)
      assert.isFalse("completed" in pending)
      assert.strictEqual(pending.created, "2021-09-30T11:06:40+0000")
      assert.strictEqual(pending.jobinstancetype, "IpAddress")
      assert.strictEqual(pending.jobinstanceid, submitted.inner.id)
      assert.strictEqual(pending.cmd, "org.apache.cloudstack.api.command.user.address.AssociateIPAddrCmd")
      yield* wait(4_999)
      assert.strictEqual((yield* status(jobid)).jobstatus, 0)
      yield* wait(1)
      const done = yield* status(jobid)
      assert.strictEqual(done.jobstatus, 1)
      assert.strictEqual(done.completed, "2021-09-30T11:06:45+0000")
      assert.strictEqual(done.jobresulttype, "object")
    }).pipe(Effect.provide(simLayer())))

  it.effect("jobs on one network run one at a time in FIFO order; other networks run in parallel", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const lbA = yield* lbOn("isolated1")
      const lbB = yield* lbOn("isolated-ns")
      yield* sim.setFaults({ jobDuration: "10 seconds" })
      const node1 = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      const ns1 = yield* byName("listVirtualMachines", "virtualmachine", "ns-node-1")
      const a1 = str((yield* call("assignToLoadBalancerRule", { id: lbA, virtualmachineids: node1 })).inner.jobid)
      const a2 = str((yield* call("removeFromLoadBalancerRule", { id: lbA, virtualmachineids: node1 })).inner.jobid)
      const b1 = str((yield* call("assignToLoadBalancerRule", { id: lbB, virtualmachineids: ns1 })).inner.jobid)
      yield* wait(10_000)
      assert.deepStrictEqual([
        (yield* status(a1)).jobstatus,
        (yield* status(a2)).jobstatus,
        (yield* status(b1)).jobstatus
      ], [1, 0, 1])
      const lbState = (id: string) =>
        Effect.map(call("listLoadBalancerRules", { id }), (a) => {
          const rows = a.inner.loadbalancerrule
          return Array.isArray(rows) && typeof rows[0] === "object" && rows[0] !== null && "state" in rows[0]
            ? rows[0].state
            : undefined
        })
      assert.strictEqual(yield* lbState(lbA), "Active")
      yield* wait(10_000)
      assert.strictEqual((yield* status(a2)).jobstatus, 1)
      assert.strictEqual(yield* lbState(lbA), "Add")
    }).pipe(Effect.provide(simLayer())))

  it.effect("synchronous validation errors create no job", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const before = (yield* sim.state).jobs.length
      const r = yield* call("createLoadBalancerRule", {
        name: "x",
        algorithm: "bogus",
        publicport: "80",
        privateport: "80"
      })
      assert.deepStrictEqual([r.status, r.inner.errortext], [431, "Invalid algorithm: bogus"])
      assert.strictEqual((yield* sim.state).jobs.length, before)
    }).pipe(Effect.provide(simLayer())))

  it.effect("failNextJobs fails exactly the next n jobs of a command with the given code and text", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const lb = yield* lbOn("isolated1")
      const node1 = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      yield* sim.failNextJobs("assignToLoadBalancerRule", 2, 534, "router unreachable")
      for (let i = 0; i < 2; i++) {
        const r = yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })
        assert.deepStrictEqual([r.result.inner.jobstatus, r.result.inner.jobresultcode, r.result.inner.jobresult], [
          2,
          534,
          { errorcode: 534, errortext: "router unreachable" }
        ])
      }
      assert.strictEqual(
        (yield* job("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).result.inner.jobstatus,
        1
      )
    }).pipe(Effect.provide(simLayer())))

  it.effect("jobFailureRate 1 fails every job with 530; rate 0 fails none", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const vm = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      yield* sim.setFaults({ jobFailureRate: 1 })
      const failed = yield* job("createTags", {
        resourcetype: "UserVm",
        resourceids: vm,
        "tags[0].key": "a",
        "tags[0].value": "b"
      })
      assert.strictEqual(failed.result.inner.jobresultcode, 530)
      yield* sim.setFaults({ jobFailureRate: 0 })
      const ok = yield* job("createTags", {
        resourcetype: "UserVm",
        resourceids: vm,
        "tags[0].key": "a",
        "tags[0].value": "b"
      })
      assert.strictEqual(ok.result.inner.jobstatus, 1)
    }).pipe(Effect.provide(simLayer())))

  it.effect("a slow job runs slowJobDuration later, and its network's queue waits behind it", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const lb = yield* lbOn("isolated1")
      const node1 = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      yield* sim.setFaults({ slowJobRate: 1, slowJobDuration: "6 minutes" })
      const slow = str((yield* call("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).inner.jobid)
      yield* sim.setFaults({ slowJobRate: 0 })
      const next = str((yield* call("removeFromLoadBalancerRule", { id: lb, virtualmachineids: node1 })).inner.jobid)
      yield* wait(6 * 60_000 - 1)
      assert.deepStrictEqual([(yield* status(slow)).jobstatus, (yield* status(next)).jobstatus], [0, 0])
      yield* wait(1)
      assert.deepStrictEqual([(yield* status(slow)).jobstatus, (yield* status(next)).jobstatus], [1, 1])
    }).pipe(Effect.provide(simLayer())))

  it.effect("a stuck job blocks its queue until job.cancel.threshold, then is cancelled without effect (status 2, code 0)", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const lb = yield* lbOn("isolated1")
      const node1 = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      yield* sim.setFaults({ stuckJobRate: 1, jobCancelThreshold: "60 minutes" })
      const stuck = str((yield* call("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).inner.jobid)
      yield* sim.setFaults({ stuckJobRate: 0 })
      const next = str((yield* call("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).inner.jobid)
      yield* wait(60 * 60_000 - 1)
      assert.deepStrictEqual([(yield* status(stuck)).jobstatus, (yield* status(next)).jobstatus], [0, 0])
      yield* wait(1)
      const cancelled = yield* status(stuck)
      assert.deepStrictEqual([cancelled.jobstatus, cancelled.jobresultcode, cancelled.jobresult], [
        2,
        0,
        { errorcode: 0, errortext: "Job is cancelled as it has been blocking others for too long" }
      ])
      // The cancelled assignment had no effect: the next one (the same VM) succeeds.
      assert.strictEqual((yield* status(next)).jobstatus, 1)
    }).pipe(Effect.provide(simLayer())))

  it.effect("a stuck job does not use up a forced failure: the next job that runs fails as forced", () =>
    Effect.gen(function*() {
      const sim = yield* CloudStackSimulator
      const lb = yield* lbOn("isolated1")
      const node1 = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      yield* sim.failNextJobs("assignToLoadBalancerRule", 1, 534, "router unreachable")
      yield* sim.setFaults({ stuckJobRate: 1, jobCancelThreshold: "10 minutes" })
      const stuck = str((yield* call("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).inner.jobid)
      yield* sim.setFaults({ stuckJobRate: 0 })
      const next = str((yield* call("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).inner.jobid)
      const after = str((yield* call("assignToLoadBalancerRule", { id: lb, virtualmachineids: node1 })).inner.jobid)
      yield* wait(10 * 60_000)
      const [s, n, a] = [yield* status(stuck), yield* status(next), yield* status(after)]
      assert.deepStrictEqual([s.jobstatus, s.jobresultcode], [2, 0], "the stuck job is cancelled")
      assert.deepStrictEqual([n.jobstatus, n.jobresultcode, n.jobresult], [2, 534, {
        errorcode: 534,
        errortext: "router unreachable"
      }], "the forced failure waited for a job that runs")
      assert.strictEqual(a.jobstatus, 1, "one forced failure fails one job")
    }).pipe(Effect.provide(simLayer())))

  it.effect("an unknown jobid is the 431 UUID-resolution error", () =>
    Effect.gen(function*() {
      const r = yield* call("queryAsyncJobResult", { jobid: "deadbeef-0000-4000-8000-000000000000" })
      assert.deepStrictEqual([r.status, r.inner.cserrorcode, r.inner.errortext], [
        431,
        9999,
        "Unable to execute API command queryasyncjobresult due to invalid value. Invalid parameter jobid value=deadbeef-0000-4000-8000-000000000000 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class."
      ])
    }).pipe(Effect.provide(simLayer())))
})

describe("job expiry", () => {
  it.effect("a finished job is forgotten after job.expire.minutes (1440): its jobid is then 431", () =>
    Effect.gen(function*() {
      const vm = yield* byName("listVirtualMachines", "virtualmachine", "node-1")
      const tagged = yield* job("createTags", {
        resourcetype: "UserVm",
        resourceids: vm,
        "tags[0].key": "a",
        "tags[0].value": "b"
      })
      const jobid = str(tagged.submitted.inner.jobid)
      yield* wait(1440 * 60_000 - 1)
      assert.strictEqual((yield* status(jobid)).jobstatus, 1)
      yield* wait(1)
      assert.strictEqual((yield* call("queryAsyncJobResult", { jobid })).status, 431)
    }).pipe(Effect.provide(simLayer())))
})
