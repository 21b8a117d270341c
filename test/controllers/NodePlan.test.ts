import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { VirtualMachine } from "../../src/cloudstack/commands/VirtualMachines.js"
import * as NodePlan from "../../src/controllers/NodePlan.js"
import { NodeView } from "../../src/kubernetes/NodeView.js"
import * as InstanceLookup from "../../src/provider/InstanceLookup.js"

const node = (fields: {
  providerID?: string
  taints?: ReadonlyArray<{ key: string; effect: string }>
  ready?: boolean
  annotations?: Record<string, string>
  addresses?: ReadonlyArray<{ type: string; address: string }>
}) =>
  Schema.decodeUnknownSync(NodeView)({
    metadata: { name: "w1", uid: "uid-1", resourceVersion: "7", annotations: fields.annotations ?? {} },
    spec: { providerID: fields.providerID ?? "", taints: fields.taints ?? [] },
    status: {
      addresses: fields.addresses ?? [{ type: "Hostname", address: "w1" }],
      conditions: fields.ready === undefined ? [] : [{ type: "Ready", status: fields.ready ? "True" : "False" }]
    }
  })

const metadata: InstanceLookup.InstanceMetadata = {
  providerID: "external-cloudstack://vm-1",
  instanceType: "small",
  zone: "zone1",
  region: "eu",
  addresses: [{ type: "InternalIP", address: "10.0.0.1" }, { type: "InternalIP", address: "fd00::1" }]
}
const uninit = { key: NodePlan.TAINT_UNINITIALIZED, effect: "NoSchedule" }
const other = { key: "dedicated", effect: "NoSchedule" }

describe("NodePlan.initialise", () => {
  it("sets providerID, GA and beta labels, removes only the uninitialized taint, keeps the kubelet Hostname", () => {
    const plan = Either.getOrThrow(NodePlan.initialise(node({ taints: [uninit, other] }), metadata))
    assert.deepStrictEqual(plan.update, {
      name: "w1",
      resourceVersion: "7",
      providerID: "external-cloudstack://vm-1",
      labels: {
        "node.kubernetes.io/instance-type": "small",
        "beta.kubernetes.io/instance-type": "small",
        "topology.kubernetes.io/zone": "zone1",
        "failure-domain.beta.kubernetes.io/zone": "zone1",
        "topology.kubernetes.io/region": "eu",
        "failure-domain.beta.kubernetes.io/region": "eu"
      },
      taints: [other]
    })
    assert.deepStrictEqual(plan.addresses, [...metadata.addresses, { type: "Hostname", address: "w1" }])
  })
  it("never changes a providerID already set", () => {
    const plan = Either.getOrThrow(
      NodePlan.initialise(node({ providerID: "cloudstack:///vm-1", taints: [uninit] }), metadata)
    )
    assert.isFalse("providerID" in plan.update)
  })
  it("an invalid provided-node-ip fails (the taint stays)", () => {
    const bad = node({ taints: [uninit], annotations: { "alpha.kubernetes.io/provided-node-ip": "10.9.9.9" } })
    assert.isTrue(Either.isLeft(NodePlan.initialise(bad, metadata)))
    const good = node({ taints: [uninit], annotations: { "alpha.kubernetes.io/provided-node-ip": "fd00::1" } })
    const plan = Either.getOrThrow(NodePlan.initialise(good, metadata))
    assert.deepStrictEqual(plan.addresses?.[0], { type: "InternalIP", address: "fd00::1" })
    assert.isFalse(plan.addresses?.some((a) => a.address === "10.0.0.1"))
  })
  it("no address change when status already matches", () => {
    const current = [...metadata.addresses, { type: "Hostname", address: "w1" }]
    assert.deepStrictEqual(
      NodePlan.addressChange(node({ addresses: current }), metadata.addresses),
      Either.right(undefined)
    )
  })
})

