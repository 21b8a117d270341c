/**
 * CIDR parsing and comparison for source ranges (firewall rules, ACL items, LB rule cidrlists).
 * Pure. A bare address is a host CIDR (/32 or /128), as CloudStack accepts it.
 */
import { Option } from "effect"
import { isIPv4, isIPv6 } from "node:net"

export interface Cidr {
  readonly family: 4 | 6
  /** The network address as a number (host bits cleared). */
  readonly network: bigint
  readonly prefix: number
}

const v4ToBig = (address: string): bigint =>
  address.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)

const v6ToBig = (address: string): bigint => {
  // Expand an embedded IPv4 tail and the `::` gap into eight 16-bit groups.
  const tail = address.includes(".") ? address.slice(address.lastIndexOf(":") + 1) : undefined
  const head = tail === undefined ? address : address.slice(0, address.lastIndexOf(":") + 1) + "0:0"
  const [left = "", right = ""] = head.split("::")
  const l = left === "" ? [] : left.split(":")
  const r = head.includes("::") ? (right === "" ? [] : right.split(":")) : []
  const groups = [...l, ...Array.from({ length: 8 - l.length - r.length }, () => "0"), ...r]
  let value = groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n)
  if (tail !== undefined) value = (value & ~0xffffffffn) | v4ToBig(tail)
  return value
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address; None when invalid. */
export const parse = (text: string): Option.Option<Cidr> => {
  const trimmed = text.trim()
  const slash = trimmed.indexOf("/")
  const address = slash < 0 ? trimmed : trimmed.slice(0, slash)
  // A zone index (`fe80::1%eth0`) is no source a firewall knows: Go's net.ParseCIDR and CloudStack refuse it.
  const family = address.includes("%") ? undefined : isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined
  if (family === undefined) return Option.none()
  const width = family === 4 ? 32 : 128
  const prefixText = slash < 0 ? String(width) : trimmed.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefixText)) return Option.none()
  const prefix = Number(prefixText)
  if (prefix > width) return Option.none()
  const raw = family === 4 ? v4ToBig(address) : v6ToBig(address)
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(width - prefix)
  return Option.some({ family, network: raw & mask, prefix })
}

/** Whether two CIDRs share at least one address. */
export const intersects = (a: Cidr, b: Cidr): boolean => {
  if (a.family !== b.family) return false
  const width = a.family === 4 ? 32 : 128
  const prefix = Math.min(a.prefix, b.prefix)
  const shift = BigInt(width - prefix)
  return (a.network >> shift) === (b.network >> shift)
}

/** Whether any CIDR of `as` shares an address with any of `bs` (unparsable entries never do). */
export const anyIntersect = (as: ReadonlyArray<string>, bs: ReadonlyArray<string>): boolean => {
  const left = as.flatMap((x) => Option.toArray(parse(x)))
  const right = bs.flatMap((x) => Option.toArray(parse(x)))
  return left.some((a) => right.some((b) => intersects(a, b)))
}

/** The canonical text of a CIDR list for comparisons: parsed, host bits cleared, sorted, deduplicated. */
export const canonical = (cidrs: ReadonlyArray<string>): ReadonlyArray<string> => {
  const out = new Set<string>()
  for (const text of cidrs) {
    const parsed = parse(text)
    if (Option.isNone(parsed)) {
      out.add(text.trim())
      continue
    }
    const c = parsed.value
    out.add(`${c.family}:${c.network.toString(16)}/${c.prefix}`)
  }
  return [...out].sort()
}

/** Whether two CIDR lists allow the same sources (order and spelling aside). */
export const sameSet = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean => {
  const x = canonical(a)
  const y = canonical(b)
  return x.length === y.length && x.every((v, i) => v === y[i])
}
