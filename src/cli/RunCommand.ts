/**
 * `cloudstack-ccm run [k8s CCM flags]`: parses the flags (pure `RunFlags`), reads and validates the
 * cloud-config, and starts the controller manager with live backends through the composition root
 * (`runtime/Ccm.ts`). Owns the command line only: no wiring, no controller logic here.
 */
import { Args, Command } from "@effect/cli"
import { Effect, Either, Logger, LogLevel, Option } from "effect"
import { type CloudConfigShape } from "../config/CloudConfig.js"
import * as CloudConfigFile from "../config/CloudConfigFile.js"
import * as Ccm from "../runtime/Ccm.js"
import { parse, type RunFlags, usage } from "./RunFlags.js"

export { drainTimeout } from "../runtime/CcmSettings.js"

/** klog verbosity to an Effect log level: 0-3 Info, 4-5 Debug, 6+ Trace. */
export const logLevelOf = (verbosity: number): LogLevel.LogLevel =>
  verbosity >= 6 ? LogLevel.Trace : verbosity >= 4 ? LogLevel.Debug : LogLevel.Info

/** The live backends the flags name: `--kubeconfig`/`--master`, the client's rate, the secure port's review clients. */
export const liveBackends = (flags: RunFlags) =>
  Ccm.liveBackends({
    kubeconfig: Option.getOrUndefined(flags.kubeconfig),
    master: Option.getOrUndefined(flags.master),
    qps: flags.kubeApiQps,
    burst: flags.kubeApiBurst,
    authenticationKubeconfig: Option.getOrUndefined(flags.delegatedAuth.authenticationKubeconfig),
    authorizationKubeconfig: Option.getOrUndefined(flags.delegatedAuth.authorizationKubeconfig)
  })

/** Everything after the flags were parsed, live: runs until interrupted or leadership is lost. */
export const program = (flags: RunFlags) =>
  Effect.gen(function*() {
    // The cloud-config is checked before anything connects or logs: a bad file fails at once, alone.
    const cloudConfig = yield* Option.match(flags.cloudConfig, {
      onNone: () => Effect.succeed(Option.none<CloudConfigShape>()),
      onSome: (path) => Effect.map(CloudConfigFile.load(path), Option.some)
    })
    return yield* programWith(flags, cloudConfig, liveBackends(flags))
  })

/** `Ccm.run` with the parsed flags as its settings (the in-process CLI tests start the CCM here). */
export const programWith = <E1, E2>(
  flags: RunFlags,
  cloudConfig: Option.Option<CloudConfigShape>,
  backends: Ccm.Backends<E1, E2>
) => Ccm.run({ settings: flags, cloudConfig, backends })

/**
 * Parses `tokens` and runs. Configuration problems (flags, cloud-config, kubeconfig, TLS files,
 * port in use) fail with one typed error whose message is one clear line; the CLI exits 1 on them.
 */
export const runWithTokens = (tokens: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const parsed = yield* Either.match(parse(tokens), { onLeft: Effect.fail, onRight: Effect.succeed })
    const level = logLevelOf(parsed.flags.verbosity)
    yield* Effect.forEach(parsed.warnings, (warning) => Effect.logWarning(warning), { discard: true })
    return yield* program(parsed.flags).pipe(Logger.withMinimumLogLevel(level))
  })

/** The raw k8s-style flags, handed to the pure `RunFlags` parser (pflag syntax, not @effect/cli's). */
export const flagsArgs = Args.text({ name: "flags" }).pipe(Args.repeated, Args.withDescription(usage()))

export const command = Command.make("run", { flags: flagsArgs }, ({ flags }) => runWithTokens(flags)).pipe(
  Command.withDescription("Run the cloud controller manager (k8s cloud-controller-manager flags).")
)
