/**
 * The catalogue of every Service annotation this CCM reads or writes for load balancers: key, type,
 * default, origin and meaning (docs/annotations.md is generated from it by AnnotationReference.ts), and
 * their decoding, each with its Schema from string (AnnotationValues.ts). Pure: decoding reports every
 * bad value at once, never guesses.
 */
import { Data, Either, Option, Schema } from "effect"
import type { LbAlgorithm } from "../../cloudstack/commands/LoadBalancers.js"
import {
  algorithm,
  CidrListFromString,
  hostname,
  ipAddress,
  literalBoolean,
  ParamsFromString,
  pingPath,
  seconds,
  STICKY_METHODS,
  type StickyMethod,
  stickyMethod,
  threshold,
  uuid
} from "./AnnotationValues.js"

export { CidrListFromString, ParamsFromString, STICKY_METHODS, type StickyMethod }

const PREFIX = "service.beta.kubernetes.io/"

export const PROXY_PROTOCOL = `${PREFIX}cloudstack-load-balancer-proxy-protocol`
export const HOSTNAME = `${PREFIX}cloudstack-load-balancer-hostname`
export const SOURCE_CIDRS = `${PREFIX}cloudstack-load-balancer-source-cidrs`
export const ALGORITHM = `${PREFIX}cloudstack-load-balancer-algorithm`
export const ADDRESS = `${PREFIX}cloudstack-load-balancer-address`
export const KEEP_IP = `${PREFIX}cloudstack-load-balancer-keep-ip`
export const SOURCE_RANGES = `${PREFIX}load-balancer-source-ranges`
export const NETWORK_ID = `${PREFIX}cloudstack-load-balancer-network-id`
export const STICKY_METHOD = `${PREFIX}cloudstack-load-balancer-sticky-method`
export const STICKY_PARAMS = `${PREFIX}cloudstack-load-balancer-sticky-params`
/** The spelling of the unmerged Go CCM PR #88, accepted too. */
export const STICKYNESS_METHOD = `${PREFIX}cloudstack-load-balancer-stickyness-method-name`
export const STICKYNESS_PARAM = `${PREFIX}cloudstack-load-balancer-stickyness-method-param`
export const HEALTH_CHECK = `${PREFIX}cloudstack-load-balancer-health-check`
export const HEALTH_CHECK_PATH = `${PREFIX}cloudstack-load-balancer-health-check-path`
export const HEALTH_CHECK_INTERVAL = `${PREFIX}cloudstack-load-balancer-health-check-interval`
export const HEALTH_CHECK_TIMEOUT = `${PREFIX}cloudstack-load-balancer-health-check-timeout`
export const HEALTH_CHECK_HEALTHY = `${PREFIX}cloudstack-load-balancer-health-check-healthy-threshold`
export const HEALTH_CHECK_UNHEALTHY = `${PREFIX}cloudstack-load-balancer-health-check-unhealthy-threshold`
export const STICKY_APPLIED = `${PREFIX}cloudstack-load-balancer-sticky-applied`
export const IP_ID = `${PREFIX}cloudstack-load-balancer-id`
export const IP_ASSOCIATED = `${PREFIX}cloudstack-load-balancer-ip-associated-by-controller`
export const IP_ALLOCATING = `${PREFIX}cloudstack-load-balancer-ip-allocating`

export interface AnnotationDoc {
  readonly key: string
  readonly type: string
  readonly default: string
  /** Written by the controller: do not set or remove by hand. */
  readonly managed: boolean
  readonly origin: "Kubernetes" | "Go CCM" | "leaseweb fork" | "cloudstack-ccm"
  readonly description: string
}

