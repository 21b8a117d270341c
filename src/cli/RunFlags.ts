/**
 * The k8s cloud-controller-manager command line (reference A5), parsed the way Go's pflag does:
 * `--flag=value`, `--flag value`, bare `--bool`, `-v=N`/`-v N`; unknown flags are errors, the other
 * k8s CCM flags we do not implement are accepted with a warning (drop-in for existing manifests).
 * Pure: tokens in, typed flags or every problem at once out; no I/O.
 */
import { Data, Duration, Either, Option } from "effect"
import * as GoDuration from "../config/GoDuration.js"
import {
  type CcmSettings,
  type ControllerName,
  CONTROLLERS,
  type DelegatedAuthSettings,
  type LeaderElectionSettings
} from "../runtime/CcmSettings.js"
import { FLAGS, IGNORED } from "./RunFlagTable.js"

export { type ControllerName, CONTROLLERS, FLAGS }
/** The run flags' settings groups (the types live with the runtime's settings). */
export type LeaderElectionFlags = LeaderElectionSettings
export type DelegatedAuthFlags = DelegatedAuthSettings

/** The k8s route controller: accepted in `--controllers`, never run (CloudStack clusters use an overlay CNI). */
const ROUTE = { name: "node-route-controller", alias: "route" } as const

/** The controller manager's settings (`runtime/CcmSettings.ts`) plus what only the command line decides. */
export interface RunFlags extends CcmSettings {
  readonly cloudConfig: Option.Option<string>
  readonly kubeconfig: Option.Option<string>
  readonly master: Option.Option<string>
  readonly minResyncPeriod: Duration.Duration
  /** 0 = same as concurrentNodeSyncs. */
  readonly concurrentNodeStatusUpdates: number
  readonly kubeApiQps: number
  readonly kubeApiBurst: number
  /** `--v`: 0-1 Info, 2-3 Info (more detail), 4+ Debug, 6+ Trace. */
  readonly verbosity: number
}

export interface ParsedRunFlags {
  readonly flags: RunFlags
  /** One line per accepted-but-ignored flag. */
  readonly warnings: ReadonlyArray<string>
}

/** Every problem of a command line, reported at once on one line. */
export class RunFlagsError extends Data.TaggedError("RunFlagsError")<{ readonly issues: ReadonlyArray<string> }> {
  override get message(): string {
    return `invalid command line: ${this.issues.join("; ")}`
  }
}

const specOf = new Map(FLAGS.map((f) => [f.name, f]))
const ignoredOf = new Map(IGNORED.map((f) => [f.name, f]))

const isBoolText = (v: string) =>
  ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"].includes(v)

/** Splits tokens into name -> last value (pflag: the last occurrence wins). */
const tokenize = (
  tokens: ReadonlyArray<string>,
  issues: Array<string>,
  warnings: Array<string>
): Map<string, string> => {
  const values = new Map<string, string>()
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? ""
    if (token === "--") {
      if (i + 1 < tokens.length) issues.push(`unexpected arguments after --: ${tokens.slice(i + 1).join(" ")}`)
      break
    }
    let name: string
    let inline: string | undefined
    if (token.startsWith("--")) {
      const eq = token.indexOf("=")
      name = eq < 0 ? token.slice(2) : token.slice(2, eq)
      inline = eq < 0 ? undefined : token.slice(eq + 1)
    } else if (token.startsWith("-") && token.length > 1) {
      // The only shorthand is klog's -v (as -v=4, -v 4 or -v4).
      const rest = token.slice(1)
      if (!rest.startsWith("v")) {
        issues.push(`unknown shorthand flag: ${token}`)
        continue
      }
      name = "v"
      inline = rest.length === 1 ? undefined : rest.slice(rest[1] === "=" ? 2 : 1)
    } else {
      issues.push(`unexpected argument "${token}" (flags start with --)`)
      continue
    }
    const spec = specOf.get(name)
    const ignored = ignoredOf.get(name)
    if (spec === undefined && ignored === undefined) {
      issues.push(`unknown flag: --${name}`)
      if (inline === undefined && i + 1 < tokens.length && !(tokens[i + 1] ?? "").startsWith("-")) i++
      continue
    }
    const bool = spec !== undefined ? spec.kind === "bool" : ignored?.bool === true
    let value: string
    if (inline !== undefined) value = inline
    else if (bool) value = "true"
    else if (i + 1 < tokens.length) value = tokens[++i] ?? ""
    else {
      issues.push(`flag needs an argument: --${name}`)
      continue
    }
    if (spec === undefined) {
      warnings.push(`flag --${name} is accepted for compatibility with the k8s cloud-controller-manager and ignored`)
      continue
    }
    values.set(name, value)
  }
  return values
}

