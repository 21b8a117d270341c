/**
 * The orphan report: what `cloudstack-ccm orphans` found and did, as readable text or JSON. Every
 * text that came from CloudStack or Kubernetes (names, addresses, tag values, error texts) goes
 * through the caller's `clean` (secret redaction, no control characters) before it is shown. Pure.
 */
import type { Redactor } from "../cloudstack/Redact.js"
import type { OrphanPlan, ResourceKind, Step } from "./OrphanPlan.js"

/** What became of one step under `--delete`. */
export type Outcome =
  | { readonly _tag: "Deleted" }
  | { readonly _tag: "Failed"; readonly error: string }
  | { readonly _tag: "Skipped"; readonly why: string }

export interface StepResult {
  readonly step: Step
  readonly outcome: Outcome
}

export interface ReportEntry {
  readonly kind: ResourceKind
  readonly id: string
  /** Name, address or ports and where. */
  readonly name: string
  readonly why: string
}

export interface Report {
  readonly cluster: string
  readonly mode: "dry-run" | "delete"
  readonly orphans: ReadonlyArray<ReportEntry & { readonly action: "delete" | "release" }>
  readonly left: ReadonlyArray<ReportEntry>
  /** Only with `--delete`, in the order the steps ran. */
  readonly results: ReadonlyArray<{
    readonly kind: ResourceKind
    readonly id: string
    readonly name: string
    readonly outcome: "deleted" | "failed" | "skipped"
    readonly detail?: string
  }>
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/** Redaction, then control characters (terminal escapes in a rule name) shown as `?`. */
export const cleaner = (redactor: Redactor) => (text: string): string => redactor(text).replace(CONTROL, "?")

/** The report of a plan, with the results of `--delete` if it ran. */
export const make = (
  cluster: string,
  plan: OrphanPlan,
  results: ReadonlyArray<StepResult> | undefined,
  clean: (text: string) => string
): Report => ({
  cluster,
  mode: results === undefined ? "dry-run" : "delete",
  orphans: plan.steps.map((step) => ({
    kind: step.resource.kind,
    id: clean(step.resource.id),
    name: clean(step.resource.label),
    why: clean(step.why),
    action: step._tag === "ReleaseIp" ? "release" : "delete"
  })),
  left: plan.left.map((l) => ({
    kind: l.resource.kind,
    id: clean(l.resource.id),
    name: clean(l.resource.label),
    why: clean(l.why)
  })),
  results: (results ?? []).map(({ outcome, step }) => {
    const base = { kind: step.resource.kind, id: clean(step.resource.id), name: clean(step.resource.label) }
    switch (outcome._tag) {
      case "Deleted":
        return { ...base, outcome: "deleted" as const }
      case "Failed":
        return { ...base, outcome: "failed" as const, detail: clean(outcome.error) }
      case "Skipped":
        return { ...base, outcome: "skipped" as const, detail: clean(outcome.why) }
    }
  })
})

/** Deletions that did not succeed (failed or skipped because of a failure). */
export const unsuccessful = (report: Report): number => report.results.filter((r) => r.outcome !== "deleted").length

const KIND: Readonly<Record<ResourceKind, string>> = {
  PublicIpAddress: "public IP",
  LoadBalancerRule: "LB rule",
  FirewallRule: "firewall rule",
  NetworkAclItem: "ACL item"
}

const ACTION: Readonly<Record<ResourceKind, string>> = {
  PublicIpAddress: "release the IP (disassociateIpAddress)",
  LoadBalancerRule: "delete the rule (deleteLoadBalancerRule)",
  FirewallRule: "delete the firewall rule (deleteFirewallRule)",
  NetworkAclItem: "delete the ACL item (deleteNetworkACL)"
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** In deletion order. */
const KINDS: ReadonlyArray<ResourceKind> = ["FirewallRule", "NetworkAclItem", "LoadBalancerRule", "PublicIpAddress"]

const byKind = (entries: ReadonlyArray<{ readonly kind: ResourceKind }>): string => {
  const kinds = KINDS.flatMap((k) => {
    const n = entries.filter((e) => e.kind === k).length
    return n === 0 ? [] : [count(n, KIND[k])]
  })
  return kinds.length === 0 ? "" : ` (${kinds.join(", ")})`
}

/** The human-readable report. */
export const renderText = (report: Report): string => {
  const lines: Array<string> = []
  lines.push(
    `cloudstack-ccm orphans, cluster ${JSON.stringify(report.cluster)}: ${count(report.orphans.length, "orphan")}${
      byKind(report.orphans)
    }, ` +
      `${count(report.left.length, "resource")} left alone` +
      (report.mode === "dry-run" ? " (dry run: nothing was changed)" : "")
  )
  if (report.orphans.length > 0) {
    lines.push("", report.mode === "dry-run" ? "Orphans (--delete removes them in this order):" : "Orphans:")
    for (const o of report.orphans) {
      lines.push(`  ${KIND[o.kind]} ${o.id} ${o.name}`, `    why:    ${o.why}`, `    action: ${ACTION[o.kind]}`)
    }
  }
  if (report.left.length > 0) {
    lines.push("", "Left alone:")
    for (const l of report.left) lines.push(`  ${KIND[l.kind]} ${l.id} ${l.name}`, `    why:    ${l.why}`)
  }
  if (report.mode === "delete") {
    if (report.results.length > 0) {
      lines.push("", "Results:")
      for (const r of report.results) {
        lines.push(
          `  ${r.outcome.padEnd(7)} ${KIND[r.kind]} ${r.id} ${r.name}${r.detail === undefined ? "" : `: ${r.detail}`}`
        )
      }
    }
    const n = (o: string) => report.results.filter((r) => r.outcome === o).length
    lines.push("", `Summary: ${n("deleted")} deleted, ${n("failed")} failed, ${n("skipped")} skipped.`)
  } else if (report.orphans.length > 0) {
    lines.push("", "Run again with --delete to remove the orphans.")
  }
  return lines.join("\n")
}

/** The report as one JSON document (stable key order). */
export const renderJson = (report: Report): string => JSON.stringify(report, null, 2)
