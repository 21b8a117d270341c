import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Option } from "effect"
import { BlockList } from "node:net"
import * as Cidr from "../../../src/provider/loadbalancer/Cidr.js"

/** `family:network-in-hex/prefix`, or "none". */
const show = (text: string): string =>
  Option.match(Cidr.parse(text), {
    onNone: () => "none",
    onSome: (c) => `${c.family}:${c.network.toString(16)}/${c.prefix}`
  })

describe("Cidr.parse", () => {
  const table: ReadonlyArray<readonly [string, string]> = [
    // IPv4
    ["0.0.0.0/0", "4:0/0"],
    ["10.0.0.0/8", "4:a000000/8"],
    ["192.0.2.7/32", "4:c0000207/32"],
    ["255.255.255.255/32", "4:ffffffff/32"],
    ["1.2.3.4", "4:1020304/32"],
    ["  10.1.2.3/16 ", "4:a010000/16"],
    // host bits are cleared
    ["10.1.2.3/8", "4:a000000/8"],
    ["192.0.2.255/25", "4:c0000280/25"],
    ["203.0.113.77/0", "4:0/0"],
    // a prefix with a leading zero is still that prefix
    ["10.0.0.0/08", "4:a000000/8"],
    // IPv6
    ["::/0", "6:0/0"],
    ["::", "6:0/128"],
    ["::1", "6:1/128"],
    ["2001:db8::/32", "6:20010db8000000000000000000000000/32"],
    ["2001:db8::1/128", "6:20010db8000000000000000000000001/128"],
    ["2001:DB8::ABCD/128", "6:20010db800000000000000000000abcd/128"],
    ["2001:db8::abcd/112", "6:20010db8000000000000000000000000/112"],
    ["2001:db8:1:2:3:4:5:6/64", "6:20010db8000100020000000000000000/64"],
    ["fe80::/10", "6:fe800000000000000000000000000000/10"],
    ["1::", "6:10000000000000000000000000000/128"],
    // embedded IPv4 tails
    ["::ffff:1.2.3.4", "6:ffff01020304/128"],
    ["::ffff:1.2.3.4/96", "6:ffff00000000/96"],
    ["64:ff9b::192.0.2.33/128", "6:64ff9b0000000000000000c0000221/128"],
    ["1:2:3:4:5:6:1.2.3.4", "6:10002000300040005000601020304/128"],
    ["::1.2.3.4", "6:1020304/128"],
    // garbage
    ["", "none"],
    ["   ", "none"],
    ["/8", "none"],
    ["10.0.0.0/", "none"],
    ["10.0.0.0/33", "none"],
    ["10.0.0.0/-1", "none"],
    ["10.0.0.0/1000", "none"],
    ["10.0.0.0/8/8", "none"],
    ["10.0.0.0/ 8", "none"],
    ["10.0.0.0/8.0", "none"],
    ["10.0.0.0/0x8", "none"],
    ["10.0.0/8", "none"],
    ["010.0.0.0/8", "none"],
    ["256.0.0.0/8", "none"],
    ["10.0.0.0 /8", "none"],
    ["::/129", "none"],
    ["1::2::3/64", "none"],
    ["2001:db8::g/64", "none"],
    ["::ffff:01.2.3.4", "none"],
    ["example.com/24", "none"],
    ["any", "none"],
    // a zone index means nothing to a firewall (Go's net.ParseCIDR and CloudStack refuse it)
    ["fe80::1%eth0", "none"],
    ["fe80::1%eth0/64", "none"]
  ]
  for (const [text, expected] of table) {
    it(`${JSON.stringify(text)} → ${expected}`, () => {
      assert.strictEqual(show(text), expected)
    })
  }
})