/** Parses the run command's tokens (argv without node/script/subcommand). */
export const parse = (tokens: ReadonlyArray<string>): Either.Either<ParsedRunFlags, RunFlagsError> => {
  const issues: Array<string> = []
  const warnings: Array<string> = []
  const values = tokenize(tokens, issues, warnings)
  const raw = (name: string): string => values.get(name) ?? specOf.get(name)?.default ?? ""
  const given = (name: string): Option.Option<string> =>
    Option.filter(Option.fromNullable(values.get(name)), (v) => v !== "")

  const bool = (name: string): boolean => {
    const v = raw(name)
    if (!isBoolText(v)) {
      issues.push(`--${name}: invalid boolean "${v}" (use true or false)`)
      return false
    }
    return ["1", "t", "T", "TRUE", "true", "True"].includes(v)
  }
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = raw(name)
    const n = /^-?\d+$/.test(v) ? Number(v) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      issues.push(`--${name}: "${v}" is not an integer in ${min}..${max === Number.MAX_SAFE_INTEGER ? "" : max}`)
      return min
    }
    return n
  }
  const float = (name: string): number => {
    const v = raw(name)
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN
    if (!Number.isFinite(n) || n <= 0) {
      issues.push(`--${name}: "${v}" is not a positive number`)
      return 1
    }
    return n
  }
  const duration = (name: string, allowZero = false): Duration.Duration =>
    Option.match(GoDuration.parse(raw(name)), {
      onNone: () => {
        issues.push(`--${name}: invalid duration "${raw(name)}" (e.g. 15s, 5m, 1h30m)`)
        return Duration.seconds(1)
      },
      onSome: (d) => {
        if (!allowZero && Duration.toMillis(d) <= 0) issues.push(`--${name}: must be greater than zero`)
        return d
      }
    })

  const provider = raw("cloud-provider")
  if (provider !== "external-cloudstack" && provider !== "cloudstack") {
    issues.push(`--cloud-provider: "${provider}" is not served by this CCM (use external-cloudstack or cloudstack)`)
  }
  const controllers = parseControllers(raw("controllers"), issues, warnings)
  const beforeTiming = issues.length
  const leaseDuration = duration("leader-elect-lease-duration")
  const renewDeadline = duration("leader-elect-renew-deadline")
  const retryPeriod = duration("leader-elect-retry-period")
  // The timing rules compare the three durations: only meaningful when each of them is valid.
  const timingValid = issues.length === beforeTiming
  const leaderElection: LeaderElectionFlags = {
    enabled: bool("leader-elect"),
    namespace: raw("leader-elect-resource-namespace"),
    name: raw("leader-elect-resource-name"),
    leaseDuration,
    renewDeadline,
    retryPeriod
  }
  if (raw("leader-elect-resource-lock") !== "leases") {
    issues.push(`--leader-elect-resource-lock: only "leases" is supported, not "${raw("leader-elect-resource-lock")}"`)
  }
  if (leaderElection.enabled) {
    const [lease, renew, retry] = [leaseDuration, renewDeadline, retryPeriod].map(Duration.toMillis)
    // client-go's own validation: the leader must give up before the lease expires, with retries in between.
    if (timingValid && !((lease ?? 0) > (renew ?? 0))) {
      issues.push("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline")
    }
    if (timingValid && !((renew ?? 0) > 1.2 * (retry ?? 0))) {
      issues.push("--leader-elect-renew-deadline must be greater than 1.2 x --leader-elect-retry-period")
    }
    if (leaderElection.namespace === "" || leaderElection.name === "") {
      issues.push("--leader-elect-resource-namespace and --leader-elect-resource-name must not be empty")
    }
  }
  const tlsCertFile = given("tls-cert-file")
  const tlsPrivateKeyFile = given("tls-private-key-file")
  if (Option.isSome(tlsCertFile) !== Option.isSome(tlsPrivateKeyFile)) {
    issues.push("--tls-cert-file and --tls-private-key-file must be given together")
  }
  const bindAddress = raw("bind-address")
  if (
    !/^(\d{1,3}\.){3}\d{1,3}$/.test(bindAddress) && !/^[0-9a-fA-F:]+$/.test(bindAddress) && bindAddress !== "localhost"
  ) {
    issues.push(`--bind-address: "${bindAddress}" is not an IP address`)
  }
  const alwaysAllowPaths = raw("authorization-always-allow-paths").split(",").map((p) => p.trim()).filter((p) =>
    p !== ""
  )
  for (const path of alwaysAllowPaths) {
    if (path.slice(0, -1).includes("*")) {
      issues.push(`--authorization-always-allow-paths: only a trailing * is allowed in "${path}"`)
    }
  }
  bool("authentication-skip-lookup")
  bool("authentication-tolerate-lookup-failure")
  const delegatedAuth: DelegatedAuthFlags = {
    authenticationKubeconfig: given("authentication-kubeconfig"),
    authorizationKubeconfig: given("authorization-kubeconfig"),
    alwaysAllowPaths,
    tokenCacheTtl: duration("authentication-token-webhook-cache-ttl", true),
    allowCacheTtl: duration("authorization-webhook-cache-authorized-ttl", true),
    denyCacheTtl: duration("authorization-webhook-cache-unauthorized-ttl", true)
  }
  const cloudConfig = given("cloud-config")
  if (Option.isNone(cloudConfig) && controllers.length > 0) {
    issues.push("--cloud-config is required (no cloud provider config given)")
  }
  const flags: RunFlags = {
    cloudProvider: provider === "cloudstack" ? "cloudstack" : "external-cloudstack",
    cloudConfig,
    kubeconfig: given("kubeconfig"),
    master: given("master"),
    clusterName: raw("cluster-name"),
    lbOwnershipTags: bool("lb-ownership-tags"),
    controllers,
    leaderElection,
    securePort: int("secure-port", 0, 65535),
    bindAddress,
    tlsCertFile,
    tlsPrivateKeyFile,
    plainHttp: bool("plain-http"),
    delegatedAuth,
    nodeStatusUpdateFrequency: duration("node-status-update-frequency"),
    nodeMonitorPeriod: duration("node-monitor-period"),
    lbResyncPeriod: duration("lb-resync-period", true),
    minResyncPeriod: duration("min-resync-period"),
    informerSyncGrace: duration("informer-sync-grace"),
    concurrentServiceSyncs: int("concurrent-service-syncs", 1),
    concurrentNodeSyncs: int("concurrent-node-syncs", 1),
    concurrentNodeStatusUpdates: int("concurrent-node-status-updates", 0),
    kubeApiQps: float("kube-api-qps"),
    kubeApiBurst: int("kube-api-burst", 1),
    verbosity: int("v", 0, 10)
  }
  return issues.length > 0 ? Either.left(new RunFlagsError({ issues })) : Either.right({ flags, warnings })
}