/** Every annotation, in the reference's order. */
export const catalogue: ReadonlyArray<AnnotationDoc> = [
  {
    key: ADDRESS,
    type: "IP address",
    default: "`spec.loadBalancerIP`",
    managed: false,
    origin: "leaseweb fork",
    description:
      "The public IP to use; wins over `spec.loadBalancerIP`. Associated first if free; used as it is if the account already holds it on the nodes' network; a Warning if it is taken elsewhere. Changing it moves the LB (new rules first, then the old IP's rules go)."
  },
  {
    key: PROXY_PROTOCOL,
    type: "`true` / `false`",
    default: "`false`",
    managed: false,
    origin: "Go CCM",
    description:
      "TCP ports use CloudStack's `tcp-proxy` protocol (HAProxy PROXY protocol) and the status gets `ipMode: Proxy`. Any other value is a Warning."
  },
  {
    key: ALGORITHM,
    type: "`roundrobin` / `leastconn` / `source`",
    default: "from `spec.sessionAffinity`: None → `roundrobin`, ClientIP → `source`",
    managed: false,
    origin: "cloudstack-ccm",
    description: "The rules' balancing algorithm, changed in place."
  },
  {
    key: SOURCE_CIDRS,
    type: "comma-separated CIDRs",
    default: "none (every source)",
    managed: false,
    origin: "Go CCM",
    description:
      "The LB rules' own `cidrlist` (HAProxy source filter, CloudStack 4.18+), changed in place where the server allows it, else the rule is recreated. Independent of the firewall/ACL source ranges."
  },
  {
    key: SOURCE_RANGES,
    type: "comma-separated CIDRs",
    default: "`0.0.0.0/0`",
    managed: false,
    origin: "Kubernetes",
    description:
      "Sources allowed by the firewall rules (isolated networks) or network ACL items (VPC tiers) when `spec.loadBalancerSourceRanges` is empty."
  },
  {
    key: NETWORK_ID,
    type: "CloudStack network id",
    default: "the network most nodes' default NICs are on",
    managed: false,
    origin: "leaseweb fork",
    description:
      "The guest network (or VPC tier) the LB is built on, for clusters whose nodes span several networks; only nodes with a NIC in it are members. Changing it moves the LB to a new IP on that network."
  },
  {
    key: STICKY_METHOD,
    type: "`LbCookie` / `AppCookie` / `SourceBased`",
    default: "none",
    managed: false,
    origin: "cloudstack-ccm",
    description:
      "A stickiness policy on every rule, validated against the network's `SupportedStickinessMethods`; created, replaced or deleted with the annotation. `...-stickyness-method-name` (the Go CCM PR #88 spelling) is read too."
  },
  {
    key: STICKY_PARAMS,
    type: "`k=v,k=v`",
    default: "none",
    managed: false,
    origin: "cloudstack-ccm",
    description:
      "The policy's parameters (a flag parameter without `=v`), e.g. `cookie-name=srv,nocache`. `...-stickyness-method-param` is read too."
  },
  {
    key: HEALTH_CHECK,
    type: "`true` / `false`",
    default: "`true` where the network's Lb provider offers `HealthCheckPolicy`",
    managed: false,
    origin: "cloudstack-ccm",
    description:
      "A health-check policy on every TCP rule, checking the rule's nodePort (the provider picks the kind: Netscaler checks the path over HTTP for port 80 and cookie stickiness, a TCP connect otherwise); `false` removes it. On the virtual router (no health checks) any health-check annotation is one Warning."
  },
  {
    key: HEALTH_CHECK_PATH,
    type: "path",
    default: "`/`",
    managed: false,
    origin: "cloudstack-ccm",
    description: "The health check's ping path (`pingpath`)."
  },
  {
    key: HEALTH_CHECK_INTERVAL,
    type: "seconds",
    default: "`5`",
    managed: false,
    origin: "cloudstack-ccm",
    description: "Seconds between checks (`intervaltime`); more than the timeout."
  },
  {
    key: HEALTH_CHECK_TIMEOUT,
    type: "seconds",
    default: "`2`",
    managed: false,
    origin: "cloudstack-ccm",
    description: "Seconds a check may take (`responsetimeout`)."
  },
  {
    key: HEALTH_CHECK_HEALTHY,
    type: "count",
    default: "`2`",
    managed: false,
    origin: "cloudstack-ccm",
    description: "Consecutive successes before a member is healthy (`healthythreshold`)."
  },
  {
    key: HEALTH_CHECK_UNHEALTHY,
    type: "count",
    default: "`1`",
    managed: false,
    origin: "cloudstack-ccm",
    description: "Consecutive failures before a member is unhealthy (`unhealthythreshold`)."
  },
  {
    key: HOSTNAME,
    type: "hostname",
    default: "none",
    managed: false,
    origin: "Go CCM",
    description:
      "Publish this hostname instead of the IP in `status.loadBalancer.ingress` (keeps kube-proxy from short-circuiting the LB IP)."
  },
  {
    key: KEEP_IP,
    type: "`true` / `false`",
    default: "`false`",
    managed: false,
    origin: "leaseweb fork",
    description:
      "Never release the public IP when the LB is deleted or moves off it, even if this CCM associated it. An IP this CCM associated is then tagged `cloudstack-ccm/keep-ip`: no other Service sharing it, nor the orphan report, releases it either."
  },
  {
    key: IP_ID,
    type: "CloudStack IP id",
    default: "written",
    managed: true,
    origin: "leaseweb fork",
    description: "The public IP's id, recorded as soon as the IP is known, so a crash never loses track of it."
  },
  {
    key: IP_ASSOCIATED,
    type: "`true`",
    default: "written",
    managed: true,
    origin: "Go CCM",
    description: "Present when this CCM associated the IP: only such an IP is ever released."
  },
  {
    key: STICKY_APPLIED,
    type: "`true`",
    default: "written",
    managed: true,
    origin: "cloudstack-ccm",
    description:
      "Present while this CCM keeps stickiness policies on the Service's rules, so removing the annotation removes them."
  },
  {
    key: IP_ALLOCATING,
    type: "IP address",
    default: "written",
    managed: true,
    origin: "cloudstack-ccm",
    description:
      "The free address this CCM is associating, written before `associateIpAddress` so a crash in between adopts the IP instead of leaking it."
  }
]

