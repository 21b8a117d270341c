import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import type { Lease } from "../../src/kubernetes/LeaseApi.js"
import { microTime } from "../../src/kubernetes/LeaseApi.js"
import { decide, released } from "../../src/runtime/LeaderElectionPlan.js"

const base = { namespace: "kube-system", name: "cloud-controller-manager", identity: "me_1", leaseDurationSeconds: 15 }
const held = (holder: string | undefined, transitions = 3): Lease => ({
  namespace: "kube-system",
  name: "cloud-controller-manager",
  resourceVersion: "7",
  spec: {
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    acquireTime: "2026-01-01T00:00:00.000000Z",
    renewTime: "2026-01-01T00:00:05.000000Z",
    leaseTransitions: transitions
  }
})

describe("LeaderElectionPlan.decide", () => {
  it("creates the lease when there is none, holding it with zero transitions", () => {
    const d = decide({ ...base, current: Option.none(), observedAt: 1000, now: 1000 })
    assert.strictEqual(d._tag, "Create")
    if (d._tag !== "Create") return
    assert.strictEqual(d.lease.spec.holderIdentity, "me_1")
    assert.strictEqual(d.lease.spec.leaseTransitions, 0)
    assert.strictEqual(d.lease.spec.leaseDurationSeconds, 15)
    assert.strictEqual(d.lease.spec.renewTime, microTime(1000))
  })

  it("waits while another holder's lease has not expired by our observation, whatever its renewTime says", () => {
    const d = decide({ ...base, current: Option.some(held("other_2")), observedAt: 100_000, now: 114_999 })
    assert.deepStrictEqual(d._tag === "Wait" ? [d.holder, d.expiresAt] : d._tag, ["other_2", 115_000])
  })

  it("takes over once the observed lease expired, counting a transition and resetting acquireTime", () => {
    const d = decide({ ...base, current: Option.some(held("other_2", 3)), observedAt: 100_000, now: 115_000 })
    assert.strictEqual(d._tag, "Update")
    if (d._tag !== "Update") return
    assert.isTrue(d.takeover)
    assert.strictEqual(d.lease.resourceVersion, "7", "the write is conditional on the version we read")
    assert.strictEqual(d.lease.spec.holderIdentity, "me_1")
    assert.strictEqual(d.lease.spec.leaseTransitions, 4)
    assert.strictEqual(d.lease.spec.acquireTime, microTime(115_000))
  })

  it("renews its own lease keeping acquireTime and transitions", () => {
    const d = decide({ ...base, current: Option.some(held("me_1", 3)), observedAt: 100_000, now: 102_000 })
    assert.strictEqual(d._tag, "Update")
    if (d._tag !== "Update") return
    assert.isFalse(d.takeover)
    assert.strictEqual(d.lease.spec.leaseTransitions, 3)
    assert.strictEqual(d.lease.spec.acquireTime, "2026-01-01T00:00:00.000000Z")
    assert.strictEqual(d.lease.spec.renewTime, microTime(102_000))
  })

  it("takes a released lease (no holder) at once", () => {
    const d = decide({
      ...base,
      current: Option.some(released(held("other_2"), 50_000)),
      observedAt: 100_000,
      now: 100_000
    })
    assert.strictEqual(d._tag, "Update")
    assert.isTrue(d._tag === "Update" && d.takeover)
  })

  it("released leases have no holder, a 1 s duration and keep the transition count", () => {
    const r = released(held("me_1", 5), 0)
    assert.isUndefined(r.spec.holderIdentity)
    assert.strictEqual(r.spec.leaseDurationSeconds, 1)
    assert.strictEqual(r.spec.leaseTransitions, 5)
  })
})
