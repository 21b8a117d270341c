import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc, Option, Schema } from "effect"
import * as AnnotationReference from "../../../src/provider/loadbalancer/AnnotationReference.js"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"

const {
  ADDRESS,
  ALGORITHM,
  HEALTH_CHECK,
  HEALTH_CHECK_HEALTHY,
  HEALTH_CHECK_INTERVAL,
  HEALTH_CHECK_PATH,
  HEALTH_CHECK_TIMEOUT,
  HEALTH_CHECK_UNHEALTHY,
  HOSTNAME,
  IP_ALLOCATING,
  IP_ASSOCIATED,
  IP_ID,
  KEEP_IP,
  NETWORK_ID,
  PROXY_PROTOCOL,
  SOURCE_CIDRS,
  SOURCE_RANGES,
  STICKY_APPLIED,
  STICKY_METHOD,
  STICKY_PARAMS,
  STICKYNESS_METHOD,
  STICKYNESS_PARAM
} = Annotations

const decoded = (annotations: Record<string, string>) => Either.getOrThrow(Annotations.decode(annotations))
const errorsOf = (annotations: Record<string, string>) =>
  Either.match(Annotations.decode(annotations), { onLeft: (errors) => errors, onRight: () => [] })

describe("Annotations.catalogue", () => {
  it("holds every key once, all under service.beta.kubernetes.io/", () => {
    const keys = Annotations.catalogue.map((a) => a.key)
    assert.strictEqual(new Set(keys).size, keys.length)
    assert.deepStrictEqual(
      [...keys].sort(),
      [
        ADDRESS,
        ALGORITHM,
        HOSTNAME,
        IP_ALLOCATING,
        IP_ASSOCIATED,
        IP_ID,
        KEEP_IP,
        NETWORK_ID,
        PROXY_PROTOCOL,
        SOURCE_CIDRS,
        SOURCE_RANGES,
        STICKY_METHOD,
        STICKY_PARAMS,
        STICKY_APPLIED,
        HEALTH_CHECK,
        HEALTH_CHECK_PATH,
        HEALTH_CHECK_INTERVAL,
        HEALTH_CHECK_TIMEOUT,
        HEALTH_CHECK_HEALTHY,
        HEALTH_CHECK_UNHEALTHY
      ].sort()
    )
    for (const key of keys) assert.match(key, /^service\.beta\.kubernetes\.io\/[a-z-]+$/)
  })
  it("the upstream and fork keys are spelt as the Go CCM and the fork spell them", () => {
    assert.strictEqual(PROXY_PROTOCOL, "service.beta.kubernetes.io/cloudstack-load-balancer-proxy-protocol")
    assert.strictEqual(HOSTNAME, "service.beta.kubernetes.io/cloudstack-load-balancer-hostname")
    assert.strictEqual(SOURCE_CIDRS, "service.beta.kubernetes.io/cloudstack-load-balancer-source-cidrs")
    assert.strictEqual(ADDRESS, "service.beta.kubernetes.io/cloudstack-load-balancer-address")
    assert.strictEqual(KEEP_IP, "service.beta.kubernetes.io/cloudstack-load-balancer-keep-ip")
    assert.strictEqual(IP_ID, "service.beta.kubernetes.io/cloudstack-load-balancer-id")
    assert.strictEqual(IP_ASSOCIATED, "service.beta.kubernetes.io/cloudstack-load-balancer-ip-associated-by-controller")
    assert.strictEqual(SOURCE_RANGES, "service.beta.kubernetes.io/load-balancer-source-ranges")
    // the unmerged Go CCM PR #88's spelling, read as an alias
    assert.strictEqual(STICKYNESS_METHOD, "service.beta.kubernetes.io/cloudstack-load-balancer-stickyness-method-name")
    assert.strictEqual(STICKYNESS_PARAM, "service.beta.kubernetes.io/cloudstack-load-balancer-stickyness-method-param")
  })
  it("the controller's own keys are exactly the managed ones", () => {
    assert.deepStrictEqual(
      [...Annotations.managedKeys].sort(),
      [IP_ALLOCATING, IP_ASSOCIATED, IP_ID, STICKY_APPLIED].sort()
    )
  })
  it("renderTable: a header, then one row per entry in catalogue order, managed ones marked", () => {
    const lines = AnnotationReference.renderTable().split("\n")
    assert.strictEqual(lines.length, Annotations.catalogue.length + 2)
    assert.strictEqual(lines[0], "| annotation | type | default | origin | meaning |")
    Annotations.catalogue.forEach((a, i) => {
      const row = lines[i + 2] ?? ""
      assert.isTrue(row.startsWith(`| \`${a.key}\` | ${a.type} | ${a.default} | ${a.origin}`), row)
      assert.strictEqual(row.includes("(written by the CCM)"), a.managed)
      // a cell with a bare "|" would break the table
      assert.strictEqual(row.split(" | ").length, 5, row)
    })
  })
})