/** Keys the controller writes: their changes never trigger a sync. */
export const managedKeys: ReadonlySet<string> = new Set(catalogue.filter((a) => a.managed).map((a) => a.key))

/** A bad annotation value: the user's to fix (Warning Event, no cloud change). */
export class InvalidAnnotationError extends Data.TaggedError("InvalidAnnotationError")<{
  readonly key: string
  readonly value: string
  readonly expected: string
}> {
  override get message(): string {
    return `annotation ${this.key}: ${
      JSON.stringify(this.value.slice(0, 200))
    } is not valid (expected ${this.expected})`
  }
}

/** The user-set annotations, decoded. */
export interface LbAnnotations {
  readonly address: Option.Option<string>
  readonly proxyProtocol: boolean
  readonly algorithm: Option.Option<LbAlgorithm>
  readonly sourceCidrs: Option.Option<ReadonlyArray<string>>
  readonly sourceRanges: Option.Option<ReadonlyArray<string>>
  readonly hostname: Option.Option<string>
  readonly keepIp: boolean
  readonly networkId: Option.Option<string>
  readonly sticky: Option.Option<Stickiness>
  readonly healthCheck: HealthCheck
}

export interface Stickiness {
  readonly method: StickyMethod
  /** Parameter name → value ("" for a flag). */
  readonly params: Readonly<Record<string, string>>
}

export interface HealthCheck {
  /** Explicitly on or off; None: on where the provider offers health checks. */
  readonly enabled: Option.Option<boolean>
  readonly path: Option.Option<string>
  readonly interval: Option.Option<number>
  readonly timeout: Option.Option<number>
  readonly healthy: Option.Option<number>
  readonly unhealthy: Option.Option<number>
}

