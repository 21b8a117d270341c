/**
 * Checks the simulator's rule commands share (load balancer, firewall and ACL rules): the CIDR
 * list, the rule text of conflict messages and the network offering that decides which services a
 * network has. Pure over the store.
 */
import { Either } from "effect"
import { type Fail, invalid } from "./Fail.js"
import { isCidr } from "./Ipv4.js"
import type { Params } from "./Params.js"
import type { NetworkRow } from "./SimModel.js"
import type { Store } from "./Store.js"

/** FirewallRuleVO.toString: `Rule[<internal id>-<Purpose>-<State>]`. */
export const ruleString = (r: { readonly internalId: number; readonly state: string }, purpose: string) =>
  `Rule[${r.internalId}-${purpose}-${r.state}]`

/** The `cidrlist` parameter; `text` is the command's own message for a bad entry. */
export const cidrsOf = (p: Params, text: (bad: string) => string): Either.Either<ReadonlyArray<string>, Fail> => {
  const cidrs = p.list("cidrlist")
  for (const x of cidrs) if (!isCidr(x)) return Either.left(invalid(text(x)))
  return Either.right(cidrs)
}

export const offeringOf = (s: Store, n: NetworkRow) => s.offerings.get(n.offeringUuid)