describe("Annotations.decode: each value", () => {
  it("nothing set: the defaults", () => {
    assert.deepStrictEqual(decoded({}), {
      address: Option.none(),
      proxyProtocol: false,
      algorithm: Option.none(),
      sourceCidrs: Option.none(),
      sourceRanges: Option.none(),
      hostname: Option.none(),
      keepIp: false,
      networkId: Option.none(),
      sticky: Option.none(),
      healthCheck: {
        enabled: Option.none(),
        path: Option.none(),
        interval: Option.none(),
        timeout: Option.none(),
        healthy: Option.none(),
        unhealthy: Option.none()
      }
    })
  })

  type Field = keyof Annotations.LbAnnotations
  const valid: ReadonlyArray<readonly [string, string, Field, unknown]> = [
    [ADDRESS, "203.0.113.10", "address", Option.some("203.0.113.10")],
    [ADDRESS, " 203.0.113.10 ", "address", Option.some("203.0.113.10")],
    [ADDRESS, "2001:db8::10", "address", Option.some("2001:db8::10")],
    [PROXY_PROTOCOL, "true", "proxyProtocol", true],
    [PROXY_PROTOCOL, "false", "proxyProtocol", false],
    [PROXY_PROTOCOL, " true\n", "proxyProtocol", true],
    [KEEP_IP, "true", "keepIp", true],
    [KEEP_IP, "false", "keepIp", false],
    [ALGORITHM, "roundrobin", "algorithm", Option.some("roundrobin")],
    [ALGORITHM, "leastconn", "algorithm", Option.some("leastconn")],
    [ALGORITHM, "source", "algorithm", Option.some("source")],
    [SOURCE_CIDRS, "10.0.0.0/8", "sourceCidrs", Option.some(["10.0.0.0/8"])],
    [
      SOURCE_CIDRS,
      "10.0.0.0/8, 192.0.2.7 ,2001:db8::/32",
      "sourceCidrs",
      Option.some(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
    ],
    [SOURCE_CIDRS, "10.0.0.0/8,,", "sourceCidrs", Option.some(["10.0.0.0/8"])],
    [SOURCE_RANGES, "192.0.2.0/24,198.51.100.7", "sourceRanges", Option.some(["192.0.2.0/24", "198.51.100.7"])],
    [SOURCE_RANGES, "0.0.0.0/0", "sourceRanges", Option.some(["0.0.0.0/0"])],
    // a bare address is one host, as CloudStack reads it
    [SOURCE_RANGES, "0.0.0.0", "sourceRanges", Option.some(["0.0.0.0"])],
    [HOSTNAME, "lb.example.com", "hostname", Option.some("lb.example.com")],
    [HOSTNAME, "a", "hostname", Option.some("a")],
    [HOSTNAME, "xn--bcher-kva.example", "hostname", Option.some("xn--bcher-kva.example")],
    [HOSTNAME, `${"a".repeat(63)}.example.com`, "hostname", Option.some(`${"a".repeat(63)}.example.com`)],
    [
      NETWORK_ID,
      "5b7c1e2a-0d3f-4e5a-9b8c-7d6e5f4a3b2c",
      "networkId",
      Option.some("5b7c1e2a-0d3f-4e5a-9b8c-7d6e5f4a3b2c")
    ],
    [
      NETWORK_ID,
      "5B7C1E2A-0D3F-4E5A-9B8C-7D6E5F4A3B2C",
      "networkId",
      Option.some("5B7C1E2A-0D3F-4E5A-9B8C-7D6E5F4A3B2C")
    ]
  ]
  for (const [key, value, field, expected] of valid) {
    it(`${key.slice(27)}: ${JSON.stringify(value)} → ${field}`, () => {
      assert.deepStrictEqual(decoded({ [key]: value })[field], expected)
    })
  }

  const invalid: ReadonlyArray<readonly [string, string]> = [
    [ADDRESS, ""],
    [ADDRESS, "203.0.113"],
    [ADDRESS, "203.0.113.10/32"],
    [ADDRESS, "lb.example.com"],
    // the Go CCM reads anything but "true"/"false" as the default; here it is the user's to fix
    [PROXY_PROTOCOL, "True"],
    [PROXY_PROTOCOL, "1"],
    [PROXY_PROTOCOL, "yes"],
    [PROXY_PROTOCOL, "enabled"],
    [PROXY_PROTOCOL, ""],
    [KEEP_IP, "TRUE"],
    [KEEP_IP, "on"],
    [ALGORITHM, "RoundRobin"],
    [ALGORITHM, "round-robin"],
    [ALGORITHM, "least_conn"],
    [ALGORITHM, ""],
    [SOURCE_CIDRS, ""],
    [SOURCE_CIDRS, " , ,"],
    [SOURCE_CIDRS, "10.0.0.0/33"],
    [SOURCE_CIDRS, "10.0.0.0/8;192.0.2.0/24"],
    [SOURCE_CIDRS, "10.0.0.0/8, any"],
    [SOURCE_RANGES, ""],
    [SOURCE_RANGES, "10.0.0.0/8 192.0.2.0/24"],
    [SOURCE_RANGES, "fe80::1%eth0/64"],
    [HOSTNAME, ""],
    [HOSTNAME, "-lb.example.com"],
    [HOSTNAME, "lb-.example.com"],
    [HOSTNAME, "lb..example.com"],
    [HOSTNAME, ".example.com"],
    [HOSTNAME, "lb_1.example.com"],
    [HOSTNAME, "*.example.com"],
    [HOSTNAME, "https://lb.example.com"],
    [HOSTNAME, `${"a".repeat(64)}.example.com`],
    [HOSTNAME, Array.from({ length: 64 }, () => "abc").join(".")],
    // the status subresource refuses what is not a lowercase DNS-1123 subdomain, and IP addresses
    // (checked against kube-apiserver v1.20: "a lowercase RFC 1123 subdomain must consist of…",
    // "must be a DNS name, not an IP address")
    [HOSTNAME, "LB.Example.com"],
    [HOSTNAME, "lb.example.com."],
    [HOSTNAME, "203.0.113.10"],
    [HOSTNAME, "2001:db8::1"],
    [NETWORK_ID, "net-1"],
    [NETWORK_ID, "5b7c1e2a0d3f4e5a9b8c7d6e5f4a3b2c"],
    [NETWORK_ID, "5b7c1e2a-0d3f-4e5a-9b8c-7d6e5f4a3b2"],
    [NETWORK_ID, "{5b7c1e2a-0d3f-4e5a-9b8c-7d6e5f4a3b2c}"]
  ]
  for (const [key, value] of invalid) {
    it(`${key.slice(27)}: ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} is invalid`, () => {
      const errors = errorsOf({ [key]: value })
      assert.strictEqual(errors.length, 1)
      assert.strictEqual(errors[0]?.key, key)
      assert.strictEqual(errors[0]?.value, value)
      assert.strictEqual(errors[0]?._tag, "InvalidAnnotationError")
    })
  }
})

describe("Annotations.decode: the whole set", () => {
  it("every invalid value is reported at once, in catalogue-decoding order, with the raw value", () => {
    const errors = errorsOf({
      [NETWORK_ID]: "net-1",
      [KEEP_IP]: "yes",
      [HOSTNAME]: "not a host",
      [SOURCE_RANGES]: "everyone",
      [SOURCE_CIDRS]: "10.0.0.0/33",
      [ALGORITHM]: "random",
      [PROXY_PROTOCOL]: " enabled ",
      [ADDRESS]: "nowhere",
      [IP_ID]: "not checked",
      "example.com/other": "ignored"
    })
    assert.deepStrictEqual(errors.map((e) => e.key), [
      ADDRESS,
      PROXY_PROTOCOL,
      ALGORITHM,
      SOURCE_CIDRS,
      SOURCE_RANGES,
      HOSTNAME,
      KEEP_IP,
      NETWORK_ID
    ])
    assert.strictEqual(errors[1]?.value, " enabled ")
    assert.strictEqual(errors[1]?.expected, "\"true\" or \"false\"")
  })
  it("one bad value fails the whole decode even when the others are valid", () => {
    assert.deepStrictEqual(errorsOf({ [ALGORITHM]: "source", [KEEP_IP]: "true", [ADDRESS]: "x" }).map((e) => e.key), [
      ADDRESS
    ])
  })
  it("the controller's own keys and foreign keys are never decoded", () => {
    assert.isTrue(
      Either.isRight(Annotations.decode({ [IP_ID]: "", [IP_ASSOCIATED]: "maybe", [IP_ALLOCATING]: "x", "a/b": "c" }))
    )
  })
  it("the error message names the key, quotes at most 200 characters of the value and says what is expected", () => {
    const [error] = errorsOf({ [SOURCE_RANGES]: "x".repeat(500) })
    assert.isDefined(error)
    assert.include(error?.message ?? "", SOURCE_RANGES)
    assert.include(error?.message ?? "", `"${"x".repeat(200)}"`)
    assert.notInclude(error?.message ?? "", "x".repeat(201))
    assert.include(error?.message ?? "", "(expected comma-separated CIDRs)")
  })
})

// ---- decode(render(x)) = x ---------------------------------------------------------------------

/** The annotations that say `a` (what a user writes; None and false may also be left out). */
const render = (a: Annotations.LbAnnotations, style: { readonly spaces: boolean; readonly explicitFalse: boolean }) => {
  const out: Record<string, string> = {}
  const list = (xs: ReadonlyArray<string>) => xs.join(style.spaces ? " , " : ",")
  if (Option.isSome(a.address)) out[ADDRESS] = a.address.value
  if (a.proxyProtocol || style.explicitFalse) out[PROXY_PROTOCOL] = String(a.proxyProtocol)
  if (Option.isSome(a.algorithm)) out[ALGORITHM] = a.algorithm.value
  if (Option.isSome(a.sourceCidrs)) out[SOURCE_CIDRS] = list(a.sourceCidrs.value)
  if (Option.isSome(a.sourceRanges)) out[SOURCE_RANGES] = list(a.sourceRanges.value)
  if (Option.isSome(a.hostname)) out[HOSTNAME] = style.spaces ? ` ${a.hostname.value}\n` : a.hostname.value
  if (a.keepIp || style.explicitFalse) out[KEEP_IP] = String(a.keepIp)
  if (Option.isSome(a.networkId)) out[NETWORK_ID] = a.networkId.value
  if (Option.isSome(a.sticky)) {
    out[style.spaces ? Annotations.STICKYNESS_METHOD : Annotations.STICKY_METHOD] = a.sticky.value.method
    const params = Object.entries(a.sticky.value.params).map(([k, v]) => (v === "" ? k : `${k}=${v}`)).join(",")
    if (params !== "") out[style.spaces ? Annotations.STICKYNESS_PARAM : Annotations.STICKY_PARAMS] = params
  }
  const hc = a.healthCheck
  if (Option.isSome(hc.enabled)) out[Annotations.HEALTH_CHECK] = String(hc.enabled.value)
  if (Option.isSome(hc.path)) out[Annotations.HEALTH_CHECK_PATH] = hc.path.value
  if (Option.isSome(hc.interval)) out[Annotations.HEALTH_CHECK_INTERVAL] = String(hc.interval.value)
  if (Option.isSome(hc.timeout)) out[Annotations.HEALTH_CHECK_TIMEOUT] = String(hc.timeout.value)
  if (Option.isSome(hc.healthy)) out[Annotations.HEALTH_CHECK_HEALTHY] = String(hc.healthy.value)
  if (Option.isSome(hc.unhealthy)) out[Annotations.HEALTH_CHECK_UNHEALTHY] = String(hc.unhealthy.value)
  return out
}

const cidr = fc.oneof(
  fc.ipV4(),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, n]) => `${ip}/${n}`),
  fc.ipV6(),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([ip, n]) => `${ip}/${n}`)
)
const cidrs = fc.array(cidr, { minLength: 1, maxLength: 4 })
const option = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined }).map(Option.fromNullable)
const lbAnnotations: fc.Arbitrary<Annotations.LbAnnotations> = fc.record({
  address: option(fc.oneof(fc.ipV4(), fc.ipV6())),
  proxyProtocol: fc.boolean(),
  algorithm: option(fc.constantFrom("roundrobin" as const, "leastconn" as const, "source" as const)),
  sourceCidrs: option(cidrs),
  sourceRanges: option(cidrs),
  hostname: option(fc.domain()),
  keepIp: fc.boolean(),
  networkId: option(fc.uuid()),
  sticky: option(fc.record({
    method: fc.constantFrom(...Annotations.STICKY_METHODS),
    params: fc.dictionary(
      fc.stringMatching(/^[a-z][-a-z0-9]{0,8}$/),
      fc.oneof(fc.constant(""), fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/)),
      { maxKeys: 3 }
    )
  })),
  healthCheck: fc.record({
    enabled: option(fc.boolean()),
    path: option(fc.stringMatching(/^\/[a-z0-9/_-]{0,12}$/)),
    interval: option(fc.integer({ min: 1, max: 600 })),
    timeout: option(fc.integer({ min: 1, max: 600 })),
    healthy: option(fc.integer({ min: 1, max: 100 })),
    unhealthy: option(fc.integer({ min: 1, max: 100 }))
  })
})

