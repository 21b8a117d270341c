/**
 * `cloudstack-ccm check --cloud-config FILE`: validates the cloud-config, then (unless `--offline`)
 * runs the preflight against the CloudStack it names: endpoint, keys, the role's commands for the
 * enabled `--controllers`, project, zone, VMs and their networks. Prints a readable report or JSON
 * (`--output json`) on stdout; exit 0 only when the CCM can do its job (no failed check).
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import type { FileSystem } from "@effect/platform"
import { Console, Data, Effect, Either, Layer, Option } from "effect"
import * as CloudStackClient from "../cloudstack/CloudStackClient.js"
import * as HttpTransport from "../cloudstack/HttpTransport.js"
import { CloudConfig, type CloudConfigShape } from "../config/CloudConfig.js"
import type { CloudConfigError } from "../config/CloudConfigError.js"
import { loadWithWarnings } from "../config/CloudConfigFile.js"
import { summarize } from "../config/CloudConfigSummary.js"
import * as Metrics from "../metrics/Metrics.js"
import * as Preflight from "../preflight/Preflight.js"
import * as Report from "../preflight/Report.js"
import type { Feature } from "../provider/RequiredCommands.js"
import { cloudConfigOption } from "./CloudConfigOption.js"
import { type ControllerName, controllersOf } from "./RunFlags.js"

/** The preflight found at least one problem that keeps the CCM from doing its job. */
export class PreflightFailedError extends Data.TaggedError("PreflightFailedError")<{
  readonly failed: ReadonlyArray<string>
}> {
  override get message(): string {
    return `check failed: ${this.failed.join(", ")} (see the report on stdout)`
  }
}

/**
 * Validates the cloud-config at `path` and returns it. Fails with `CloudConfigError`
 * (every problem, each naming the path). Logs a warning when TLS verification is off, and one per
 * unquoted api-key/secret-key value that ended at `;` or `#` (naming the key, never the value).
 */
export const checkConfig = (path: string): Effect.Effect<CloudConfigShape, CloudConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const { config, warnings } = yield* loadWithWarnings(path)
    for (const warning of warnings) {
      yield* Effect.logWarning(
        "an unquoted value ends at ';' or '#', where gcfg starts a comment: if the key contains that character, quote the value"
      ).pipe(Effect.annotateLogs({ key: warning.key, line: warning.line }))
    }
    if (config.sslNoVerify) {
      yield* Effect.logWarning("TLS certificate verification is disabled (ssl-no-verify)")
    }
    yield* Effect.logInfo("cloud-config is valid")
    return config
  }).pipe(Effect.annotateLogs({ module: "cli", cloudConfig: path }))

/** What the enabled controllers need from CloudStack (and the project lookup when project-id is a name). */
export const featuresOf = (
  controllers: ReadonlyArray<ControllerName>,
  config: CloudConfigShape
): ReadonlySet<Feature> => {
  const features = new Set<Feature>()
  if (controllers.includes("cloud-node-controller") || controllers.includes("cloud-node-lifecycle-controller")) {
    features.add("nodes")
  }
  if (controllers.includes("service-lb-controller")) features.add("loadBalancers")
  if (controllers.length > 0 && Option.exists(config.projectId, (p) => !CloudStackClient.isUuid(p))) {
    features.add("project")
  }
  return features
}

/** The preflight over the live HTTP transport; prints the report and fails when a check failed. */
export const preflight = (
  config: CloudConfigShape,
  controllers: ReadonlyArray<ControllerName>,
  output: "text" | "json"
) =>
  Effect.gen(function*() {
    const report = yield* Preflight.run(config, {
      source: config.source,
      controllers,
      features: featuresOf(controllers, config)
    })
    yield* Console.log(output === "json" ? JSON.stringify(Report.toJson(report), null, 2) : Report.renderText(report))
    if (!Report.passed(report)) {
      return yield* new PreflightFailedError({ failed: Report.failures(report).map((c) => c.id) })
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(
      Layer.mergeAll(HttpTransport.layer, Metrics.layer).pipe(Layer.provide(Layer.succeed(CloudConfig, config)))
    )
  )

const offline = Options.boolean("offline").pipe(
  Options.withDescription("only validate the file and print its one-line summary (no CloudStack call)")
)
const output = Options.choice("output", ["text", "json"]).pipe(
  Options.withDefault("text" as const),
  Options.withDescription("the report as readable text (default) or JSON")
)
const controllers = Options.text("controllers").pipe(
  Options.withPseudoName("list"),
  Options.withDescription(
    "the controllers whose CloudStack commands must be allowed, as run's flag: '*' (default), 'service', '*,-service'..."
  ),
  Options.withDefault("*"),
  Options.mapEffect((text) =>
    Either.match(controllersOf(text), {
      onLeft: (message) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message))),
      onRight: Effect.succeed
    })
  )
)

export const command = Command.make(
  "check",
  { cloudConfig: cloudConfigOption, offline, output, controllers },
  (options) =>
    Effect.gen(function*() {
      const config = yield* checkConfig(options.cloudConfig)
      if (options.offline) {
        return yield* Console.log(
          options.output === "json" ? JSON.stringify({ ok: true, summary: summarize(config) }) : summarize(config)
        )
      }
      yield* preflight(config, options.controllers, options.output)
    })
).pipe(
  Command.withDescription(
    "Check a cloud-config against its CloudStack: endpoint, keys, the role's commands, project, zone, VMs and networks (--offline: the file only)."
  )
)