describe("NodePlan.mirroredLabels", () => {
  it("the beta label wins: GA twins are added or corrected, nothing when in step", () => {
    const n = Schema.decodeUnknownSync(NodeView)({
      metadata: {
        name: "w1",
        labels: {
          "failure-domain.beta.kubernetes.io/zone": "z1",
          "topology.kubernetes.io/zone": "old",
          "beta.kubernetes.io/instance-type": "small"
        }
      }
    })
    assert.deepStrictEqual(NodePlan.mirroredLabels(n), {
      "topology.kubernetes.io/zone": "z1",
      "node.kubernetes.io/instance-type": "small"
    })
    const inStep = Schema.decodeUnknownSync(NodeView)({
      metadata: {
        name: "w1",
        labels: { "failure-domain.beta.kubernetes.io/zone": "z1", "topology.kubernetes.io/zone": "z1" }
      }
    })
    assert.isUndefined(NodePlan.mirroredLabels(inStep))
  })
})

describe("NodePlan.lifecycle", () => {
  const vm = (state: string) =>
    InstanceLookup.Match.Found({
      vm: Schema.decodeUnknownSync(VirtualMachine)({ id: "vm-1", name: "w1", state, zoneid: "z" }),
      by: "name"
    })
  const shutdown = { key: NodePlan.TAINT_SHUTDOWN, effect: "NoSchedule" }
  it("Ready nodes only lose the shutdown taint, whatever the cloud says", () => {
    assert.strictEqual(
      NodePlan.lifecycle(node({ ready: true, taints: [shutdown] }), InstanceLookup.Match.Missing())._tag,
      "RemoveShutdownTaint"
    )
    assert.strictEqual(NodePlan.lifecycle(node({ ready: true }), InstanceLookup.Match.Missing())._tag, "Nothing")
  })
  it("NotReady (or no Ready condition) with no VM, or a Destroyed VM, is deleted with its uid", () => {
    assert.deepStrictEqual(
      NodePlan.lifecycle(node({ ready: false }), InstanceLookup.Match.Missing()),
      NodePlan.LifecycleAction.Delete({ uid: "uid-1" })
    )
    assert.strictEqual(NodePlan.lifecycle(node({}), vm("Destroyed"))._tag, "Delete")
  })
  it("NotReady with a Stopped VM gets the shutdown taint once; a Running VM changes nothing", () => {
    assert.strictEqual(NodePlan.lifecycle(node({ ready: false }), vm("Stopped"))._tag, "AddShutdownTaint")
    assert.strictEqual(NodePlan.lifecycle(node({ ready: false, taints: [shutdown] }), vm("Stopped"))._tag, "Nothing")
    assert.strictEqual(NodePlan.lifecycle(node({ ready: false }), vm("Running"))._tag, "Nothing")
  })
  it("an ambiguous or foreign lookup is Unresolved, never a deletion", () => {
    assert.strictEqual(
      NodePlan.lifecycle(node({ ready: false }), InstanceLookup.Match.Ambiguous({ vmIds: ["a", "b"] }))._tag,
      "Unresolved"
    )
  })
})

describe("NodePlan.needsMonitoring", () => {
  const shutdown = { key: NodePlan.TAINT_SHUTDOWN, effect: "NoSchedule" }
  it("NotReady (or no Ready condition) or shutdown-tainted Nodes only", () => {
    assert.isFalse(NodePlan.needsMonitoring(node({ ready: true })))
    assert.isFalse(NodePlan.needsMonitoring(node({ ready: true, taints: [other] })))
    assert.isTrue(NodePlan.needsMonitoring(node({ ready: true, taints: [shutdown] })))
    assert.isTrue(NodePlan.needsMonitoring(node({ ready: false })))
    assert.isTrue(NodePlan.needsMonitoring(node({})))
  })
  it("a Node it leaves out is Nothing for the monitor, whatever the cloud says", () => {
    const lookups = [InstanceLookup.Match.Missing(), InstanceLookup.Match.Ambiguous({ vmIds: ["a", "b"] }), undefined]
    for (const n of [node({ ready: true }), node({ ready: true, taints: [other] })]) {
      for (const lookup of lookups) assert.strictEqual(NodePlan.lifecycle(n, lookup)._tag, "Nothing")
    }
  })
})
