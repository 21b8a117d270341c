/**
 * What the preflight says about one guest network that has VMs of the account: its kind, how the
 * CCM opens public access there (firewall rules, ACL items, nothing), its Lb provider and that
 * provider's capabilities, and what follows for LoadBalancer Services (the virtual router's UDP
 * and health-check limits spelled out). Pure: a listNetworks answer in, a NetworkReport out.
 */
import { Either, Option, Schema } from "effect"
import type { Network } from "../cloudstack/commands/Networks.js"
import { DEFAULT_ACL_LISTS, fromNetwork } from "../provider/loadbalancer/NetworkProfile.js"
import type { Finding } from "./Check.js"

export interface LbFacts {
  readonly provider: string
  /** `SupportedProtocols` as advertised (the virtual router claims udp it then refuses). */
  readonly protocols: ReadonlyArray<string>
  readonly algorithms: ReadonlyArray<string>
  /** The `HealthCheckPolicy` capability: LB health checks can be created. */
  readonly healthCheck: boolean
  readonly stickiness: ReadonlyArray<string>
}

export type Access =
  | { readonly kind: "firewall" }
  | { readonly kind: "networkAcl"; readonly list: string }
  | { readonly kind: "none" }

export interface NetworkReport {
  readonly id: string
  readonly name: string
  readonly kind: "isolated" | "vpc-tier" | "shared" | "l2" | "other"
  readonly vms: ReadonlyArray<string>
  readonly lb: Option.Option<LbFacts>
  readonly access: Access
  readonly findings: ReadonlyArray<Finding>
}

/** The virtual router's names as an Lb provider (isolated networks and VPC tiers). */
const VIRTUAL_ROUTERS: ReadonlySet<string> = new Set(["VirtualRouter", "VpcVirtualRouter"])

const list = (value: string | undefined): ReadonlyArray<string> =>
  (value ?? "").split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "")

const StickinessMethods = Schema.parseJson(Schema.Array(Schema.Struct({ methodname: Schema.String })))

const kindOf = (network: Network): NetworkReport["kind"] =>
  network.vpcId !== undefined
    ? "vpc-tier"
    : network.type === "Isolated"
    ? "isolated"
    : network.type === "Shared"
    ? "shared"
    : network.type === "L2"
    ? "l2"
    : "other"

const lbFacts = (network: Network): Option.Option<LbFacts> =>
  Option.map(Option.fromNullable(network.services.find((s) => s.name === "Lb")), (lb) => {
    const cap = (name: string) => lb.capabilities.find((c) => c.name === name)?.value
    return {
      provider: lb.providers[0]?.name ?? "",
      protocols: list(cap("SupportedProtocols") ?? "tcp, udp"),
      algorithms: list(cap("SupportedLbAlgorithms")),
      healthCheck: (cap("HealthCheckPolicy") ?? "false").toLowerCase() === "true",
      stickiness: Either.match(
        Schema.decodeUnknownEither(StickinessMethods)(cap("SupportedStickinessMethods") ?? "[]"),
        {
          onLeft: () => [],
          onRight: (methods) => methods.map((m) => m.methodname)
        }
      )
    }
  })

const lbFindings = (lb: LbFacts): ReadonlyArray<Finding> => {
  const router = VIRTUAL_ROUTERS.has(lb.provider)
  const udp: Finding = !lb.protocols.includes("udp")
    ? {
      level: "note",
      text: "UDP: not offered by the provider; UDP ports get an UnsupportedProtocol Warning and no rule"
    }
    : router
    ? {
      level: "note",
      text: "UDP: the virtual router advertises udp but refuses UDP rules (HTTP 431, apache/cloudstack#4501): " +
        "UDP ports get an UnsupportedProtocol Warning and no rule; TCP ports of the same Service still work"
    }
    : { level: "ok", text: `UDP: offered by ${lb.provider}` }
  const health: Finding = lb.healthCheck
    ? { level: "ok", text: `health checks: offered (HealthCheckPolicy) by ${lb.provider}` }
    : {
      level: "note",
      text: `health checks: not offered (${
        router ? "the virtual router has" : `${lb.provider} advertises`
      } no HealthCheckPolicy capability)`
    }
  return [udp, health]
}

const accessOf = (network: Network, aclListName: Option.Option<string>): Access => {
  const access = fromNetwork(network, aclListName).access
  return access._tag === "Firewall"
    ? { kind: "firewall" }
    : access._tag === "Acl"
    ? { kind: "networkAcl", list: access.listName }
    : { kind: "none" }
}

const accessFinding = (access: Access): Finding => {
  switch (access.kind) {
    case "firewall":
      return { level: "ok", text: "public access: a firewall rule per LB port (the Firewall service)" }
    case "none":
      return {
        level: "note",
        text: "public access: neither a Firewall nor a NetworkACL service; nothing is opened or closed"
      }
    case "networkAcl":
      return !DEFAULT_ACL_LISTS.has(access.list)
        ? {
          level: "ok",
          text: `public access: an ACL item per LB port in the tier's list ${access.list} (the NetworkACL service)`
        }
        : access.list === "default_deny"
        ? {
          level: "warn",
          text:
            "public access: the tier is on default_deny, which cannot be changed: load balancers are unreachable until the tier gets a custom ACL list"
        }
        : {
          level: "note",
          text:
            "public access: the tier is on default_allow, which cannot be changed: every source reaches the load balancers (source ranges are not enforced)"
        }
  }
}

/** The report of `network`, which the VMs named `vms` use; `aclListName` is a tier's ACL list name. */
export const analyse = (
  network: Network,
  vms: ReadonlyArray<string>,
  aclListName: Option.Option<string>
): NetworkReport => {
  const lb = lbFacts(network)
  const access = accessOf(network, aclListName)
  const findings: ReadonlyArray<Finding> = Option.match(lb, {
    onNone: () => [{
      level: "warn",
      text: "no Lb service: LoadBalancer Services cannot be served for Nodes on this network"
    }],
    onSome: (
      facts
    ) => [
      { level: "ok", text: `Lb provider: ${facts.provider} (protocols ${facts.protocols.join(", ")})` },
      ...lbFindings(facts),
      accessFinding(access)
    ]
  })
  return { id: network.id, name: network.name, kind: kindOf(network), vms, lb, access, findings }
}
