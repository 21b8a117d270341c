/**
 * What this CCM records on a Service about the public IP it uses, in the compatible annotations
 * (the fork's `...-id`, upstream's `...-ip-associated-by-controller`) plus `...-ip-allocating`,
 * written before an association so that a crash between the call and its record adopts the IP
 * instead of leaking it. Pure.
 */
import { Option } from "effect"
import { IpAddressId } from "../../cloudstack/Ids.js"
import { IP_ALLOCATING, IP_ASSOCIATED, IP_ID, STICKY_APPLIED } from "./Annotations.js"

export interface Ownership {
  /** The IP the LB uses (or used last). */
  readonly ipId: Option.Option<IpAddressId>
  /** This CCM (or the Go CCM, whose annotation it is) associated `ipId`: only then may it be released. */
  readonly associated: boolean
  /** A free address being associated right now; adopted if found allocated on the LB's network. */
  readonly allocating: Option.Option<string>
  /** This CCM keeps stickiness policies on the rules (so they go when the annotation goes). */
  readonly stickyApplied: boolean
}

export const empty: Ownership = {
  ipId: Option.none(),
  associated: false,
  allocating: Option.none(),
  stickyApplied: false
}

export const fromAnnotations = (annotations: Readonly<Record<string, string>>): Ownership => {
  const id = annotations[IP_ID]?.trim() ?? ""
  const allocating = annotations[IP_ALLOCATING]?.trim() ?? ""
  return {
    ipId: id === "" ? Option.none() : Option.some(IpAddressId.make(id)),
    associated: annotations[IP_ASSOCIATED] === "true",
    allocating: allocating === "" ? Option.none() : Option.some(allocating),
    stickyApplied: annotations[STICKY_APPLIED] === "true"
  }
}

/** The annotation patch that records `o` (`null` removes a key). */
export const toAnnotations = (o: Ownership): Readonly<Record<string, string | null>> => ({
  [IP_ID]: Option.getOrNull(o.ipId),
  [IP_ASSOCIATED]: o.associated && Option.isSome(o.ipId) ? "true" : null,
  [IP_ALLOCATING]: Option.getOrNull(o.allocating),
  [STICKY_APPLIED]: o.stickyApplied ? "true" : null
})

export const equals = (a: Ownership, b: Ownership): boolean =>
  Option.getOrNull(a.ipId) === Option.getOrNull(b.ipId) &&
  (a.associated && Option.isSome(a.ipId)) === (b.associated && Option.isSome(b.ipId)) &&
  Option.getOrNull(a.allocating) === Option.getOrNull(b.allocating) &&
  a.stickyApplied === b.stickyApplied