describe("Annotations properties", () => {
  it.prop(
    "decode(render(x)) = x for every valid set, however it is spelt",
    [lbAnnotations, fc.boolean(), fc.boolean()],
    ([a, spaces, explicitFalse]) => {
      assert.deepStrictEqual(Annotations.decode(render(a, { spaces, explicitFalse })), Either.right(a))
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop("CidrListFromString: decode then encode gives the trimmed list back", [cidrs], ([list]) => {
    const text = ` ${list.join(" ,")} ,`
    const decodedList = Schema.decodeSync(Annotations.CidrListFromString)(text)
    assert.deepStrictEqual(decodedList, list)
    assert.strictEqual(Schema.encodeSync(Annotations.CidrListFromString)(decodedList), list.join(","))
  })

  const userKeys = Annotations.catalogue.filter((a) => !a.managed).map((a) => a.key)
  it.prop("decode is total: an error for each bad user key present, never for anything else", [
    fc.dictionary(
      fc.constantFrom(...Annotations.catalogue.map((a) => a.key), "example.com/x"),
      fc.oneof(fc.string(), fc.constantFrom("true", "false", "source", "10.0.0.0/8"))
    )
  ], ([annotations]) => {
    const result = Annotations.decode(annotations)
    if (Either.isLeft(result)) {
      const keys = result.left.map((e) => e.key)
      assert.strictEqual(new Set(keys).size, keys.length)
      for (const e of result.left) {
        assert.include(userKeys, e.key)
        assert.strictEqual(annotations[e.key], e.value)
      }
    }
  }, { fastCheck: { numRuns: 200 } })
})
