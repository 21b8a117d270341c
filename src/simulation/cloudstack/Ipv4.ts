/**
 * IPv4/IPv6 address helpers of the simulator, all pure: seeding address ranges, guest-IP
 * allocation and the CIDR checks of cidrlist parameters (what NetUtils accepts).
 */

export const ipv4ToInt = (ip: string): number | undefined => {
  const parts = ip.split(".")
  if (parts.length !== 4) return undefined
  let n = 0
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined
    const v = Number(part)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n
}
export const intToIpv4 = (n: number): string =>
  `${Math.floor(n / 16777216) % 256}.${Math.floor(n / 65536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`

const IPV6 = /^[0-9a-fA-F:]+$/
/** A valid IPv4/IPv6 CIDR or address (what NetUtils accepts for cidrlist entries). */
export const isCidr = (s: string): boolean => {
  const [addr, len, extra] = s.split("/")
  if (extra !== undefined || addr === undefined) return false
  if (addr.includes(":")) {
    if (!IPV6.test(addr) || !addr.includes(":")) return false
    return len === undefined || (/^\d+$/.test(len) && Number(len) <= 128)
  }
  if (ipv4ToInt(addr) === undefined) return false
  return len === undefined || (/^\d+$/.test(len) && Number(len) <= 32)
}

export const netmaskOf = (cidr: string): string => {
  const len = Number(cidr.split("/")[1] ?? "24")
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
  return intToIpv4(mask)
}

export const gatewayOf = (cidr: string): string => {
  const base = ipv4ToInt(cidr.split("/")[0] ?? "") ?? 0
  return intToIpv4(base + 1)
}
