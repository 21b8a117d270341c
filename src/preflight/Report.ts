/**
 * The preflight's result and its two renderings: a readable report (sections, one line per check,
 * each network with its findings, a verdict) and JSON (`--output json`). The verdict is defined
 * here: the CCM can do its job when no check failed. Pure.
 */
import { Option } from "effect"
import type { Check, Level } from "./Check.js"
import type { NetworkReport } from "./Networks.js"
import type { CommandStatus } from "./Permissions.js"

export interface PreflightReport {
  readonly cloudConfig: string
  /** The api-url without credentials. */
  readonly apiUrl: string
  /** The enabled controllers the permissions were checked for. */
  readonly controllers: ReadonlyArray<string>
  readonly checks: ReadonlyArray<Check>
  /** Every command of RequiredCommands with whether it is needed and allowed (empty before listApis). */
  readonly commands: ReadonlyArray<CommandStatus>
  /** The networks that have VMs of the account (in the configured zone). */
  readonly networks: ReadonlyArray<NetworkReport>
}

/** The failed checks: the CCM cannot do its job while there is one. */
export const failures = (report: PreflightReport): ReadonlyArray<Check> =>
  report.checks.filter((c) => c.level === "fail")

export const passed = (report: PreflightReport): boolean => failures(report).length === 0

const LABEL: Readonly<Record<Level, string>> = { ok: "ok", note: "note", warn: "WARN", fail: "FAIL", skip: "skip" }

const SECTIONS: ReadonlyArray<readonly [string, (id: string) => boolean]> = [
  ["Endpoint", (id) => id.startsWith("endpoint.")],
  ["Server and credentials", (id) => id === "http" || id === "credentials" || id === "version"],
  ["Permissions (listApis)", (id) => id.startsWith("permissions.")],
  ["Project, zone and VMs", (id) => id === "project" || id === "zone" || id === "vms"]
]

const line = (level: Level, name: string, text: string, indent = "  ") =>
  `${indent}${LABEL[level].padEnd(5)} ${name === "" ? "" : `${name.padEnd(14)}`}${text}`

const shortId = (id: string): string => id.slice(id.indexOf(".") + 1)

const networkBlock = (n: NetworkReport): ReadonlyArray<string> => [
  `  ${n.name} (${n.kind}, id ${n.id}; ${n.vms.length} VM${n.vms.length === 1 ? "" : "s"}: ${n.vms.join(", ")})`,
  ...n.findings.map((f) => line(f.level, "", f.text, "    "))
]

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`

/** The verdict line. */
export const summary = (report: PreflightReport): string => {
  const failed = failures(report)
  const warnings =
    [...report.checks, ...report.networks.flatMap((n) => n.findings)].filter((c) => c.level === "warn").length
  return failed.length === 0
    ? `Result: OK, the CCM can do its job${warnings === 0 ? "" : ` (${count(warnings, "warning")})`}`
    : `Result: FAILED, ${count(failed.length, "problem")} (${failed.map((c) => c.id).join(", ")})`
}

/** The readable report (no trailing newline). */
export const renderText = (report: PreflightReport): string => {
  const head = `cloudstack-ccm check: ${report.cloudConfig} -> ${report.apiUrl}` +
    (report.controllers.length === 0 ? " (no controller enabled)" : ` (controllers: ${report.controllers.join(", ")})`)
  const sections = SECTIONS.flatMap(([title, member]) => {
    const mine = report.checks.filter((c) => member(c.id))
    return mine.length === 0 ? [] : ["", title, ...mine.map((c) => line(c.level, shortId(c.id), c.text))]
  })
  const networks = report.networks.length === 0
    ? []
    : ["", "Networks with the account's VMs", ...report.networks.flatMap(networkBlock)]
  return [head, ...sections, ...networks, "", summary(report)].join("\n")
}

/** The report as a JSON value (Options become null). */
export const toJson = (report: PreflightReport) => ({
  ok: passed(report),
  cloudConfig: report.cloudConfig,
  apiUrl: report.apiUrl,
  controllers: report.controllers,
  checks: report.checks.map((c) => ({ id: c.id, level: c.level, text: c.text })),
  commands: report.commands.map((c) => ({
    command: c.command,
    use: c.use,
    features: c.features,
    needed: c.needed,
    allowed: Option.getOrNull(c.allowed)
  })),
  networks: report.networks.map((n) => ({
    id: n.id,
    name: n.name,
    kind: n.kind,
    vms: n.vms,
    lb: Option.getOrNull(n.lb),
    access: n.access,
    findings: n.findings
  }))
})
