import { assert, describe, it } from "@effect/vitest"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import { describeChange, nodesTable } from "../../src/simulation/NodeTable.js"

const node = (name: string, ready: string | undefined, taints: ReadonlyArray<string> = []): NodeView => ({
  metadata: { name, namespace: "", uid: "u", resourceVersion: "1", labels: {}, annotations: {}, finalizers: [] },
  spec: { providerID: "", taints: taints.map((key) => ({ key, effect: "NoSchedule" })) },
  status: { addresses: [], conditions: ready === undefined ? [] : [{ type: "Ready", status: ready }] }
})

describe("NodeTable", () => {
  it("describes Ready transitions as kubelet and kube-controller-manager cause them", () => {
    assert.deepStrictEqual(describeChange(node("n", undefined), node("n", "True")), ["kubelet reports Ready"])
    assert.deepStrictEqual(describeChange(node("n", "True"), node("n", "Unknown")), [
      "NotReady: kubelet stopped posting status"
    ])
    assert.deepStrictEqual(describeChange(node("n", "True"), node("n", "False")), [
      "NotReady: kubelet reports not ready"
    ])
    assert.deepStrictEqual(describeChange(node("n", "Unknown"), node("n", "True")), [
      "Ready again: kubelet posts status"
    ])
    // A heartbeat (same status) or a not-ready taint change is not notable.
    assert.deepStrictEqual(describeChange(node("n", "True", ["node.kubernetes.io/not-ready"]), node("n", "True")), [])
    assert.deepStrictEqual(
      describeChange(
        node("n", "Unknown", ["node.cloudprovider.kubernetes.io/shutdown"]),
        node("n", "True", ["node.cloudprovider.kubernetes.io/shutdown"])
      ),
      ["Ready again: kubelet posts status"]
    )
  })

  it("prints the status as kubectl does: Ready, NotReady, Unknown before any report", () => {
    const rows = nodesTable([
      node("c", undefined),
      node("a", "True"),
      node("b", "Unknown", ["node.kubernetes.io/unreachable"])
    ]).split("\n")
    assert.match(rows[0] ?? "", /^NODE\s+STATUS\s+PROVIDER ID/)
    assert.match(rows[2] ?? "", /^a\s+Ready\s+-\s.*\s-$/)
    assert.match(rows[3] ?? "", /^b\s+NotReady\s.*\sunreachable$/)
    assert.match(rows[4] ?? "", /^c\s+Unknown\s/)
  })
})
