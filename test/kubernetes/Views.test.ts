import { assert, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect, Either, Schema } from "effect"
import { EndpointSliceView, serviceNameOf } from "../../src/kubernetes/EndpointSliceView.js"
import { microTime } from "../../src/kubernetes/LeaseApi.js"
import { NodeView } from "../../src/kubernetes/NodeView.js"
import { objectKey } from "../../src/kubernetes/ObjectMeta.js"
import { ServiceView } from "../../src/kubernetes/ServiceView.js"

describe("views", () => {
  it.effect("decode a client-node model instance, whose timestamps are Dates", () =>
    Effect.gen(function*() {
      const node = new k8s.V1Node()
      node.metadata = {
        name: "n1",
        uid: "u1",
        resourceVersion: "7",
        deletionTimestamp: new Date(Date.UTC(2026, 10, 28, 1, 2, 3))
      }
      node.spec = { providerID: "cloudstack:///vm-1", taints: [{ key: "k", effect: "NoSchedule" }] }
      const view = yield* Schema.decodeUnknown(NodeView)(node)
      assert.strictEqual(view.metadata.deletionTimestamp, "2026-11-28T01:02:03.000Z")
      assert.strictEqual(view.spec.providerID, "cloudstack:///vm-1")
      assert.deepStrictEqual(view.status, { addresses: [], conditions: [] })
      assert.strictEqual(objectKey(view), "n1")
    }))

  it.effect("decode raw JSON with nulls and missing fields to the defaults controllers expect", () =>
    Effect.gen(function*() {
      const service = yield* Schema.decodeUnknown(ServiceView)({
        metadata: { name: "web", namespace: "default", labels: null, finalizers: null },
        spec: { type: "LoadBalancer", ports: [{ port: 80 }], loadBalancerSourceRanges: null },
        status: { loadBalancer: {} },
        extra: { ignored: true }
      })
      assert.deepStrictEqual(service.metadata.labels, {})
      assert.deepStrictEqual(service.metadata.finalizers, [])
      assert.deepStrictEqual(service.spec.ports, [{ name: "", protocol: "TCP", port: 80, nodePort: 0 }])
      assert.deepStrictEqual(service.status.loadBalancer.ingress, [])
      assert.strictEqual(objectKey(service), "default/web")
    }))

  it("rejects an object without a name (a decode failure, not a silent default)", () => {
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(NodeView)({ metadata: {} })))
  })

  it.effect("read the node of an EndpointSlice endpoint from v1 nodeName or v1beta1 topology", () =>
    Effect.gen(function*() {
      const slice = yield* Schema.decodeUnknown(EndpointSliceView)({
        metadata: { name: "web-abc", namespace: "default", labels: { "kubernetes.io/service-name": "web" } },
        endpoints: [
          { addresses: ["10.0.0.1"], nodeName: "n1", conditions: { ready: true } },
          { addresses: ["10.0.0.2"], topology: { "kubernetes.io/hostname": "n2" }, conditions: { ready: false } },
          { addresses: ["10.0.0.3"] }
        ]
      })
      assert.deepStrictEqual(slice.endpoints, [{ nodeName: "n1", ready: true }, { nodeName: "n2", ready: false }, {
        ready: true
      }])
      assert.strictEqual(serviceNameOf(slice), "web")
    }))

  it("formats MicroTime with six fractional digits", () => {
    assert.strictEqual(microTime(Date.UTC(2026, 10, 28, 2, 50, 0, 123)), "2026-11-28T02:50:00.123000Z")
  })
})