describe("Cidr.intersects and anyIntersect", () => {
  const table: ReadonlyArray<readonly [string, string, boolean]> = [
    ["0.0.0.0/0", "192.0.2.0/24", true],
    ["0.0.0.0/0", "0.0.0.0/0", true],
    ["10.0.0.0/8", "10.255.0.0/16", true],
    ["10.0.0.0/8", "11.0.0.0/8", false],
    ["192.0.2.0/25", "192.0.2.128/25", false],
    ["192.0.2.0/24", "192.0.2.128/25", true],
    ["192.0.2.7", "192.0.2.7/32", true],
    ["192.0.2.7", "192.0.2.8", false],
    ["192.0.2.7", "192.0.2.0/29", true],
    ["192.0.2.8", "192.0.2.0/29", false],
    ["::/0", "2001:db8::/32", true],
    ["2001:db8::/32", "2001:db9::/32", false],
    ["2001:db8::1", "2001:db8::/127", true],
    // families never intersect, not even 0.0.0.0/0 and ::/0 or an IPv4-mapped address
    ["0.0.0.0/0", "::/0", false],
    ["1.2.3.4", "::ffff:1.2.3.4", false]
  ]
  for (const [a, b, expected] of table) {
    it(`${a} ∩ ${b}: ${expected}`, () => {
      const x = Option.getOrThrow(Cidr.parse(a))
      const y = Option.getOrThrow(Cidr.parse(b))
      assert.strictEqual(Cidr.intersects(x, y), expected)
      assert.strictEqual(Cidr.intersects(y, x), expected)
      assert.strictEqual(Cidr.anyIntersect([a], [b]), expected)
    })
  }

  it("anyIntersect: any pair counts; unparsable entries never intersect; empty lists never do", () => {
    assert.isTrue(Cidr.anyIntersect(["10.0.0.0/8", "192.0.2.0/24"], ["172.16.0.0/12", "192.0.2.9"]))
    assert.isFalse(Cidr.anyIntersect(["10.0.0.0/8", "192.0.2.0/24"], ["172.16.0.0/12", "198.51.100.0/24"]))
    assert.isFalse(Cidr.anyIntersect(["garbage"], ["garbage"]))
    assert.isFalse(Cidr.anyIntersect(["garbage", "10.0.0.0/8"], ["11.0.0.0/8", "nonsense"]))
    assert.isFalse(Cidr.anyIntersect([], ["0.0.0.0/0"]))
    assert.isFalse(Cidr.anyIntersect(["0.0.0.0/0"], []))
  })
})

describe("Cidr.canonical and sameSet", () => {
  const table: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>, boolean]> = [
    [[], [], true],
    [["0.0.0.0/0"], ["0.0.0.0/0"], true],
    [["10.0.0.0/8", "192.0.2.0/24"], ["192.0.2.0/24", "10.0.0.0/8"], true],
    [["10.0.0.0/8", "10.0.0.0/8"], ["10.0.0.0/8"], true],
    [["10.1.2.3/8"], ["10.0.0.0/8"], true],
    [["192.0.2.7"], ["192.0.2.7/32"], true],
    [[" 192.0.2.7 "], ["192.0.2.7"], true],
    [["2001:DB8::/32"], ["2001:db8:0:0::/32"], true],
    [["::ffff:1.2.3.4"], ["::ffff:102:304"], true],
    [["10.0.0.0/8"], ["10.0.0.0/9"], false],
    [["10.0.0.0/8"], ["10.0.0.0/8", "192.0.2.0/24"], false],
    [["0.0.0.0/0"], ["::/0"], false],
    [["0.0.0.0/0"], [], false],
    // unparsable entries compare by their trimmed text
    [["garbage"], [" garbage "], true],
    [["garbage"], ["Garbage"], false]
  ]
  for (const [a, b, expected] of table) {
    it(`${JSON.stringify(a)} ≡ ${JSON.stringify(b)}: ${expected}`, () => {
      assert.strictEqual(Cidr.sameSet(a, b), expected)
      assert.strictEqual(Cidr.sameSet(b, a), expected)
    })
  }

  it("canonical is sorted and free of duplicates", () => {
    const c = Cidr.canonical(["192.0.2.9", "10.0.0.0/8", "10.3.0.0/8", "192.0.2.9/32"])
    assert.deepStrictEqual(c, [...new Set(c)].sort())
    assert.strictEqual(c.length, 2)
  })
})

// ---- properties against Node's own address matcher (net.BlockList) -------------------------------

const v4Text = (n: bigint): string => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join(".")
const v6Text = (n: bigint): string =>
  Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":")
/** The shortest form with the longest run of zero groups as `::` (what most tools print). */
const v6Short = (n: bigint): string => {
  const groups = v6Text(n).split(":")
  let best = { at: -1, len: 0 }
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === "0") j++
    if (j - i > best.len) best = { at: i, len: j - i }
    i = j === i ? i + 1 : j
  }
  if (best.len < 2) return groups.join(":")
  return `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.len).join(":")}`
}

