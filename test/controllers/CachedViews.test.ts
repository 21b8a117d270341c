import { assert, describe, it } from "@effect/vitest"
import { Effect, FiberRef, Schema, Stream } from "effect"
import * as CachedViews from "../../src/controllers/CachedViews.js"
import * as NodePlan from "../../src/controllers/NodePlan.js"
import * as ServicePlan from "../../src/controllers/ServicePlan.js"
import type * as Informer from "../../src/kubernetes/Informer.js"
import * as NodeApi from "../../src/kubernetes/NodeApi.js"
import { NodeView } from "../../src/kubernetes/NodeView.js"
import * as ServiceApi from "../../src/kubernetes/ServiceApi.js"
import { ServiceView } from "../../src/kubernetes/ServiceView.js"
import * as NodeAddresses from "../../src/provider/NodeAddresses.js"

/** A Node as a kubelet and this CCM leave it, plus what a cluster adds (labels, annotations, conditions). */
const kubeletNode = (name: string, extra: { labels?: Record<string, string>; ready?: string; taints?: unknown } = {}) =>
  Schema.decodeUnknownSync(NodeView)({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: "42",
      creationTimestamp: "2026-12-01T00:00:00Z",
      labels: {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "node-role.kubernetes.io/worker": "",
        "node.kubernetes.io/instance-type": "MediumInstance",
        "beta.kubernetes.io/instance-type": "MediumInstance",
        "topology.kubernetes.io/zone": "zone-one",
        "failure-domain.beta.kubernetes.io/zone": "zone-one",
        "topology.kubernetes.io/region": "region-one",
        "failure-domain.beta.kubernetes.io/region": "region-one",
        ...extra.labels
      },
      annotations: {
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        [NodeAddresses.PROVIDED_NODE_IP_ANNOTATION]: "10.0.0.7"
      },
      finalizers: ["example.com/keep"]
    },
    spec: {
      providerID: `cloudstack:///vm-${name}`,
      podCIDR: "10.244.1.0/24",
      taints: extra.taints ?? [{ key: "example.com/dedicated", value: "db", effect: "NoSchedule" }]
    },
    status: {
      addresses: [{ type: "InternalIP", address: "10.0.0.7" }, { type: "Hostname", address: name }],
      capacity: { cpu: "4" },
      conditions: ["MemoryPressure", "DiskPressure", "Ready"].map((type) => ({
        type,
        status: type === "Ready" ? (extra.ready ?? "True") : "False",
        reason: `Kubelet${type}`,
        message: `kubelet reports ${type}`
      })),
      nodeInfo: { kubeletVersion: "v1.20.2" }
    }
  })

