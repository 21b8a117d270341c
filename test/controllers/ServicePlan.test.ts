import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Option, Schema } from "effect"
import * as ServicePlan from "../../src/controllers/ServicePlan.js"
import { EndpointSliceView } from "../../src/kubernetes/EndpointSliceView.js"
import { NodeView } from "../../src/kubernetes/NodeView.js"
import { ServiceView } from "../../src/kubernetes/ServiceView.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"

const { EXCLUDE_LABEL, FINALIZER, TO_BE_DELETED_TAINT } = ServicePlan

interface ServiceFields {
  readonly name?: string
  readonly namespace?: string
  readonly uid?: string
  readonly resourceVersion?: string
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
  readonly finalizers?: ReadonlyArray<string>
  readonly deletionTimestamp?: string
  readonly spec?: Record<string, unknown>
  readonly ingress?: ReadonlyArray<Record<string, string>>
}

/** A Service as the API server sends it (decoded like a watch event). */
const svc = (f: ServiceFields = {}): ServiceView =>
  Schema.decodeUnknownSync(ServiceView)({
    metadata: {
      name: f.name ?? "web",
      namespace: f.namespace ?? "default",
      uid: f.uid ?? "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      resourceVersion: f.resourceVersion ?? "1",
      labels: f.labels ?? {},
      annotations: f.annotations ?? {},
      finalizers: f.finalizers ?? [],
      ...(f.deletionTimestamp === undefined ? {} : { deletionTimestamp: f.deletionTimestamp })
    },
    spec: {
      type: "LoadBalancer",
      ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }],
      ...f.spec
    },
    status: { loadBalancer: { ingress: f.ingress ?? [] } }
  })

const node = (f: {
  name?: string
  providerID?: string
  labels?: Record<string, string>
  taints?: ReadonlyArray<{ key: string; effect: string }>
  deletionTimestamp?: string
  ready?: boolean
}) =>
  Schema.decodeUnknownSync(NodeView)({
    metadata: {
      name: f.name ?? "n1",
      labels: f.labels ?? {},
      ...(f.deletionTimestamp === undefined ? {} : { deletionTimestamp: f.deletionTimestamp })
    },
    spec: { providerID: f.providerID ?? "", taints: f.taints ?? [] },
    status: { addresses: [], conditions: [{ type: "Ready", status: f.ready === false ? "False" : "True" }] }
  })

const slice = (
  service: string,
  endpoints: ReadonlyArray<{ nodeName?: string; ready?: boolean }>,
  namespace = "default"
) =>
  Schema.decodeUnknownSync(EndpointSliceView)({
    metadata: { name: `${service}-x`, namespace, labels: { "kubernetes.io/service-name": service } },
    endpoints: endpoints.map((e) => ({
      ...(e.nodeName === undefined ? {} : { nodeName: e.nodeName }),
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } })
    }))
  })

const DELETED = "2024-01-01T00:00:00Z"

