/**
 * What a Service asks of its load balancer, independent of any cloud state: one rule per port
 * (protocol, public port, node port), the algorithm, the requested IP, source ranges and the
 * LB rules' own CIDRs. Pure: the Service's plain data in, an LbSpec plus the ports it cannot have
 * (as user-facing warnings) or every invalid annotation out.
 */
import { Either, Option } from "effect"
import type { LbAlgorithm, LbProtocol } from "../../cloudstack/commands/LoadBalancers.js"
import { NetworkId } from "../../cloudstack/Ids.js"
import * as Annotations from "./Annotations.js"
import { forkName, lbName, ruleName } from "./LbName.js"

/** The plain data of a Service the provider needs (the controller maps its Kubernetes view to this). */
export interface LbService {
  readonly namespace: string
  readonly name: string
  readonly uid: string
  readonly annotations: Readonly<Record<string, string>>
  readonly ports: ReadonlyArray<{
    readonly name: string
    readonly protocol: "TCP" | "UDP" | "SCTP"
    readonly port: number
    readonly nodePort: number
  }>
  readonly loadBalancerIP: string | undefined
  readonly loadBalancerSourceRanges: ReadonlyArray<string>
  readonly sessionAffinity: "None" | "ClientIP" | undefined
  /** The addresses in its status (which Services share an IP: IpLocks). */
  readonly ingress?: ReadonlyArray<string> | undefined
}

export interface PortSpec {
  /** `<lbName>-<protocol>-<port>`. */
  readonly name: string
  readonly protocol: LbProtocol
  /** The IP protocol of firewall rules and ACL items (`tcp-proxy` is TCP). */
  readonly ipProtocol: "tcp" | "udp"
  readonly publicPort: number
  readonly privatePort: number
}

/** A problem the user can fix, reported as a Warning Event with this reason. */
export interface LbWarning {
  readonly reason: string
  readonly message: string
}

export interface LbSpec {
  readonly lbName: string
  /** Every name the Service's rules may carry: `lbName`, then the leaseweb fork's. */
  readonly lbNames: ReadonlyArray<string>
  readonly ports: ReadonlyArray<PortSpec>
  readonly requestedIp: Option.Option<string>
  readonly algorithm: LbAlgorithm
  /** Firewall / ACL sources. */
  readonly sourceRanges: ReadonlyArray<string>
  /** The LB rules' own cidrlist; None = not set (every source). */
  readonly ruleCidrs: Option.Option<ReadonlyArray<string>>
  readonly keepIp: boolean
  readonly proxyProtocol: boolean
  readonly hostname: Option.Option<string>
  /** The network the user chose for the LB (`...-network-id`). */
  readonly networkId: Option.Option<NetworkId>
  /** A stickiness policy on every rule. */
  readonly sticky: Option.Option<Annotations.Stickiness>
  /** The health-check policy's settings (on where the provider offers it, unless turned off). */
  readonly healthCheck: Annotations.HealthCheck
  /** Ports that get no rule, with why. */
  readonly warnings: ReadonlyArray<LbWarning>
}

export const ALL_SOURCES: ReadonlyArray<string> = ["0.0.0.0/0"]

const lbProtocol = (protocol: "TCP" | "UDP", proxy: boolean): LbProtocol =>
  protocol === "UDP" ? "udp" : proxy ? "tcp-proxy" : "tcp"

/** The LbSpec of a Service, or every invalid annotation it carries; `clusterName` is `--cluster-name`. */
export const fromService = (
  service: LbService,
  clusterName = "kubernetes"
): Either.Either<LbSpec, ReadonlyArray<Annotations.InvalidAnnotationError>> =>
  Either.map(Annotations.decode(service.annotations), (a) => {
    const name = lbName(service.uid)
    const warnings: Array<LbWarning> = []
    const ports: Array<PortSpec> = []
    for (const port of service.ports) {
      const label = `${port.protocol}/${port.port}`
      if (port.protocol === "SCTP") {
        warnings.push({
          reason: "UnsupportedProtocol",
          message: `port ${label}: CloudStack load balancers do not support SCTP`
        })
        continue
      }
      if (port.nodePort <= 0) {
        warnings.push({
          reason: "NoNodePort",
          message:
            `port ${label} has no nodePort (allocateLoadBalancerNodePorts: false?): CloudStack forwards to node ports`
        })
        continue
      }
      // CloudStack refuses two rules on one IP and public port, even TCP plus UDP (cloudstack#4481).
      const clash = ports.find((p) => p.publicPort === port.port)
      if (clash !== undefined) {
        warnings.push({
          reason: "PortConflict",
          message:
            `port ${label}: CloudStack cannot balance two protocols on one public port; ${clash.ipProtocol.toUpperCase()}/${port.port} is kept`
        })
        continue
      }
      const protocol = lbProtocol(port.protocol, a.proxyProtocol)
      ports.push({
        name: ruleName(name, protocol, port.port),
        protocol,
        ipProtocol: port.protocol === "UDP" ? "udp" : "tcp",
        publicPort: port.port,
        privatePort: port.nodePort
      })
    }
    const requested = Option.orElse(
      a.address,
      () =>
        service.loadBalancerIP === undefined || service.loadBalancerIP.trim() === ""
          ? Option.none()
          : Option.some(service.loadBalancerIP.trim())
    )
    const sourceRanges = service.loadBalancerSourceRanges.length > 0
      ? service.loadBalancerSourceRanges
      : Option.getOrElse(a.sourceRanges, () => ALL_SOURCES)
    return {
      lbName: name,
      lbNames: [name, forkName(clusterName, service.namespace, service.name)],
      ports,
      requestedIp: requested,
      algorithm: Option.getOrElse(
        a.algorithm,
        () => (service.sessionAffinity === "ClientIP" ? "source" : "roundrobin")
      ),
      sourceRanges,
      ruleCidrs: a.sourceCidrs,
      keepIp: a.keepIp,
      proxyProtocol: a.proxyProtocol,
      hostname: a.hostname,
      networkId: Option.map(a.networkId, NetworkId.make),
      sticky: a.sticky,
      healthCheck: a.healthCheck,
      warnings
    }
  })