/**
 * k8s `--controllers` semantics: an explicit `name` or `-name` decides; otherwise `*` enables the
 * default set. `-*` (ours) disables everything not named explicitly, e.g. for a leader-election-only run.
 */
const parseControllers = (
  text: string,
  issues: Array<string>,
  warnings: Array<string>
): ReadonlyArray<ControllerName> => {
  const items = text.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const enabled = new Set<string>()
  const disabled = new Set<string>()
  let star = false
  for (const item of items) {
    if (item === "*") star = true
    else if (item === "-*") star = false
    else {
      const negated = item.startsWith("-")
      const id = negated ? item.slice(1) : item
      const known = [...CONTROLLERS, ROUTE].find((c) => c.name === id || c.alias === id)
      if (known === undefined) {
        issues.push(
          `--controllers: unknown controller "${id}" (known: ${[...CONTROLLERS, ROUTE].map((c) => c.alias).join(", ")})`
        )
        continue
      }
      if (known.name === ROUTE.name) {
        if (!negated) {
          warnings.push("the route controller is not supported on CloudStack (overlay CNI) and is not started")
        }
        continue
      }
      ;(negated ? disabled : enabled).add(known.name)
    }
  }
  return CONTROLLERS.map((c) => c.name).filter((name) => enabled.has(name) || (star && !disabled.has(name)))
}

/**
 * The controllers a `--controllers` value enables (the same syntax as `run`'s flag), or every
 * problem in one line. Pure.
 */
export const controllersOf = (text: string): Either.Either<ReadonlyArray<ControllerName>, string> => {
  const issues: Array<string> = []
  const controllers = parseControllers(text, issues, [])
  return issues.length === 0 ? Either.right(controllers) : Either.left(issues.join("; "))
}

/** `--help` text for the run flags, generated from `FLAGS`. */
export const usage = (): string =>
  [
    "Flags (k8s cloud-controller-manager compatible; other k8s CCM flags are accepted and ignored with a warning):",
    ...FLAGS.map((f) =>
      `  --${f.name}${f.kind === "bool" ? "" : ` ${f.kind}`}${
        f.default === "" ? "" : ` (default ${f.default})`
      }\n      ${f.help}`
    )
  ].join("\n")