describe("ServicePlan: which Services", () => {
  const wants: ReadonlyArray<readonly [string, ServiceFields, boolean]> = [
    ["type LoadBalancer", {}, true],
    ["an empty loadBalancerClass", { spec: { loadBalancerClass: "" } }, true],
    ["a null loadBalancerClass", { spec: { loadBalancerClass: null } }, true],
    ["any loadBalancerClass is someone else's", { spec: { loadBalancerClass: "example.com/lb" } }, false],
    ["even one named after CloudStack", { spec: { loadBalancerClass: "cloudstack" } }, false],
    ["ClusterIP", { spec: { type: "ClusterIP" } }, false],
    ["NodePort", { spec: { type: "NodePort" } }, false],
    ["ExternalName", { spec: { type: "ExternalName" } }, false],
    ["no type", { spec: { type: null } }, false]
  ]
  for (const [title, fields, expected] of wants) {
    it(`wantsLoadBalancer: ${title} → ${expected}`, () => {
      assert.strictEqual(ServicePlan.wantsLoadBalancer(svc(fields)), expected)
    })
  }

  const cleanup: ReadonlyArray<readonly [string, ServiceFields, boolean]> = [
    ["a live LB Service with the finalizer", { finalizers: [FINALIZER] }, false],
    ["being deleted, with the finalizer", { finalizers: ["other", FINALIZER], deletionTimestamp: DELETED }, true],
    [
      "being deleted, without the finalizer (not ours any more)",
      { finalizers: ["other"], deletionTimestamp: DELETED },
      false
    ],
    ["type changed to ClusterIP, with the finalizer", { finalizers: [FINALIZER], spec: { type: "ClusterIP" } }, true],
    ["a class set, with the finalizer", { finalizers: [FINALIZER], spec: { loadBalancerClass: "x" } }, true],
    ["a ClusterIP Service without the finalizer", { spec: { type: "ClusterIP" } }, false]
  ]
  for (const [title, fields, expected] of cleanup) {
    it(`needsCleanup: ${title} → ${expected}`, () => {
      assert.strictEqual(ServicePlan.needsCleanup(svc(fields)), expected)
      assert.strictEqual(ServicePlan.hasFinalizer(svc(fields)), (fields.finalizers ?? []).includes(FINALIZER))
    })
  }

  it("serviceKey is namespace/name", () => {
    assert.strictEqual(ServicePlan.serviceKey(svc({ namespace: "shop", name: "api" })), "shop/api")
  })
})

