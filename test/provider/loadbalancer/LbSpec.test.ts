import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc, Option } from "effect"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import { ALL_SOURCES, fromService, type LbService, type LbSpec } from "../../../src/provider/loadbalancer/LbSpec.js"

const UID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
const NAME = "a3f2504e04f8911d39a0c0305e82c330"

type Port = LbService["ports"][number]
const tcp = (port: number, nodePort: number): Port => ({ name: `p${port}`, protocol: "TCP", port, nodePort })
const udp = (port: number, nodePort: number): Port => ({ name: `u${port}`, protocol: "UDP", port, nodePort })
const sctp = (port: number, nodePort: number): Port => ({ name: `s${port}`, protocol: "SCTP", port, nodePort })

const service = (overrides: Partial<LbService> = {}): LbService => ({
  namespace: "default",
  name: "web",
  uid: UID,
  annotations: {},
  ports: [tcp(80, 30080)],
  loadBalancerIP: undefined,
  loadBalancerSourceRanges: [],
  sessionAffinity: undefined,
  ...overrides
})

const specOf = (overrides: Partial<LbService> = {}): LbSpec => Either.getOrThrow(fromService(service(overrides)))
/** `name protocol/ip public>private` per port, for compact tables. */
const portsOf = (spec: LbSpec) =>
  spec.ports.map((p) =>
    `${p.name.slice(NAME.length + 1)} ${p.protocol}/${p.ipProtocol} ${p.publicPort}>${p.privatePort}`
  )

describe("LbSpec.fromService: ports", () => {
  const table: ReadonlyArray<{
    readonly title: string
    readonly ports: ReadonlyArray<Port>
    readonly proxy?: boolean
    readonly expected: ReadonlyArray<string>
    readonly warnings: ReadonlyArray<string>
  }> = [
    { title: "one TCP port", ports: [tcp(80, 30080)], expected: ["tcp-80 tcp/tcp 80>30080"], warnings: [] },
    {
      title: "TCP and UDP, in the Service's order",
      ports: [udp(53, 30053), tcp(80, 30080)],
      expected: ["udp-53 udp/udp 53>30053", "tcp-80 tcp/tcp 80>30080"],
      warnings: []
    },
    {
      title: "PROXY protocol: TCP ports become tcp-proxy (firewall protocol tcp), UDP stays",
      ports: [tcp(443, 30443), udp(53, 30053)],
      proxy: true,
      expected: ["tcp-proxy-443 tcp-proxy/tcp 443>30443", "udp-53 udp/udp 53>30053"],
      warnings: []
    },
    {
      title: "SCTP is a warning",
      ports: [sctp(9, 30009), tcp(80, 30080)],
      expected: ["tcp-80 tcp/tcp 80>30080"],
      warnings: ["UnsupportedProtocol"]
    },
    {
      title: "no nodePort (allocateLoadBalancerNodePorts: false) is a warning",
      ports: [tcp(80, 0), tcp(81, 30081)],
      expected: ["tcp-81 tcp/tcp 81>30081"],
      warnings: ["NoNodePort"]
    },
    {
      title: "TCP and UDP on one port: the first is kept",
      ports: [tcp(80, 30080), udp(80, 30081)],
      expected: ["tcp-80 tcp/tcp 80>30080"],
      warnings: ["PortConflict"]
    },
    {
      title: "UDP first: UDP is kept",
      ports: [udp(80, 30081), tcp(80, 30080)],
      expected: ["udp-80 udp/udp 80>30081"],
      warnings: ["PortConflict"]
    },
    {
      title: "a skipped SCTP port takes no public port",
      ports: [sctp(80, 30009), tcp(80, 30080)],
      expected: ["tcp-80 tcp/tcp 80>30080"],
      warnings: ["UnsupportedProtocol"]
    },
    {
      title: "a port without nodePort takes no public port",
      ports: [tcp(80, 0), udp(80, 30081)],
      expected: ["udp-80 udp/udp 80>30081"],
      warnings: ["NoNodePort"]
    },
    {
      title: "two ports may share a nodePort",
      ports: [tcp(80, 30080), tcp(8080, 30080)],
      expected: ["tcp-80 tcp/tcp 80>30080", "tcp-8080 tcp/tcp 8080>30080"],
      warnings: []
    },
    { title: "no ports", ports: [], expected: [], warnings: [] },
    {
      title: "only unusable ports",
      ports: [sctp(1, 30001), tcp(2, 0)],
      expected: [],
      warnings: ["UnsupportedProtocol", "NoNodePort"]
    }
  ]
  for (const row of table) {
    it(row.title, () => {
      const spec = specOf({
        ports: row.ports,
        annotations: row.proxy === true ? { [Annotations.PROXY_PROTOCOL]: "true" } : {}
      })
      assert.deepStrictEqual(portsOf(spec), row.expected)
      assert.deepStrictEqual(spec.warnings.map((w) => w.reason), row.warnings)
      for (const p of spec.ports) assert.strictEqual(p.name, `${NAME}-${p.protocol}-${p.publicPort}`)
    })
  }

  it("warnings name the port and why", () => {
    const spec = specOf({ ports: [tcp(80, 30080), udp(80, 30081), sctp(9, 30009), tcp(81, 0)] })
    assert.deepStrictEqual(spec.warnings.map((w) => w.message), [
      "port UDP/80: CloudStack cannot balance two protocols on one public port; TCP/80 is kept",
      "port SCTP/9: CloudStack load balancers do not support SCTP",
      "port TCP/81 has no nodePort (allocateLoadBalancerNodePorts: false?): CloudStack forwards to node ports"
    ])
  })
})

