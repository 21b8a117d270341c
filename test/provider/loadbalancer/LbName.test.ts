import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type { LbProtocol } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { isOwnRule, lbName, parseRuleName, ruleName } from "../../../src/provider/loadbalancer/LbName.js"

/** k8s.io/cloud-provider DefaultLoadBalancerName, transliterated from Go (byte lengths = string lengths for ASCII). */
const defaultLoadBalancerName = (uid: string): string => {
  let ret = "a" + uid
  ret = ret.split("-").join("")
  if (ret.length > 32) ret = ret.slice(0, 32)
  return ret
}

const UID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
const NAME = "a3f2504e04f8911d39a0c0305e82c330"

describe("LbName.lbName", () => {
  it("a real UID: 'a' + 32 hex digits, cut to 32 characters (the UID's last digit goes)", () => {
    assert.strictEqual(lbName(UID), NAME)
    assert.strictEqual(NAME.length, 32)
  })
  it("short UIDs are not padded; dashes go anywhere", () => {
    assert.strictEqual(lbName(""), "a")
    assert.strictEqual(lbName("uid-1"), "auid1")
    assert.strictEqual(lbName("--x--"), "ax")
  })
  it.prop("equals Kubernetes' DefaultLoadBalancerName for every UUID", [fc.uuid()], ([uid]) => {
    assert.strictEqual(lbName(uid), defaultLoadBalancerName(uid))
    assert.strictEqual(lbName(uid).length, 32)
  })
  it.prop("equals Kubernetes' DefaultLoadBalancerName for any ASCII UID", [
    fc.string({ unit: fc.constantFrom("a", "0", "-", "f"), maxLength: 50 })
  ], ([uid]) => {
    assert.strictEqual(lbName(uid), defaultLoadBalancerName(uid))
  })
})

describe("LbName.ruleName and parseRuleName", () => {
  it("names as the Go CCM does: <lbName>-<protocol>-<public port>", () => {
    assert.strictEqual(ruleName(NAME, "tcp", 80), `${NAME}-tcp-80`)
    assert.strictEqual(ruleName(NAME, "udp", 53), `${NAME}-udp-53`)
    assert.strictEqual(ruleName(NAME, "tcp-proxy", 443), `${NAME}-tcp-proxy-443`)
  })

  const ok: ReadonlyArray<readonly [string, LbProtocol, number]> = [
    [`${NAME}-tcp-80`, "tcp", 80],
    [`${NAME}-udp-53`, "udp", 53],
    [`${NAME}-tcp-proxy-443`, "tcp-proxy", 443],
    [`${NAME}-tcp-1`, "tcp", 1],
    [`${NAME}-tcp-65535`, "tcp", 65535]
  ]
  for (const [rule, protocol, port] of ok) {
    it(`${rule.slice(NAME.length)} is ours: ${protocol}/${port}`, () => {
      assert.deepStrictEqual(parseRuleName(NAME, rule), { protocol, port })
      assert.isTrue(isOwnRule(NAME, rule))
    })
  }

  const foreign: ReadonlyArray<readonly [string, string]> = [
    // keyword= is a LIKE match on name or description: these come back from listLoadBalancerRules too
    [`${NAME}x-tcp-80`, "a longer LB name with ours as prefix"],
    [`x${NAME}-tcp-80`, "ours inside another name"],
    [`${NAME.slice(0, 31)}-tcp-80`, "a shorter name"],
    [`${NAME}-tcp-80-extra`, "a suffix"],
    [`${NAME}-tcp-80 `, "a trailing space"],
    [`${NAME}--tcp-80`, "a double dash"],
    [`${NAME}-TCP-80`, "another case (CloudStack's LIKE ignores case)"],
    [`${NAME.toUpperCase()}-tcp-80`, "our name in another case"],
    [`${NAME}-sctp-80`, "an unknown protocol"],
    [`${NAME}-tcp-proxy`, "no port"],
    [`${NAME}-tcp-`, "an empty port"],
    [`${NAME}-tcp-0`, "port 0"],
    [`${NAME}-tcp-65536`, "port 65536"],
    [`${NAME}-tcp-99999`, "port 99999"],
    [`${NAME}-tcp-100000`, "six digits"],
    [`${NAME}-tcp--80`, "a negative port"],
    [`${NAME}-tcp-+80`, "a signed port"],
    [`${NAME}-tcp-8e1`, "an exponent"],
    [`${NAME}-tcp-0x50`, "hex"],
    [`${NAME}-tcp-080`, "a leading zero (never made by %d)"],
    [`${NAME}-tcp-00080`, "leading zeros"],
    [`${NAME}-udp-٨٠`, "non-ASCII digits"],
    [`${NAME}`, "the bare LB name"],
    ["", "nothing"],
    ["web-tcp-80", "a user's rule"]
  ]
  for (const [rule, why] of foreign) {
    it(`not ours: ${why} (${JSON.stringify(rule.startsWith(NAME) ? rule.slice(NAME.length) : rule)})`, () => {
      assert.isUndefined(parseRuleName(NAME, rule))
      assert.isFalse(isOwnRule(NAME, rule))
    })
  }

  const protocol = fc.constantFrom<LbProtocol>("tcp", "udp", "tcp-proxy")
  it.prop("parse(ruleName(p, port)) round-trips for every valid port and UID", [
    fc.uuid(),
    protocol,
    fc.integer({ min: 1, max: 65535 })
  ], ([uid, p, port]) => {
    const name = lbName(uid)
    assert.deepStrictEqual(parseRuleName(name, ruleName(name, p, port)), { protocol: p, port })
  })
  const suffix = fc.oneof(
    fc.string({ maxLength: 16 }),
    fc.array(fc.constantFrom("tcp", "udp", "proxy", "-", "0", "1", "8", "9", "65536", "x", " "), { maxLength: 8 }).map((
      xs
    ) => xs.join(""))
  )
  it.prop("only the names ruleName makes are ours (any suffix)", [suffix], ([suffix]) => {
    const rule = `${NAME}-${suffix}`
    const parsed = parseRuleName(NAME, rule)
    if (parsed !== undefined) assert.strictEqual(ruleName(NAME, parsed.protocol, parsed.port), rule)
  })
  it.prop("another Service's rules are never ours", [
    fc.uuid(),
    fc.uuid(),
    protocol,
    fc.integer({ min: 1, max: 65535 })
  ], ([a, b, p, port]) => {
    fc.pre(lbName(a) !== lbName(b))
    assert.isUndefined(parseRuleName(lbName(a), ruleName(lbName(b), p, port)))
  })
})
