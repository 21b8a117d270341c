/**
 * Whether the caller's role may run every command the enabled features need (RequiredCommands
 * against listApis), one check per feature: a missing command of an enabled feature fails; one of
 * a disabled feature is only noted. Pure.
 */
import { Option } from "effect"
import { type Feature, isNeeded, REQUIRED_COMMANDS } from "../provider/RequiredCommands.js"
import { type Check, check, type Level } from "./Check.js"

export interface CommandStatus {
  readonly command: string
  readonly use: string
  readonly features: ReadonlyArray<Feature>
  /** Whether an enabled feature needs it. */
  readonly needed: boolean
  /** None when listApis could not tell. */
  readonly allowed: Option.Option<boolean>
}

const FEATURE_LABELS: Readonly<Record<Feature, string>> = {
  nodes: "the cloud-node and cloud-node-lifecycle controllers",
  loadBalancers: "the service controller (LoadBalancer Services)",
  project: "resolving project-id by name"
}

const FEATURES: ReadonlyArray<Feature> = ["nodes", "loadBalancers", "project"]

/** Every catalogue command with whether it is needed and allowed (`allowed`: listApis' names, None if unknown). */
export const statuses = (
  allowed: Option.Option<ReadonlySet<string>>,
  enabled: ReadonlySet<Feature>
): ReadonlyArray<CommandStatus> =>
  REQUIRED_COMMANDS.map((c) => ({
    command: c.command,
    use: c.use,
    features: c.features,
    needed: isNeeded(c, enabled),
    allowed: Option.map(allowed, (names) => names.has(c.command))
  }))

const listed = (missing: ReadonlyArray<CommandStatus>): string =>
  missing.map((m) => `${m.command} (${m.use})`).join(", ")

/** One check per feature, id `permissions.<feature>`. */
export const checks = (
  all: ReadonlyArray<CommandStatus>,
  enabled: ReadonlySet<Feature>,
  unknownWhy: string
): ReadonlyArray<Check> =>
  FEATURES.map((feature) => {
    const id = `permissions.${feature}`
    const mine = all.filter((s) => s.features.includes(feature))
    const on = enabled.has(feature)
    if (mine.some((s) => Option.isNone(s.allowed))) {
      return check(
        id,
        on ? "warn" : "skip",
        `cannot tell whether ${FEATURE_LABELS[feature]} may run its ${mine.length} commands: ${unknownWhy}`
      )
    }
    const missing = mine.filter((s) => Option.contains(s.allowed, false))
    const level: Level = missing.length === 0 ? (on ? "ok" : "skip") : on ? "fail" : "note"
    const text = missing.length === 0
      ? on
        ? `${mine.length === 1 ? "the command" : `all ${mine.length} commands`} of ${FEATURE_LABELS[feature]} allowed`
        : `not needed: ${FEATURE_LABELS[feature]} not enabled`
      : `${on ? "" : "not enabled, but "}the role may not run ${missing.length} of the ${mine.length} commands of ${
        FEATURE_LABELS[feature]
      }: ${listed(missing)}`
    return check(id, level, text)
  })
