/**
 * `cloudstack-ccm check --cloud-config FILE` (also the root command given only `--cloud-config`):
 * loads and validates the cloud-config and prints a one-line, secret-free summary on stdout, and a
 * warning for a key value gcfg may have cut at a comment character. Makes no CloudStack call.
 */
import { Command } from "@effect/cli"
import type { FileSystem } from "@effect/platform"
import { Console, Effect } from "effect"
import type { CloudConfigError } from "../config/CloudConfigError.js"
import { loadWithWarnings } from "../config/CloudConfigFile.js"
import { summarize } from "../config/CloudConfigSummary.js"
import { cloudConfigOption } from "./CloudConfigOption.js"

/**
 * Validates the cloud-config at `path` and prints its summary. Fails with `CloudConfigError`
 * (every problem, each naming the path). Logs a warning when TLS verification is off, and one per
 * unquoted api-key/secret-key value that ended at `;` or `#` (naming the key, never the value).
 */
export const checkConfig = (path: string): Effect.Effect<void, CloudConfigError, FileSystem.FileSystem> =>
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
    yield* Console.log(summarize(config))
  }).pipe(Effect.annotateLogs({ module: "cli", cloudConfig: path }))

export const command = Command.make("check", { cloudConfig: cloudConfigOption }, ({ cloudConfig }) =>
  checkConfig(cloudConfig)).pipe(
    Command.withDescription("Validate a cloud-config file and print a one-line summary (no CloudStack call).")
  )