describe("ServicePlan.needsUpdate and specSignature", () => {
  const base: ServiceFields = {
    finalizers: [FINALIZER],
    annotations: { [Annotations.ALGORITHM]: "source", "example.com/a": "1" },
    spec: { loadBalancerSourceRanges: ["10.0.0.0/8", "192.0.2.0/24"] }
  }
  const with_ = (f: ServiceFields): ServiceFields => ({ ...base, ...f, spec: { ...base.spec, ...f.spec } })
  const port = { name: "http", protocol: "TCP", port: 80, nodePort: 30080 }

  const table: ReadonlyArray<readonly [string, ServiceFields, boolean]> = [
    // what the LB depends on
    ["a port's number", with_({ spec: { ports: [{ ...port, port: 81 }] } }), true],
    ["a port's nodePort", with_({ spec: { ports: [{ ...port, nodePort: 30081 }] } }), true],
    ["a port's protocol", with_({ spec: { ports: [{ ...port, protocol: "UDP" }] } }), true],
    ["a port's name", with_({ spec: { ports: [{ ...port, name: "web" }] } }), true],
    ["a port added", with_({ spec: { ports: [port, { ...port, name: "https", port: 443, nodePort: 30443 }] } }), true],
    ["the source ranges", with_({ spec: { loadBalancerSourceRanges: ["10.0.0.0/8"] } }), true],
    ["spec.loadBalancerIP", with_({ spec: { loadBalancerIP: "203.0.113.10" } }), true],
    ["sessionAffinity", with_({ spec: { sessionAffinity: "ClientIP" } }), true],
    ["externalTrafficPolicy", with_({ spec: { externalTrafficPolicy: "Local" } }), true],
    ["healthCheckNodePort", with_({ spec: { healthCheckNodePort: 31000 } }), true],
    ["the type", with_({ spec: { type: "NodePort" } }), true],
    ["a loadBalancerClass", with_({ spec: { loadBalancerClass: "x" } }), true],
    ["the UID (recreated under the same name)", with_({ uid: "00000000-0000-0000-0000-000000000001" }), true],
    [
      "a user annotation changed",
      with_({ annotations: { [Annotations.ALGORITHM]: "leastconn", "example.com/a": "1" } }),
      true
    ],
    ["a user annotation added", with_({ annotations: { ...base.annotations, [Annotations.KEEP_IP]: "true" } }), true],
    ["a user annotation removed", with_({ annotations: { "example.com/a": "1" } }), true],
    ["deletion requested", with_({ deletionTimestamp: DELETED }), true],
    // what it does not
    ["nothing", with_({}), false],
    ["the resourceVersion", with_({ resourceVersion: "2" }), false],
    ["the status", with_({ ingress: [{ ip: "203.0.113.10" }] }), false],
    ["the finalizers", with_({ finalizers: [FINALIZER, "other"] }), false],
    ["the labels", with_({ labels: { app: "web" } }), false],
    ["the source ranges' order", with_({ spec: { loadBalancerSourceRanges: ["192.0.2.0/24", "10.0.0.0/8"] } }), false],
    [
      "the annotations' order",
      with_({ annotations: { "example.com/a": "1", [Annotations.ALGORITHM]: "source" } }),
      false
    ],
    ["sessionAffinity None spelt out", with_({ spec: { sessionAffinity: "None" } }), false],
    ["externalTrafficPolicy Cluster spelt out", with_({ spec: { externalTrafficPolicy: "Cluster" } }), false],
    [
      "the controller's own annotations",
      with_({
        annotations: {
          ...base.annotations,
          [Annotations.IP_ID]: "ip-1",
          [Annotations.IP_ASSOCIATED]: "true",
          [Annotations.IP_ALLOCATING]: "203.0.113.10"
        }
      }),
      false
    ]
  ]
  for (const [title, current, expected] of table) {
    it(`${title} → ${expected ? "sync" : "no sync"}`, () => {
      const previous = svc(base)
      const next = svc(current)
      assert.strictEqual(ServicePlan.needsUpdate(previous, next), expected)
      assert.strictEqual(ServicePlan.needsUpdate(next, previous), expected)
      // the digest the controller remembers tells the same changes apart as the signature
      assert.strictEqual(
        ServicePlan.specDigest(previous) === ServicePlan.specDigest(next),
        ServicePlan.specSignature(previous) === ServicePlan.specSignature(next)
      )
    })
  }

  it("a Service that needs cleanup always needs a sync, even unchanged", () => {
    const deleting = svc({ finalizers: [FINALIZER], deletionTimestamp: DELETED })
    assert.isTrue(ServicePlan.needsUpdate(deleting, deleting))
  })
  it("deletionTimestamp appearing needs a sync even without our finalizer", () => {
    assert.isTrue(ServicePlan.needsUpdate(svc(), svc({ deletionTimestamp: DELETED })))
  })
  it.prop(
    "the signature ignores every managed annotation value",
    [fc.string(), fc.string(), fc.string()],
    ([id, associated, allocating]) => {
      const plain = svc(base)
      const written = svc(with_({
        annotations: {
          ...base.annotations,
          [Annotations.IP_ID]: id,
          [Annotations.IP_ASSOCIATED]: associated,
          [Annotations.IP_ALLOCATING]: allocating
        }
      }))
      assert.strictEqual(ServicePlan.specSignature(written), ServicePlan.specSignature(plain))
    }
  )
})