describe("CachedViews.cachedNode", () => {
  const node = kubeletNode("w1", { labels: { [ServicePlan.EXCLUDE_LABEL]: "true" } })
  const cached = CachedViews.cachedNode(node)

  it("keeps every label and annotation a controller reads, and only those", () => {
    const read = [
      ...NodePlan.LABELS.instanceType,
      ...NodePlan.LABELS.zone,
      ...NodePlan.LABELS.region,
      ServicePlan.EXCLUDE_LABEL
    ]
    assert.deepStrictEqual(
      cached.metadata.labels,
      Object.fromEntries(read.map((key) => [key, node.metadata.labels[key]]))
    )
    assert.deepStrictEqual(cached.metadata.annotations, { [NodeAddresses.PROVIDED_NODE_IP_ANNOTATION]: "10.0.0.7" })
  })

  it("keeps the Ready condition, the whole spec, the addresses and the identity; drops the other conditions and the creation time", () => {
    assert.deepStrictEqual(cached.status.conditions, [{ type: "Ready", status: "True" }])
    assert.deepStrictEqual(cached.spec, node.spec)
    assert.deepStrictEqual(cached.status.addresses, node.status.addresses)
    const { creationTimestamp, ...identity } = node.metadata
    assert.isDefined(creationTimestamp)
    assert.deepStrictEqual(
      { ...cached.metadata, labels: {}, annotations: {} },
      { ...identity, labels: {}, annotations: {} }
    )
  })

  it("every controller decision is the same on the cached Node as on the whole one", () => {
    const nodes = [
      node,
      kubeletNode("w2", { ready: "False" }),
      kubeletNode("w3", { ready: "Unknown", taints: [{ key: NodePlan.TAINT_SHUTDOWN, effect: "NoSchedule" }] }),
      kubeletNode("w4", { labels: { "node.kubernetes.io/instance-type": "Other" } }),
      kubeletNode("w5", { taints: [{ key: ServicePlan.TO_BE_DELETED_TAINT, effect: "NoSchedule" }] }),
      kubeletNode("w6", { taints: [{ key: NodePlan.TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }] })
    ]
    const cloud: ReadonlyArray<NodeAddresses.NodeAddress> = [{ type: "InternalIP", address: "10.0.0.8" }]
    const decisions = (n: NodeView) => ({
      ready: NodePlan.isReady(n),
      uninitialized: NodePlan.isUninitialized(n),
      monitored: NodePlan.needsMonitoring(n),
      mirrored: NodePlan.mirroredLabels(n),
      providedIp: NodePlan.providedNodeIp(n),
      addresses: NodePlan.addressChange(n, cloud),
      ref: NodePlan.nodeRef(n),
      eligible: ServicePlan.isEligible(n),
      membership: ServicePlan.membershipFacts(n)
    })
    for (const n of nodes) assert.deepStrictEqual(decisions(CachedViews.cachedNode(n)), decisions(n), n.metadata.name)
  })

  it("Nodes cached through one informer's pool share what they have alike, and only that", () => {
    const shared = CachedViews.nodeSharing()
    const [a, b, c] = [
      node,
      kubeletNode("w2", { labels: { [ServicePlan.EXCLUDE_LABEL]: "true" } }),
      kubeletNode("w3", { ready: "False", labels: { "topology.kubernetes.io/zone": "zone-two" } })
    ].map((n) => CachedViews.cachedNode(n, shared))
    if (a === undefined || b === undefined || c === undefined) return assert.fail("three Nodes")
    assert.strictEqual(b.metadata.labels, a.metadata.labels)
    assert.strictEqual(b.spec.taints, a.spec.taints)
    assert.strictEqual(b.status.conditions, a.status.conditions)
    assert.notStrictEqual(c.metadata.labels, a.metadata.labels)
    assert.notStrictEqual(c.status.conditions, a.status.conditions)
    // what is shared is what each Node has
    assert.deepStrictEqual(c.metadata.labels["topology.kubernetes.io/zone"], "zone-two")
    assert.deepStrictEqual(c.status.conditions, [{ type: "Ready", status: "False" }])
    assert.deepStrictEqual(
      b,
      CachedViews.cachedNode(kubeletNode("w2", { labels: { [ServicePlan.EXCLUDE_LABEL]: "true" } }))
    )
  })
})

