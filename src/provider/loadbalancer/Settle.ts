/**
 * What an ensure that fails as the user's error still settles. Such an ensure stops before any plan
 * runs, every time, for as long as the user's error lasts; meanwhile an association cut short (the
 * record's `allocating` address) would claim the address, and another Service asking for it would
 * be told it is being associated, for ever; and the IP the Service keeps would lack the tags that
 * tell the last Service sharing it to release it; and a release of ours that failed half way (the
 * IP `Releasing`) would never end. Nothing that carries traffic is touched (no outage for a typo). Pure.
 */
import { Option } from "effect"
import type { ObservedBase } from "./Observe.js"
import type { ObservedIp } from "./ObservedLb.js"
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
  /** keep-ip: the IP is the user's to keep, never retagged as this cluster's (as in PlanTags). */
  readonly keepIp: boolean
}

/** The steps settling `allocating`, then tags for the IP the Service keeps (see `settleAllocating`). */
export const settle = (input: SettleInput): ReadonlyArray<Step> => {
  // The IP it records and associated (read whole, so its tags are known) stays while the error
  // lasts: tagged as this CCM's, so that the last Service sharing it releases it (Observe's `givingUp`).
  const kept = input.observed.ips.filter((ip) => ip.recorded && ip.owned && !ip.releasing)
  // A release of ours that failed half way carries nothing any more: CloudStack frees it only if asked again.
  const halfReleased = input.observed.ips.filter((ip) => ip.owned && ip.releasing)
  return [
    ...halfReleased.map((ip) => Step.ReleaseIp({ id: ip.id, address: ip.address })),
    ...settleAllocating(input),
    ...kept.flatMap((ip) => tagStep(input, ip))
  ]
}

const tagStep = (input: SettleInput, ip: ObservedIp): ReadonlyArray<Step> => {
  const owner = input.keepIp ? Option.none() : input.owner
  const tags = Option.match(Option.all([owner, ip.tags]), {
    onNone: () => [],
    onSome: ([o, have]) => Tags.missing(o, have)
  })
  return tags.length === 0
    ? []
    : [Step.Tag({ resourceType: "PublicIpAddress", targets: [TagTarget.Existing({ id: ip.id })], tags })]
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
  return [record(Option.some(IpRef.Existing({ id: adopted.id })), true), ...tagStep(input, adopted)]
}