const v4 = fc.record({
  family: fc.constant(4 as const),
  value: fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }),
  prefix: fc.integer({ min: 0, max: 32 })
})
const v6 = fc.record({
  family: fc.constant(6 as const),
  value: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  prefix: fc.integer({ min: 0, max: 128 })
})
// Many addresses with long zero runs, so `::` compression is exercised.
const v6Sparse = fc.record({
  family: fc.constant(6 as const),
  value: fc.array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 0xffffn })), { minLength: 8, maxLength: 8 })
    .map((gs) => gs.reduce((acc, g) => (acc << 16n) | g, 0n)),
  prefix: fc.integer({ min: 0, max: 128 })
})
const anyCidr: fc.Arbitrary<Gen> = fc.oneof(v4, v6, v6Sparse)
interface Gen {
  readonly family: 4 | 6
  readonly value: bigint
  readonly prefix: number
}

const textOf = (c: Gen, short: boolean) =>
  `${c.family === 4 ? v4Text(c.value) : short ? v6Short(c.value) : v6Text(c.value)}/${c.prefix}`
const width = (c: Gen) => (c.family === 4 ? 32 : 128)
const masked = (c: Gen) => {
  const w = BigInt(width(c))
  const mask = c.prefix === 0 ? 0n : ((1n << BigInt(c.prefix)) - 1n) << (w - BigInt(c.prefix))
  return c.value & mask
}
const family = (c: Gen) => (c.family === 4 ? "ipv4" : "ipv6")

describe("Cidr properties", () => {
  it.prop("parse clears host bits; the long and the compressed IPv6 forms are the same CIDR", [anyCidr], ([c]) => {
    const parsed = Option.getOrThrow(Cidr.parse(textOf(c, false)))
    assert.deepStrictEqual(parsed, { family: c.family, network: masked(c), prefix: c.prefix })
    assert.deepStrictEqual(Cidr.parse(textOf(c, true)), Option.some(parsed))
  }, { fastCheck: { numRuns: 300 } })

  it.prop("intersects agrees with net.BlockList (two blocks meet iff the wider one holds the narrower's network)", [
    anyCidr,
    anyCidr
  ], ([a, b]) => {
    const x = Option.getOrThrow(Cidr.parse(textOf(a, true)))
    const y = Option.getOrThrow(Cidr.parse(textOf(b, true)))
    const [wide, narrow] = a.prefix <= b.prefix ? [a, b] : [b, a]
    const list = new BlockList()
    list.addSubnet(wide.family === 4 ? v4Text(wide.value) : v6Text(wide.value), wide.prefix, family(wide))
    const narrowNet = masked(narrow)
    const expected = a.family === b.family &&
      list.check(narrow.family === 4 ? v4Text(narrowNet) : v6Text(narrowNet), family(narrow))
    assert.strictEqual(Cidr.intersects(x, y), expected)
  }, { fastCheck: { numRuns: 300 } })

  it.prop("intersects with itself, with any sub-block, and with 0.0.0.0/0 or ::/0 of its family", [
    anyCidr,
    fc.nat(128)
  ], ([c, extra]) => {
    const x = Option.getOrThrow(Cidr.parse(textOf(c, false)))
    const sub = { ...c, prefix: Math.min(width(c), c.prefix + extra) }
    const all = Option.getOrThrow(Cidr.parse(c.family === 4 ? "0.0.0.0/0" : "::/0"))
    assert.isTrue(Cidr.intersects(x, x))
    assert.isTrue(Cidr.intersects(x, Option.getOrThrow(Cidr.parse(textOf(sub, true)))))
    assert.isTrue(Cidr.intersects(x, all))
  })

  it.prop(
    "sameSet ignores order, duplicates and spelling",
    [fc.array(anyCidr, { maxLength: 6 }), fc.nat()],
    ([cs, n]) => {
      const long = cs.map((c) => textOf(c, false))
      const short = cs.map((c) => textOf(c, true)).reverse()
      assert.isTrue(Cidr.sameSet(long, [...short, ...short.slice(0, n % (short.length + 1))]))
    }
  )

  it.prop("parse never throws on any text", [fc.string({ maxLength: 60 })], ([s]) => {
    const parsed = Cidr.parse(s)
    if (Option.isSome(parsed)) {
      assert.isTrue(parsed.value.prefix <= (parsed.value.family === 4 ? 32 : 128))
      assert.isTrue(parsed.value.network >= 0n)
    }
  })
})
