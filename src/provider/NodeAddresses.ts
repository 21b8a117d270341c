/**
 * Node addresses from a CloudStack VM and the merge the cloud-node controller applies to
 * `status.addresses` (kubelet Hostname kept, `alpha.kubernetes.io/provided-node-ip` honoured as
 * k8s.io/cloud-provider's GetNodeAddressesFromNodeIP does). Pure.
 */
import { Data, Either } from "effect"
import { isIP } from "node:net"

export type NodeAddressType = "Hostname" | "InternalIP" | "ExternalIP" | "InternalDNS" | "ExternalDNS"

export interface NodeAddress {
  readonly type: NodeAddressType
  readonly address: string
}

/** The VM fields addresses come from (a structural subset of the decoded listVirtualMachines item). */
export interface VmAddressSource {
  readonly nics: ReadonlyArray<{
    readonly ipAddress?: string | undefined
    readonly ip6Address?: string | undefined
    readonly isDefault: boolean
  }>
  /** Static-NAT public IP (VM level). */
  readonly publicIp?: string | undefined
}

export const PROVIDED_NODE_IP_ANNOTATION = "alpha.kubernetes.io/provided-node-ip"

export class ProvidedNodeIpError extends Data.TaggedError("ProvidedNodeIpError")<{
  readonly providedNodeIp: string
  readonly reason: "Invalid" | "NotACloudAddress"
  readonly ip: string
}> {
  override get message(): string {
    return this.reason === "Invalid"
      ? `annotation ${PROVIDED_NODE_IP_ANNOTATION}=${JSON.stringify(this.providedNodeIp)}: ${
        JSON.stringify(this.ip)
      } is not an IP address`
      : `annotation ${PROVIDED_NODE_IP_ANNOTATION}: ${this.ip} is not one of the VM's addresses`
  }
}

/** Canonical text of an IP so `fd00::1` and `fd00:0::0001` compare equal. */
export const canonicalIp = (ip: string): string => {
  const trimmed = ip.trim()
  if (isIP(trimmed) === 6) return new URL(`http://[${trimmed}]/`).hostname.slice(1, -1)
  return trimmed
}

const key = (a: NodeAddress): string => `${a.type}/${canonicalIp(a.address)}`

const dedupe = (addresses: ReadonlyArray<NodeAddress>): ReadonlyArray<NodeAddress> => {
  const seen = new Set<string>()
  return addresses.filter((a) => (seen.has(key(a)) ? false : (seen.add(key(a)), true)))
}

/**
 * InternalIP for every NIC address (default NIC first; IPv4 then IPv6), ExternalIP for the static-NAT
 * IP. Never CloudStack's `hostname`: that is the hypervisor host, not the guest.
 */
export const fromVm = (vm: VmAddressSource): ReadonlyArray<NodeAddress> => {
  const nics = [...vm.nics.filter((n) => n.isDefault), ...vm.nics.filter((n) => !n.isDefault)]
  const internal = nics.flatMap((nic) =>
    [nic.ipAddress, nic.ip6Address]
      .filter((ip): ip is string => ip !== undefined && ip !== "")
      .map((address): NodeAddress => ({ type: "InternalIP", address }))
  )
  const external: ReadonlyArray<NodeAddress> = vm.publicIp ? [{ type: "ExternalIP", address: vm.publicIp }] : []
  return dedupe([...internal, ...external])
}

/**
 * Applies `provided-node-ip` (one IP, or an IPv4,IPv6 pair): every provided IP must be a cloud
 * address; matching addresses go first and other addresses of a matched type are dropped.
 */
export const applyProvidedNodeIp = (
  providedNodeIp: string,
  addresses: ReadonlyArray<NodeAddress>
): Either.Either<ReadonlyArray<NodeAddress>, ProvidedNodeIpError> => {
  const ips = providedNodeIp.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const matched: Array<NodeAddress> = []
  for (const ip of ips) {
    if (isIP(ip) === 0) return Either.left(new ProvidedNodeIpError({ providedNodeIp, reason: "Invalid", ip }))
    const hits = addresses.filter((a) => a.type !== "Hostname" && canonicalIp(a.address) === canonicalIp(ip))
    if (hits.length === 0) {
      return Either.left(new ProvidedNodeIpError({ providedNodeIp, reason: "NotACloudAddress", ip }))
    }
    matched.push(...hits)
  }
  const matchedTypes = new Set(matched.map((a) => a.type))
  const matchedKeys = new Set(matched.map(key))
  const rest = addresses.filter((a) => !matchedTypes.has(a.type) && !matchedKeys.has(key(a)))
  return Either.right(dedupe([...matched, ...rest]))
}

/**
 * The `status.addresses` to write: the cloud addresses, plus the kubelet's Hostname entries when the
 * cloud has none, filtered by `provided-node-ip` when set. None (leave unchanged) when the cloud
 * reports no address at all.
 */
export const forNode = (
  cloud: ReadonlyArray<NodeAddress>,
  current: ReadonlyArray<NodeAddress>,
  providedNodeIp: string | undefined
): Either.Either<ReadonlyArray<NodeAddress> | undefined, ProvidedNodeIpError> => {
  if (cloud.length === 0) return Either.right(undefined)
  const withHostname = cloud.some((a) => a.type === "Hostname")
    ? cloud
    : [...cloud, ...current.filter((a) => a.type === "Hostname")]
  return providedNodeIp === undefined || providedNodeIp.trim() === ""
    ? Either.right(withHostname)
    : applyProvidedNodeIp(providedNodeIp, withHostname)
}

/** Same addresses in the same order (what the API server stores). */
export const equal = (a: ReadonlyArray<NodeAddress>, b: ReadonlyArray<NodeAddress>): boolean =>
  a.length === b.length && a.every((x, i) => x.type === b[i]?.type && x.address === b[i]?.address)