describe("ServicePlan.isEligible (stableNodeSetPredicates)", () => {
  const table: ReadonlyArray<readonly [string, Parameters<typeof node>[0], boolean]> = [
    ["a plain node", {}, true],
    ["a NotReady node (readiness is not a criterion)", { ready: false }, true],
    ["being deleted", { deletionTimestamp: DELETED }, false],
    ["tainted ToBeDeletedByClusterAutoscaler", { taints: [{ key: TO_BE_DELETED_TAINT, effect: "NoSchedule" }] }, false],
    ["another taint", { taints: [{ key: "dedicated", effect: "NoSchedule" }] }, true],
    ["an unrelated label", { labels: { "node-role.kubernetes.io/control-plane": "" } }, true],
    // the exclusion label: strconv.ParseBool; true and unparsable values exclude
    ...["", "true", "True", "TRUE", "t", "T", "1", "yes", "no", "FaLsE", " false", "false ", "00", "off"].map((v) =>
      [`exclusion label ${JSON.stringify(v)}`, { labels: { [EXCLUDE_LABEL]: v } }, false] as const
    ),
    ...["false", "False", "FALSE", "f", "F", "0"].map((v) =>
      [`exclusion label ${JSON.stringify(v)} (a Go ParseBool false)`, { labels: { [EXCLUDE_LABEL]: v } }, true] as const
    )
  ]
  for (const [title, fields, expected] of table) {
    it(`${title} → ${expected ? "eligible" : "excluded"}`, () => {
      assert.strictEqual(ServicePlan.isEligible(node(fields)), expected)
    })
  }

  it("membershipFacts change with eligibility and providerID, not with a heartbeat", () => {
    const before = node({ name: "n1", providerID: "" })
    assert.strictEqual(
      ServicePlan.membershipFacts(node({ name: "n1", ready: false })),
      ServicePlan.membershipFacts(before)
    )
    assert.notStrictEqual(
      ServicePlan.membershipFacts(node({ name: "n1", providerID: "external-cloudstack://vm-1" })),
      ServicePlan.membershipFacts(before)
    )
    assert.notStrictEqual(
      ServicePlan.membershipFacts(node({ name: "n1", labels: { [EXCLUDE_LABEL]: "" } })),
      ServicePlan.membershipFacts(before)
    )
  })
})

describe("ServicePlan.backends", () => {
  const nodes = [
    node({ name: "n3", providerID: "external-cloudstack://vm-3" }),
    node({ name: "n1", providerID: "external-cloudstack://vm-1" }),
    node({ name: "n2", labels: { [EXCLUDE_LABEL]: "true" } }),
    node({ name: "n4" }),
    node({ name: "n5", deletionTimestamp: DELETED })
  ]
  it("Cluster: the eligible nodes, sorted by name, with their providerIDs", () => {
    assert.deepStrictEqual(ServicePlan.backends(svc(), nodes, []), [
      { name: "n1", providerID: "external-cloudstack://vm-1" },
      { name: "n3", providerID: "external-cloudstack://vm-3" },
      { name: "n4", providerID: "" }
    ])
  })
  it("Cluster: Services given the same node list share one answer; another list (even equal) is answered afresh", () => {
    const first = ServicePlan.backends(svc(), nodes, [])
    assert.strictEqual(ServicePlan.backends(svc({ name: "other" }), nodes, []), first)
    const copy = [...nodes]
    assert.notStrictEqual(ServicePlan.backends(svc(), copy, []), first)
    assert.deepStrictEqual(ServicePlan.backends(svc(), copy, []), first)
    // a Local Service's answer is its own
    const local = svc({ spec: { externalTrafficPolicy: "Local" } })
    assert.deepStrictEqual(ServicePlan.backends(local, nodes, []), [])
  })
  it("Cluster ignores EndpointSlices", () => {
    assert.strictEqual(ServicePlan.backends(svc(), nodes, [slice("web", [{ nodeName: "n1" }])]).length, 3)
  })
  it("Local: only eligible nodes with a ready endpoint of this Service", () => {
    const local = svc({ spec: { externalTrafficPolicy: "Local" } })
    const slices = [
      slice("web", [{ nodeName: "n3" }, { nodeName: "n4", ready: false }, { nodeName: "n2" }, {}]),
      slice("web", [{ nodeName: "n5", ready: true }]),
      slice("other", [{ nodeName: "n1" }]),
      slice("web", [{ nodeName: "n1" }], "elsewhere")
    ]
    assert.deepStrictEqual(ServicePlan.backends(local, nodes, slices).map((n) => n.name), ["n3"])
    assert.deepStrictEqual([...ServicePlan.nodesWithReadyEndpoints(local, slices)].sort(), ["n2", "n3", "n5"])
    assert.deepStrictEqual(ServicePlan.backends(local, nodes, []), [])
  })
  it("backendsKey: name → providerID, so only those changes count", () => {
    const key = ServicePlan.backendsKey([{ name: "n1", providerID: "p1" }, { name: "n2", providerID: "" }])
    assert.strictEqual(ServicePlan.backendsKey([{ name: "n1", providerID: "p1" }, { name: "n2", providerID: "" }]), key)
    assert.notStrictEqual(
      ServicePlan.backendsKey([{ name: "n1", providerID: "p1" }, { name: "n2", providerID: "p2" }]),
      key
    )
    assert.notStrictEqual(
      ServicePlan.backendsKey([{ name: "n1", providerID: "p1" }, { name: "n3", providerID: "" }]),
      key
    )
    assert.notStrictEqual(ServicePlan.backendsKey([{ name: "n1", providerID: "p1" }]), key)
  })
  it("backendsKey: the same small size whatever the number of Nodes (the controller keeps one per Service)", () => {
    const many = Array.from({ length: 5000 }, (_, i) => ({ name: `worker-${i}`, providerID: `cloudstack:///vm-${i}` }))
    assert.ok(ServicePlan.backendsKey(many).length <= 64)
    assert.strictEqual(ServicePlan.backendsKey(many), ServicePlan.backendsKey([...many]))
    assert.notStrictEqual(ServicePlan.backendsKey(many), ServicePlan.backendsKey(many.slice(1)))
  })
  it("backendsKey: a list the syncs share is read once, whatever the number of syncs keying it", () => {
    let reads = 0
    const nodes = Array.from({ length: 3 }, (_, i) => ({ name: `worker-${i}`, providerID: `cloudstack:///vm-${i}` }))
    const shared = new Proxy(nodes, {
      get: (target, property, receiver) => {
        if (property === "map") reads++
        return Reflect.get(target, property, receiver)
      }
    })
    const key = ServicePlan.backendsKey(shared)
    for (let sync = 0; sync < 5; sync++) assert.strictEqual(ServicePlan.backendsKey(shared), key)
    assert.strictEqual(reads, 1)
    assert.strictEqual(ServicePlan.backendsKey([...nodes]), key)
  })
})

