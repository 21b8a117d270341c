/**
 * The command line was understood but asks for nothing sensible (e.g. no subcommand and no
 * `--cloud-config`). Parse errors of individual flags are @effect/cli's `ValidationError` instead.
 */
import { Data } from "effect"

export class CliUsageError extends Data.TaggedError("CliUsageError")<{
  readonly detail: string
}> {
  override get message(): string {
    return `${this.detail} (see cloudstack-ccm --help)`
  }
}
