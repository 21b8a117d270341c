/**
 * Which IP a load balancer goes on (part of the planner, Plan.ts): the requested address, else the
 * IP that already carries the Service's rules or its record, else a new one. Pure.
 */
import { Either, Option } from "effect"
import type { NetworkProfile } from "./NetworkProfile.js"
import type { ObservedIp, ObservedLb, RequestedIp } from "./ObservedLb.js"
import { type DesiredLb, IpRef, LbUserError, type Target } from "./PlanSteps.js"

/** The IP for the LB's rules (None when it has no port), or why the requested one cannot be used. */
export const chooseTarget = (d: DesiredLb, o: ObservedLb): Either.Either<Option.Option<Target>, LbUserError> => {
  if (d.spec.ports.length === 0) return Either.right(Option.none())
  const existing = (ip: ObservedIp): Option.Option<Target> => Option.some({ _tag: "Existing", ip })
  if (Option.isSome(d.spec.requestedIp)) {
    const address = d.spec.requestedIp.value
    const held = o.ips.find((ip) => ip.address === address && !ip.releasing && usableIn(ip, d.network))
    if (held !== undefined) return Either.right(existing(held))
    const other = o.ips.find((ip) => ip.address === address)
    if (other !== undefined) {
      return Either.left(
        new LbUserError({
          reason: "LoadBalancerIPNotAvailable",
          detail: other.releasing
            ? `IP ${address} cannot be used yet: a release of it failed half way; it is released again, then associated anew`
            : `IP ${address} cannot be used: it is bound to another network than ${d.network.name}`
        })
      )
    }
    const unknown: RequestedIp = { _tag: "Unavailable", address, why: "it could not be looked up" }
    const requested = Option.getOrElse(o.requested, () => unknown)
    switch (requested._tag) {
      case "Free":
        return Either.right(Option.some({ _tag: "Acquire", address: Option.some(address) }))
      case "Available":
        return Either.right(existing(requested.ip))
      case "Unavailable":
        return Either.left(
          new LbUserError({
            reason: "LoadBalancerIPNotAvailable",
            detail: `IP ${address} cannot be used: ${requested.why}`
          })
        )
    }
  }
  // An IP already bound to another network cannot carry this LB's rules (its network changed). Nor,
  // for a Service that asks for no address, an IP where it has no rule and where another Service's
  // rule holds a port it wants (others asked for that address since): it would never serve that port.
  const wanted = new Set(d.spec.ports.map((p) => p.publicPort))
  const ruled = new Set(o.rules.map((r) => r.ipId))
  const blocked = (ip: ObservedIp) => !ruled.has(ip.id) && ip.foreignPorts.some((port) => wanted.has(port))
  const usable = o.ips.filter((ip) => !ip.releasing && usableIn(ip, d.network) && !blocked(ip))
  const withRules = usable.filter((ip) => ruled.has(ip.id))
  const current = withRules.find((ip) => ip.recorded) ?? withRules[0] ?? usable.find((ip) => ip.recorded) ?? usable[0]
  return Either.right(
    current !== undefined ? existing(current) : Option.some({ _tag: "Acquire", address: Option.none() })
  )
}

/** Whether rules for `network` may go on `ip`: not associated yet, or associated with that network. */
const usableIn = (ip: ObservedIp, network: NetworkProfile): boolean =>
  Option.match(ip.associatedNetworkId, {
    onNone: () =>
      Option.isNone(ip.vpcId) || Option.getEquivalence((a: string, b: string) => a === b)(ip.vpcId, network.vpcId),
    onSome: (id) => id === network.id
  })

/** How steps name the target IP. */
export const refOf = (target: Target): IpRef =>
  target._tag === "Existing" ? IpRef.Existing({ id: target.ip.id }) : IpRef.Acquired()