describe("LbSpec.fromService: IP, sources, algorithm and flags", () => {
  const requested: ReadonlyArray<readonly [string, Partial<LbService>, Option.Option<string>]> = [
    ["neither", {}, Option.none()],
    ["spec.loadBalancerIP", { loadBalancerIP: "203.0.113.10" }, Option.some("203.0.113.10")],
    ["spec.loadBalancerIP, trimmed", { loadBalancerIP: " 203.0.113.10 " }, Option.some("203.0.113.10")],
    ["an empty spec.loadBalancerIP", { loadBalancerIP: "" }, Option.none()],
    ["a blank spec.loadBalancerIP", { loadBalancerIP: "  " }, Option.none()],
    ["the address annotation", { annotations: { [Annotations.ADDRESS]: "203.0.113.20" } }, Option.some("203.0.113.20")],
    ["the address annotation wins over spec.loadBalancerIP", {
      loadBalancerIP: "203.0.113.10",
      annotations: { [Annotations.ADDRESS]: "203.0.113.20" }
    }, Option.some("203.0.113.20")]
  ]
  for (const [title, overrides, expected] of requested) {
    it(`requested IP: ${title}`, () => {
      assert.deepStrictEqual(specOf(overrides).requestedIp, expected)
    })
  }

  const ranges: ReadonlyArray<readonly [string, Partial<LbService>, ReadonlyArray<string>]> = [
    ["nothing: every source", {}, ALL_SOURCES],
    ["the annotation", { annotations: { [Annotations.SOURCE_RANGES]: "192.0.2.0/24, 198.51.100.7" } }, [
      "192.0.2.0/24",
      "198.51.100.7"
    ]],
    ["the spec", { loadBalancerSourceRanges: ["10.0.0.0/8"] }, ["10.0.0.0/8"]],
    ["the spec wins over the annotation", {
      loadBalancerSourceRanges: ["10.0.0.0/8"],
      annotations: { [Annotations.SOURCE_RANGES]: "192.0.2.0/24" }
    }, ["10.0.0.0/8"]]
  ]
  for (const [title, overrides, expected] of ranges) {
    it(`source ranges: ${title}`, () => {
      assert.deepStrictEqual(specOf(overrides).sourceRanges, expected)
    })
  }
  it("ALL_SOURCES is IPv4's everyone", () => {
    assert.deepStrictEqual(ALL_SOURCES, ["0.0.0.0/0"])
  })

  const algorithms: ReadonlyArray<readonly [LbService["sessionAffinity"], string | undefined, string]> = [
    [undefined, undefined, "roundrobin"],
    ["None", undefined, "roundrobin"],
    ["ClientIP", undefined, "source"],
    ["None", "leastconn", "leastconn"],
    ["ClientIP", "roundrobin", "roundrobin"],
    ["ClientIP", "leastconn", "leastconn"],
    [undefined, "source", "source"]
  ]
  for (const [affinity, annotation, expected] of algorithms) {
    it(`algorithm: sessionAffinity ${affinity ?? "unset"}, annotation ${annotation ?? "unset"} → ${expected}`, () => {
      const spec = specOf({
        sessionAffinity: affinity,
        annotations: annotation === undefined ? {} : { [Annotations.ALGORITHM]: annotation }
      })
      assert.strictEqual(spec.algorithm, expected)
    })
  }

  it("flags and the rest come from the annotations; lbName from the UID", () => {
    const spec = specOf({
      annotations: {
        [Annotations.SOURCE_CIDRS]: "10.0.0.0/8",
        [Annotations.KEEP_IP]: "true",
        [Annotations.PROXY_PROTOCOL]: "true",
        [Annotations.HOSTNAME]: "lb.example.com",
        [Annotations.NETWORK_ID]: "5b7c1e2a-0d3f-4e5a-9b8c-7d6e5f4a3b2c"
      }
    })
    assert.strictEqual(spec.lbName, NAME)
    assert.deepStrictEqual(spec.ruleCidrs, Option.some(["10.0.0.0/8"]))
    assert.isTrue(spec.keepIp)
    assert.isTrue(spec.proxyProtocol)
    assert.deepStrictEqual(spec.hostname, Option.some("lb.example.com"))
    assert.deepStrictEqual(spec.networkId, Option.some("5b7c1e2a-0d3f-4e5a-9b8c-7d6e5f4a3b2c"))
    const plain = specOf()
    assert.deepStrictEqual([plain.ruleCidrs, plain.hostname, plain.networkId], [
      Option.none(),
      Option.none(),
      Option.none()
    ])
    assert.deepStrictEqual([plain.keepIp, plain.proxyProtocol], [false, false])
  })

  it("every invalid annotation comes back, and no spec", () => {
    const result = fromService(
      service({ annotations: { [Annotations.ALGORITHM]: "fast", [Annotations.KEEP_IP]: "yes" } })
    )
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) {
      assert.deepStrictEqual(result.left.map((e) => e.key), [Annotations.ALGORITHM, Annotations.KEEP_IP])
    }
  })
})

