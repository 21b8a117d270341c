/**
 * What an ensure that fails as the user's error still settles: an association cut short (the
 * record's `allocating` address). Such an ensure stops before any plan runs, every time, so the
 * record would claim the address for as long as the user's error lasts, and another Service asking
 * for that address would be told it is being associated, for ever. Nothing that carries traffic is
 * touched (no outage for a typo). Pure.
 */
import { Option } from "effect"
import type { ObservedBase } from "./Observe.js"
import type { Ownership } from "./Ownership.js"
import { IpRef, Step, TagTarget } from "./PlanSteps.js"
import * as Tags from "./Tags.js"

export interface SettleInput {
  readonly ownership: Ownership
  /** The Service's IPs and rules as observed (the adopted address among them when it is ours). */
  readonly observed: ObservedBase
  /** The address the Service asks for, if any. */
  readonly requestedIp: Option.Option<string>
  /** Whom to tag an IP kept for (None: `--lb-ownership-tags=false`). */
  readonly owner: Option.Option<Tags.Owner>
}

/**
 * The steps settling `allocating`: an address the Service cannot use (it asks for another, or keeps
 * the IP it records) is given back; one it may still use becomes its recorded IP (and is tagged);
 * one that did not become ours is forgotten.
 */
export const settleAllocating = (input: SettleInput): ReadonlyArray<Step> => {
  const { observed, ownership } = input
  if (Option.isNone(ownership.allocating)) return []
  const address = ownership.allocating.value
  const record = (ip: Option.Option<IpRef>, associated: boolean) =>
    Step.Persist({ ip, associated, stickyApplied: ownership.stickyApplied })
  const current = record(Option.map(ownership.ipId, (id) => IpRef.Existing({ id })), ownership.associated)
  const adopted = observed.ips.find((ip) => ip.address === address && ip.owned && !ip.recorded)
  if (adopted === undefined) return [current]
  // Rules on it: a move onto it that stopped half way, serving already. Left as it is.
  if (adopted.foreignRules > 0 || observed.rules.some((r) => r.ipId === adopted.id)) return []
  // Not the address it asks for, or not the IP it records (a move away from which stopped): unused.
  if (Option.exists(input.requestedIp, (r) => r !== address) || Option.isSome(ownership.ipId)) {
    return [Step.ReleaseIp({ id: adopted.id, address }), current]
  }
  const tags = Option.match(Option.all([input.owner, adopted.tags]), {
    onNone: () => [],
    onSome: ([owner, have]) => Tags.missing(owner, have)
  })
  return [
    record(Option.some(IpRef.Existing({ id: adopted.id })), true),
    ...(tags.length === 0
      ? []
      : [Step.Tag({ resourceType: "PublicIpAddress", targets: [TagTarget.Existing({ id: adopted.id })], tags })])
  ]
}
