/**
 * The preflight's pure parts: naming the credential behind a 401 (clock, secret, either), the
 * network findings (default_deny, no Lb, a provider with everything), proxy detection, and the
 * report's verdict and renderings.
 */
import { assert, describe, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import { Network } from "../../src/cloudstack/commands/Networks.js"
import { check } from "../../src/preflight/Check.js"
import { atLeast } from "../../src/preflight/CloudChecks.js"
import { diagnose401 } from "../../src/preflight/Credentials.js"
import { noProxy, proxyFor } from "../../src/preflight/Endpoint.js"
import { analyse } from "../../src/preflight/Networks.js"
import { passed, type PreflightReport, renderText, summary, toJson } from "../../src/preflight/Report.js"

const none = { noExpiryStatus: Option.none(), keyProbeStatus: Option.none(), serverAheadMillis: Option.none() }

describe("diagnose401", () => {
  it("the server's clock ahead by more than the signature's 10 minutes: the clock", () => {
    assert.match(
      diagnose401({ ...none, serverAheadMillis: Option.some(11 * 60_000 + 500) }),
      /^the clock: the management server's clock is 11m1s ahead/
    )
    assert.match(
      diagnose401({ ...none, serverAheadMillis: Option.some(5 * 60_000), keyProbeStatus: Option.some(432) }),
      /^secret-key/
    )
  })
  it("a request without expiry accepted: the clock; a 432 for a wrongly signed admin-only command: the secret; else either", () => {
    assert.match(diagnose401({ ...none, noExpiryStatus: Option.some(200) }), /^the clock: the keys are right/)
    assert.match(
      diagnose401({ ...none, noExpiryStatus: Option.some(401), keyProbeStatus: Option.some(432) }),
      /^secret-key: CloudStack knows the api-key/
    )
    assert.match(
      diagnose401({ ...none, noExpiryStatus: Option.some(401), keyProbeStatus: Option.some(401) }),
      /^api-key or secret-key: CloudStack does not say which/
    )
  })
})

const network = (fields: Record<string, unknown>) =>
  Schema.decodeUnknownSync(Network)({
    id: "net-1",
    name: "tier",
    type: "Isolated",
    state: "Implemented",
    zoneid: "z",
    ...fields
  })

describe("network findings", () => {
  it("a VPC tier on default_deny: the LB is unreachable (warn); no Lb service at all: warn", () => {
    const tier = analyse(
      network({
        vpcid: "v",
        aclid: "a",
        service: [{ name: "Lb", provider: [{ name: "VpcVirtualRouter" }], capability: [] }, {
          name: "NetworkACL",
          provider: [{ name: "VpcVirtualRouter" }]
        }]
      }),
      ["web-1"],
      Option.some("default_deny")
    )
    assert.strictEqual(tier.kind, "vpc-tier")
    assert.deepStrictEqual(tier.access, { kind: "networkAcl", list: "default_deny" })
    assert.deepStrictEqual(tier.findings.filter((f) => f.level === "warn").map((f) => f.text), [
      "public access: the tier is on default_deny, which cannot be changed: load balancers are unreachable until the tier gets a custom ACL list"
    ])
    assert.include(
      tier.findings.map((f) => f.text).join("\n"),
      "the virtual router advertises udp but refuses UDP rules"
    )
    const l2 = analyse(network({ type: "L2" }), ["x"], Option.none())
    assert.deepStrictEqual([l2.kind, l2.findings.map((f) => f.level)], ["l2", ["warn"]])
  })
  it("a provider with the HealthCheckPolicy capability, algorithms and stickiness methods", () => {
    const r = analyse(
      network({
        service: [{
          name: "Lb",
          provider: [{ name: "Netscaler" }],
          capability: [
            { name: "SupportedProtocols", value: "tcp, udp" },
            { name: "SupportedLbAlgorithms", value: "roundrobin,leastconn" },
            { name: "HealthCheckPolicy", value: "true" },
            { name: "SupportedStickinessMethods", value: `[{"methodname":"LbCookie"},{"methodname":"SourceBased"}]` }
          ]
        }, { name: "Firewall", provider: [{ name: "VirtualRouter" }] }]
      }),
      ["a", "b"],
      Option.none()
    )
    assert.deepStrictEqual(Option.getOrNull(r.lb), {
      provider: "Netscaler",
      protocols: ["tcp", "udp"],
      algorithms: ["roundrobin", "leastconn"],
      healthCheck: true,
      stickiness: ["LbCookie", "SourceBased"]
    })
    assert.deepStrictEqual(r.findings.map((f) => f.level), ["ok", "ok", "ok", "ok"])
  })
})

describe("proxies and versions", () => {
  it("the api-url's scheme picks HTTPS_PROXY or HTTP_PROXY; NO_PROXY exempts names and domains; credentials never shown", () => {
    const url = new URL("https://cloud.example.com/client/api")
    assert.deepStrictEqual(
      proxyFor(url, { https: "http://u:p@proxy:3128", http: "", noProxy: "" }),
      Option.some("http://proxy:3128")
    )
    assert.deepStrictEqual(
      proxyFor(new URL("http://cloud/client/api"), { https: "http://p:1", http: "", noProxy: "" }),
      Option.none()
    )
    assert.deepStrictEqual(
      proxyFor(url, { https: "http://proxy:3128", http: "", noProxy: ".example.com" }),
      Option.none()
    )
    assert.isTrue(noProxy("cloud.example.com", "localhost, example.com"))
    assert.isTrue(noProxy("anything", "*"))
    assert.isFalse(noProxy("cloud.example.com", "ample.com"))
  })
  it("versions compare part by part", () => {
    assert.isTrue(atLeast("4.22.0.0", [4, 22]))
    assert.isTrue(atLeast("4.22.0.0-SNAPSHOT", [4, 22]))
    assert.isTrue(atLeast("5.0", [4, 22]))
    assert.isFalse(atLeast("4.20.1.0", [4, 22]))
    assert.isFalse(atLeast("4.3", [4, 22]))
  })
})

describe("Report", () => {
  const report: PreflightReport = {
    cloudConfig: "/etc/cloud-config",
    apiUrl: "https://cloud.example.com/client/api",
    controllers: ["service-lb-controller"],
    checks: [
      check("endpoint.dns", "ok", "cloud.example.com: 192.0.2.10"),
      check("credentials", "fail", "CloudStack refuses the keys (401)")
    ],
    commands: [],
    networks: []
  }
  it("fails when a check failed, with the failed ids in the verdict; OK counts warnings", () => {
    assert.isFalse(passed(report))
    assert.strictEqual(summary(report), "Result: FAILED, 1 problem (credentials)")
    const ok = { ...report, checks: [check("zone", "warn", "x"), check("vms", "ok", "y")] }
    assert.strictEqual(summary(ok), "Result: OK, the CCM can do its job (1 warning)")
  })
  it("the text: a head line, sections of aligned checks, the verdict; JSON mirrors it", () => {
    assert.strictEqual(
      renderText(report),
      [
        "cloudstack-ccm check: /etc/cloud-config -> https://cloud.example.com/client/api (controllers: service-lb-controller)",
        "",
        "Endpoint",
        "  ok    dns           cloud.example.com: 192.0.2.10",
        "",
        "Server and credentials",
        "  FAIL  credentials   CloudStack refuses the keys (401)",
        "",
        "Result: FAILED, 1 problem (credentials)"
      ].join("\n")
    )
    assert.deepStrictEqual(toJson(report).checks, [
      { id: "endpoint.dns", level: "ok", text: "cloud.example.com: 192.0.2.10" },
      { id: "credentials", level: "fail", text: "CloudStack refuses the keys (401)" }
    ])
    assert.strictEqual(toJson(report).ok, false)
  })
})
