/** LB reads that die when asked (a test's `overrides` answer what it reads). */
import { Effect } from "effect"
import type { LbReads } from "../../src/provider/loadbalancer/Reads.js"

export const unreadable = (why: string, overrides: Partial<LbReads> = {}): LbReads => {
  const unused = Effect.dieMessage(why)
  return {
    rulesOnIp: () => unused,
    rulesNamed: () => unused,
    ipById: () => unused,
    ipByAddress: () => unused,
    firewallOnIp: () => unused,
    aclItems: () => unused,
    members: () => unused,
    stickiness: () => unused,
    healthChecks: () => unused,
    ...overrides
  }
}