describe("ServicePlan: the provider's view, status and claims", () => {
  it("toLbService maps the plain data", () => {
    const s = svc({
      annotations: { a: "b" },
      spec: {
        loadBalancerIP: "203.0.113.10",
        loadBalancerSourceRanges: ["10.0.0.0/8"],
        sessionAffinity: "ClientIP",
        ports: [{ port: 53, protocol: "UDP", nodePort: 30053 }]
      }
    })
    assert.deepStrictEqual(ServicePlan.toLbService(s), {
      namespace: "default",
      name: "web",
      uid: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      annotations: { a: "b" },
      ports: [{ name: "", protocol: "UDP", port: 53, nodePort: 30053 }],
      loadBalancerIP: "203.0.113.10",
      loadBalancerSourceRanges: ["10.0.0.0/8"],
      sessionAffinity: "ClientIP",
      ingress: []
    })
    const bare = ServicePlan.toLbService(svc({ spec: { loadBalancerIP: null, sessionAffinity: null } }))
    assert.strictEqual(bare.loadBalancerIP, undefined)
    assert.strictEqual(bare.sessionAffinity, undefined)
  })

  const fresh: ReadonlyArray<readonly [string, ServiceFields, boolean]> = [
    ["untouched", {}, true],
    ["foreign annotations and finalizers do not count", { annotations: { a: "b" }, finalizers: ["other"] }, true],
    ["our finalizer", { finalizers: [FINALIZER] }, false],
    ["a status", { ingress: [{ ip: "203.0.113.10" }] }, false],
    ["a recorded IP", { annotations: { [Annotations.IP_ID]: "ip-1" } }, false],
    ["an address being associated", { annotations: { [Annotations.IP_ALLOCATING]: "203.0.113.10" } }, false]
  ]
  for (const [title, fields, expected] of fresh) {
    it(`isFresh: ${title} → ${expected}`, () => {
      assert.strictEqual(ServicePlan.isFresh(svc(fields)), expected)
    })
  }

  const ingress: ReadonlyArray<readonly [string, Option.Option<string>, Option.Option<string>, boolean, unknown]> = [
    ["no address", Option.none(), Option.none(), false, []],
    ["an IP", Option.some("203.0.113.10"), Option.none(), false, [{ ip: "203.0.113.10", ipMode: "VIP" }]],
    ["an IP, PROXY protocol", Option.some("203.0.113.10"), Option.none(), true, [{
      ip: "203.0.113.10",
      ipMode: "Proxy"
    }]],
    ["the hostname wins", Option.some("203.0.113.10"), Option.some("lb.example.com"), true, [{
      hostname: "lb.example.com"
    }]],
    ["a hostname without an LB publishes nothing", Option.none(), Option.some("lb.example.com"), false, []]
  ]
  for (const [title, address, hostname, proxy, expected] of ingress) {
    it(`ingressOf: ${title}`, () => {
      assert.deepStrictEqual(ServicePlan.ingressOf(address, hostname, proxy), expected)
    })
  }

  it("sameIngress: order, ip and hostname count; ipMode only where the server keeps it", () => {
    const vip = [{ ip: "203.0.113.10", ipMode: "VIP" as const }]
    assert.isTrue(ServicePlan.sameIngress(vip, [{ ip: "203.0.113.10", ipMode: "VIP" }], true))
    assert.isFalse(ServicePlan.sameIngress(vip, [{ ip: "203.0.113.10", ipMode: "Proxy" }], true))
    assert.isTrue(ServicePlan.sameIngress(vip, [{ ip: "203.0.113.10", ipMode: "Proxy" }], false))
    assert.isTrue(ServicePlan.sameIngress(vip, [{ ip: "203.0.113.10" }], false))
    assert.isFalse(ServicePlan.sameIngress(vip, [{ ip: "203.0.113.10" }], true))
    assert.isFalse(ServicePlan.sameIngress(vip, [{ ip: "203.0.113.11", ipMode: "VIP" }], true))
    assert.isFalse(ServicePlan.sameIngress(vip, [], false))
    assert.isFalse(ServicePlan.sameIngress(vip, [...vip, ...vip], false))
    assert.isFalse(ServicePlan.sameIngress([{ ip: "a" }, { ip: "b" }], [{ ip: "b" }, { ip: "a" }], false))
    assert.isTrue(ServicePlan.sameIngress([{ hostname: "x" }], [{ hostname: "x" }], true))
    assert.isFalse(ServicePlan.sameIngress([{ hostname: "x" }], [{ ip: "x" }], false))
    assert.isTrue(ServicePlan.sameIngress([], [], true))
  })

  it("claimsOf: requested addresses of the other Services (never picked)", () => {
    const services = [
      svc({ name: "self", spec: { type: "LoadBalancer", loadBalancerIP: "203.0.113.9" } }),
      svc({ name: "a", spec: { type: "LoadBalancer", loadBalancerIP: "203.0.113.7" } }),
      svc({ name: "b", annotations: { [Annotations.ADDRESS]: "203.0.113.8" } })
    ]
    const claims = ServicePlan.claimsOf(services, "default/self")
    assert.deepStrictEqual([...claims.requested].sort(), ["203.0.113.7", "203.0.113.8"])
    assert.deepStrictEqual([...claims.recorded], [])
  })

  // Shared pools so that Services claim the same ids and addresses, and keys repeat (namespace/name).
  const CLAIMED = ["ip-1", "ip-2", "203.0.113.1", "203.0.113.2", "203.0.113.3", ""] as const
  const claimant = fc.record({
    name: fc.constantFrom("a", "b", "c", "d"),
    namespace: fc.constantFrom("default", "team"),
    ipId: fc.option(fc.constantFrom(...CLAIMED), { nil: undefined }),
    allocating: fc.option(fc.constantFrom(...CLAIMED), { nil: undefined }),
    address: fc.option(fc.constantFrom(...CLAIMED), { nil: undefined }),
    loadBalancerIP: fc.option(fc.constantFrom(...CLAIMED), { nil: undefined }),
    ingress: fc.array(
      fc.oneof(fc.record({ ip: fc.constantFrom(...CLAIMED) }), fc.constant({ hostname: "lb.example" })),
      {
        maxLength: 2
      }
    )
  }).map((c) =>
    svc({
      name: c.name,
      namespace: c.namespace,
      annotations: Object.fromEntries(
        [[Annotations.IP_ID, c.ipId], [Annotations.IP_ALLOCATING, c.allocating], [Annotations.ADDRESS, c.address]]
          .filter((e): e is [string, string] => e[1] !== undefined)
      ),
      spec: { type: "LoadBalancer", ...(c.loadBalancerIP === undefined ? {} : { loadBalancerIP: c.loadBalancerIP }) },
      ingress: c.ingress
    })
  )

  it.prop(
    "claimIndex answers what claimsOf answers, for every Service, value and kind (Services sharing IPs)",
    [fc.array(claimant, { maxLength: 12 })],
    ([services]) => {
      const index = ServicePlan.claimIndex(services)
      const selves = [...services.map(ServicePlan.serviceKey), "default/gone", ""]
      for (const self of selves) {
        const claims = ServicePlan.claimsOf(services, self)
        for (const kind of ["recorded", "associating", "requested"] as const) {
          for (const value of [...CLAIMED, "lb.example", "ip-unclaimed"]) {
            assert.strictEqual(
              index.claimedElsewhere(kind, value, self),
              claims[kind].has(value),
              `${kind} ${value} for ${self}`
            )
          }
        }
      }
    }
  )

  it("lastClaimIndex builds the index once per list array", () => {
    const memo = ServicePlan.lastClaimIndex()
    const first = [svc({ name: "a", annotations: { [Annotations.IP_ID]: "ip-a" } })]
    const index = memo(first)
    assert.strictEqual(memo(first), index)
    assert.isTrue(index.claimedElsewhere("recorded", "ip-a", "default/b"))
    const second = [svc({ name: "a", annotations: { [Annotations.IP_ID]: "ip-b" } })]
    const rebuilt = memo(second)
    assert.notStrictEqual(rebuilt, index)
    assert.isFalse(rebuilt.claimedElsewhere("recorded", "ip-a", "default/b"))
    assert.isTrue(rebuilt.claimedElsewhere("recorded", "ip-b", "default/b"))
  })

  it("claimsOf: ids, addresses being associated and ingress IPs of the other Services", () => {
    const services = [
      svc({ name: "self", annotations: { [Annotations.IP_ID]: "ip-self" }, ingress: [{ ip: "203.0.113.1" }] }),
      svc({ name: "a", annotations: { [Annotations.IP_ID]: "ip-a", [Annotations.IP_ALLOCATING]: "203.0.113.2" } }),
      svc({ name: "b", ingress: [{ ip: "203.0.113.3" }, { hostname: "lb.example.com" }] }),
      svc({ name: "c", annotations: { [Annotations.IP_ID]: "" } }),
      // same name, other namespace: not self
      svc({ name: "self", namespace: "other", annotations: { [Annotations.IP_ID]: "ip-other" } })
    ]
    const claims = ServicePlan.claimsOf(services, "default/self")
    assert.deepStrictEqual([...claims.recorded].sort(), ["203.0.113.2", "203.0.113.3", "ip-a", "ip-other"])
    assert.deepStrictEqual([...claims.requested], [])
    assert.deepStrictEqual([...claims.associating], ["203.0.113.2"], "only an address being associated")
  })
})
