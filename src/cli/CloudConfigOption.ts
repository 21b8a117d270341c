/**
 * The `--cloud-config FILE` option, shared by every subcommand that needs CloudStack (the same
 * flag name as the upstream CCM, also accepted as `--cloud-config=FILE`). Declares the flag only;
 * reading the file is `config/CloudConfigFile`.
 */
import { Options } from "@effect/cli"
import { nonEmpty } from "./CliOptions.js"

/** `--cloud-config FILE` (required where used; wrap in `Options.optional` otherwise). */
export const cloudConfigOption: Options.Options<string> = Options.file("cloud-config", { exists: "either" }).pipe(
  nonEmpty("cloud-config"),
  Options.withDescription(
    "Path of the cloud-config file: gcfg INI with a [Global] section (api-url, api-key, secret-key, " +
      "project-id, zone, region, ssl-no-verify, request-timeout, async-job-timeout, max-in-flight, " +
      "requests-per-second), as used by the upstream CloudStack CCM."
  )
)
