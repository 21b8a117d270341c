/**
 * `cloudstack-ccm check --cloud-config FILE` (also the root command given only `--cloud-config`):
 * loads and validates the cloud-config and prints a one-line, secret-free summary on stdout.
 * Makes no CloudStack call.
 */
import { Command } from "@effect/cli"
import type { FileSystem } from "@effect/platform"
import { Console, Effect } from "effect"
import type { CloudConfigError } from "../config/CloudConfigError.js"
import { load } from "../config/CloudConfigFile.js"
import { summarize } from "../config/CloudConfigSummary.js"
import { cloudConfigOption } from "./CloudConfigOption.js"

/**
 * Validates the cloud-config at `path` and prints its summary. Fails with `CloudConfigError`
 * (every problem, each naming the path). Logs a warning when TLS verification is off.
 */
export const checkConfig = (path: string): Effect.Effect<void, CloudConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const config = yield* load(path)
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