describe("CachedViews.cachedService", () => {
  it("keeps everything the service controller reads: all but the labels", () => {
    const service = Schema.decodeUnknownSync(ServiceView)({
      metadata: {
        name: "web",
        namespace: "default",
        uid: "u1",
        resourceVersion: "9",
        labels: { app: "web", "app.kubernetes.io/managed-by": "Helm" },
        annotations: { "service.beta.kubernetes.io/cloudstack-load-balancer-proxy-protocol": "true" },
        finalizers: [ServicePlan.FINALIZER]
      },
      spec: { type: "LoadBalancer", ports: [{ name: "http", port: 80, nodePort: 30080 }], loadBalancerIP: "1.2.3.4" },
      status: { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } }
    })
    const cached = CachedViews.cachedService(service)
    const { creationTimestamp: _, ...metadata } = service.metadata
    assert.deepStrictEqual(cached, { ...service, metadata: { ...metadata, labels: {} } })
    assert.strictEqual(ServicePlan.specSignature(cached), ServicePlan.specSignature(service))
    assert.deepStrictEqual(ServicePlan.toLbService(cached), ServicePlan.toLbService(service))
    assert.deepStrictEqual(ServicePlan.claimsOf([cached], ""), ServicePlan.claimsOf([service], ""))
  })

  it("Services cached through one informer's pool share their finalizer list, and stay equal to the unshared", () => {
    const decoded = (name: string, finalizers: ReadonlyArray<string>) =>
      Schema.decodeUnknownSync(ServiceView)({
        metadata: {
          name,
          namespace: "default",
          uid: `u-${name}`,
          annotations: { "example.com/net": "net-1" },
          finalizers
        },
        spec: { type: "LoadBalancer", ports: [{ port: 80, nodePort: 30080 }] }
      })
    const shared = CachedViews.serviceSharing()
    const [a, b, c] = [
      decoded("a", [ServicePlan.FINALIZER]),
      decoded("b", [ServicePlan.FINALIZER]),
      decoded("c", ["example.com/other"])
    ].map((s) => CachedViews.cachedService(s, shared))
    if (a === undefined || b === undefined || c === undefined) return assert.fail("three Services")
    assert.strictEqual(b.metadata.finalizers, a.metadata.finalizers)
    assert.notStrictEqual(c.metadata.finalizers, a.metadata.finalizers)
    assert.deepStrictEqual(c, CachedViews.cachedService(decoded("c", ["example.com/other"])))
  })
})

describe("CachedViews informers", () => {
  /** A source whose list keeps each Node with the fiber's NodeApi.listKeep, as NodeApi's list does per page. */
  const keepingSource = (nodes: ReadonlyArray<NodeView>, seen: Array<NodeView>): Informer.ListWatch<NodeView> => ({
    list: Effect.map(FiberRef.get(NodeApi.listKeep), (keep) => {
      const items = nodes.map((node) => {
        const kept = keep(node)
        seen.push(kept)
        return kept
      })
      return { items, resourceVersion: "1" }
    }),
    watch: () => Stream.never
  })

  it.scoped("the Node informer's list keeps each Node as it is decoded, and the cache holds those very objects", () =>
    Effect.gen(function*() {
      const seen: Array<NodeView> = []
      const informer = yield* CachedViews.nodeInformer(keepingSource([kubeletNode("w1"), kubeletNode("w2")], seen))
      yield* informer.awaitSynced
      // Reduced by the list already: no full Node of the list is alive until the whole list is in.
      assert.deepStrictEqual(seen.map((node) => node.metadata.creationTimestamp), [undefined, undefined])
      assert.deepStrictEqual(seen, [
        CachedViews.cachedNode(kubeletNode("w1")),
        CachedViews.cachedNode(kubeletNode("w2"))
      ])
      const cached = yield* informer.list
      assert.strictEqual(cached.length, 2)
      for (const node of cached) assert.isTrue(seen.includes(node), `${node.metadata.name} kept once, by the list`)
    }))

  it.scoped("the Service informer's list keeps each Service as it is decoded", () =>
    Effect.gen(function*() {
      const service = Schema.decodeUnknownSync(ServiceView)({
        metadata: { name: "web", namespace: "default", uid: "u1", labels: { app: "web" } },
        spec: { type: "LoadBalancer", ports: [{ port: 80, nodePort: 30080 }] }
      })
      const seen: Array<ServiceView> = []
      const source: Informer.ListWatch<ServiceView> = {
        list: Effect.map(FiberRef.get(ServiceApi.listKeep), (keep) => {
          const kept = keep(service)
          seen.push(kept)
          return { items: [kept], resourceVersion: "1" }
        }),
        watch: () => Stream.never
      }
      const informer = yield* CachedViews.serviceInformer(source)
      yield* informer.awaitSynced
      assert.deepStrictEqual(seen, [CachedViews.cachedService(service)])
      assert.deepStrictEqual(yield* informer.list, seen)
      assert.strictEqual((yield* informer.list)[0], seen[0])
    }))
})