describe("LbSpec properties", () => {
  const port = fc.record({
    name: fc.constant("p"),
    protocol: fc.constantFrom("TCP" as const, "UDP" as const, "SCTP" as const),
    port: fc.integer({ min: 1, max: 6 }),
    nodePort: fc.constantFrom(0, 30001, 30002)
  })
  it.prop("each Service port gets a rule or a warning; public ports are distinct; privatePort = nodePort", [
    fc.array(port, { maxLength: 8 }),
    fc.boolean()
  ], ([ports, proxy]) => {
    const spec = specOf({ ports, annotations: proxy ? { [Annotations.PROXY_PROTOCOL]: "true" } : {} })
    assert.strictEqual(spec.ports.length + spec.warnings.length, ports.length)
    assert.strictEqual(new Set(spec.ports.map((p) => p.publicPort)).size, spec.ports.length)
    for (const p of spec.ports) {
      const source = ports.find((s) => s.port === p.publicPort && s.protocol !== "SCTP" && s.nodePort > 0)
      assert.isDefined(source)
      assert.strictEqual(p.privatePort, source?.nodePort)
      assert.strictEqual(p.ipProtocol, source?.protocol === "UDP" ? "udp" : "tcp")
      assert.strictEqual(p.protocol, source?.protocol === "UDP" ? "udp" : proxy ? "tcp-proxy" : "tcp")
    }
  })
})
