/**
 * What a drift pass counts as repaired, by kind: the steps of a dry run's plan that change the
 * cloud's state by hand-made drift (not members, audited rule by rule, nor the record on the Service).
 * Pure.
 */
import type { Step } from "./Plan.js"

/** What a drift pass can find changed by hand (the `kind` label of `cloudstack_ccm_lb_drift_repaired_total`). */
export type DriftKind = "ip" | "rule" | "firewall" | "acl" | "tag"

export const driftKindOf = (step: Step): DriftKind | undefined => {
  switch (step._tag) {
    case "AcquireIp":
    case "ReleaseIp":
      return "ip"
    case "CreateRule":
    case "UpdateRule":
    case "DeleteRule":
      return "rule"
    case "CreateFirewall":
    case "DeleteFirewall":
      return "firewall"
    case "CreateAcl":
    case "DeleteAcl":
      return "acl"
    case "Tag":
      // Tags for what the plan creates come with that repair; only a tag missing from a resource that stays drifted.
      return step.targets.some((t) => t._tag === "Existing") ? "tag" : undefined
    default:
      // members are audited rule by rule; the record on the Service is not the cloud's state
      return undefined
  }
}
