/**
 * Load-balancer and rule names, compatible with the Go CCM so its rules are adopted as they are:
 * lbName = "a" + the Service UID without dashes, 32 characters at most (k8s
 * cloudprovider.DefaultLoadBalancerName); a rule is `<lbName>-<tcp|udp|tcp-proxy>-<public port>`.
 * Pure.
 */
import type { LbProtocol } from "../../cloudstack/commands/LoadBalancers.js"

export const lbName = (uid: string): string => `a${uid.replace(/-/g, "")}`.slice(0, 32)

/**
 * The leaseweb fork's name, `K8s_svc_<cluster>_<namespace>_<service>` (`--cluster-name`), cut at
 * 255: its rules are adopted under it, never renamed or recreated.
 */
export const forkName = (cluster: string, namespace: string, service: string): string =>
  `K8s_svc_${cluster}_${namespace}_${service}`.slice(0, 255)

export const ruleName = (name: string, protocol: LbProtocol, port: number): string => `${name}-${protocol}-${port}`

export interface ParsedRuleName {
  readonly protocol: LbProtocol
  readonly port: number
}

/** Exactly what `ruleName` (and the Go CCM's `%d`) writes: no leading zero. */
const PROTOCOL_AND_PORT = /^(tcp-proxy|tcp|udp)-([1-9]\d{0,4})$/

/** The protocol and port of a rule name made for `name`; undefined for any other rule. */
export const parseRuleName = (name: string, rule: string): ParsedRuleName | undefined => {
  if (!rule.startsWith(`${name}-`)) return undefined
  const match = PROTOCOL_AND_PORT.exec(rule.slice(name.length + 1))
  if (match === null) return undefined
  const [, protocol, port] = match
  const n = Number(port)
  if (n < 1 || n > 65535) return undefined
  return protocol === "tcp" || protocol === "udp" || protocol === "tcp-proxy" ? { protocol, port: n } : undefined
}

/** Whether a rule (by name) belongs to the LB called `name`. */
export const isOwnRule = (name: string, rule: string): boolean => parseRuleName(name, rule) !== undefined

/** The protocol and port of a rule named by any of `names` (this CCM's first, then older schemes). */
export const parseAnyRuleName = (names: ReadonlyArray<string>, rule: string): ParsedRuleName | undefined => {
  for (const name of names) {
    const parsed = parseRuleName(name, rule)
    if (parsed !== undefined) return parsed
  }
  return undefined
}