const decodeOne = <A, I extends string>(
  annotations: Readonly<Record<string, string>>,
  key: string,
  schema: Schema.Schema<A, I>,
  expected: string,
  errors: Array<InvalidAnnotationError>
): Option.Option<A> => {
  const raw = annotations[key]
  if (raw === undefined) return Option.none()
  const decoded = Schema.decodeUnknownEither(schema)(raw.trim())
  if (Either.isRight(decoded)) return Option.some(decoded.right)
  errors.push(new InvalidAnnotationError({ key, value: raw, expected }))
  return Option.none()
}

/** Decodes every user-set annotation; all invalid values are reported together. */
export const decode = (
  annotations: Readonly<Record<string, string>>
): Either.Either<LbAnnotations, ReadonlyArray<InvalidAnnotationError>> => {
  const errors: Array<InvalidAnnotationError> = []
  const result: LbAnnotations = {
    address: decodeOne(annotations, ADDRESS, ipAddress, "an IP address", errors),
    proxyProtocol: Option.getOrElse(
      decodeOne(annotations, PROXY_PROTOCOL, literalBoolean, "\"true\" or \"false\"", errors),
      () => false
    ),
    algorithm: decodeOne(annotations, ALGORITHM, algorithm, "roundrobin, leastconn or source", errors),
    sourceCidrs: decodeOne(annotations, SOURCE_CIDRS, CidrListFromString, "comma-separated CIDRs", errors),
    sourceRanges: decodeOne(annotations, SOURCE_RANGES, CidrListFromString, "comma-separated CIDRs", errors),
    hostname: decodeOne(annotations, HOSTNAME, hostname, "a lowercase DNS hostname", errors),
    keepIp: Option.getOrElse(
      decodeOne(annotations, KEEP_IP, literalBoolean, "\"true\" or \"false\"", errors),
      () => false
    ),
    networkId: decodeOne(annotations, NETWORK_ID, uuid, "a CloudStack network id (UUID)", errors),
    sticky: Option.map(
      Option.orElse(
        decodeOne(annotations, STICKY_METHOD, stickyMethod, "LbCookie, AppCookie or SourceBased", errors),
        () => decodeOne(annotations, STICKYNESS_METHOD, stickyMethod, "LbCookie, AppCookie or SourceBased", errors)
      ),
      (method): Stickiness => ({
        method,
        params: Option.getOrElse(
          Option.orElse(
            decodeOne(annotations, STICKY_PARAMS, ParamsFromString, "k=v pairs separated by commas", errors),
            () => decodeOne(annotations, STICKYNESS_PARAM, ParamsFromString, "k=v pairs separated by commas", errors)
          ),
          () => ({})
        )
      })
    ),
    healthCheck: {
      enabled: decodeOne(annotations, HEALTH_CHECK, literalBoolean, "\"true\" or \"false\"", errors),
      path: decodeOne(annotations, HEALTH_CHECK_PATH, pingPath, "a path starting with /", errors),
      interval: decodeOne(annotations, HEALTH_CHECK_INTERVAL, seconds, "whole seconds, 1 to 600", errors),
      timeout: decodeOne(annotations, HEALTH_CHECK_TIMEOUT, seconds, "whole seconds, 1 to 600", errors),
      healthy: decodeOne(annotations, HEALTH_CHECK_HEALTHY, threshold, "a count, 1 to 100", errors),
      unhealthy: decodeOne(annotations, HEALTH_CHECK_UNHEALTHY, threshold, "a count, 1 to 100", errors)
    }
  }
  for (const key of [STICKY_PARAMS, STICKYNESS_PARAM]) {
    const raw = annotations[key]
    if (
      raw !== undefined && Option.isNone(result.sticky) && annotations[STICKY_METHOD] === undefined &&
      annotations[STICKYNESS_METHOD] === undefined
    ) {
      errors.push(
        new InvalidAnnotationError({
          key,
          value: raw,
          expected: `parameters of a stickiness method set with ${STICKY_METHOD}`
        })
      )
    }
  }
  return errors.length === 0 ? Either.right(result) : Either.left(errors)
}
