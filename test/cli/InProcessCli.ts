/**
 * Runs the CLI in-process, as `bin.ts` does but with a capturing console and JSON logs: the exit
 * code `Cli.main` decides and what went to stdout and stderr (each joined with newlines).
 */
import { Effect } from "effect"
import { main } from "../../src/cli/Cli.js"
import * as CliLogger from "../../src/cli/CliLogger.js"
import * as CapturingConsole from "../fakes/CapturingConsole.js"

export const runCli = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const captured = yield* CapturingConsole.make
    const code = yield* main(["node", "cloudstack-ccm", ...args]).pipe(
      Effect.provide(CliLogger.layer),
      Effect.withConsole(captured.console)
    )
    return { code, stdout: captured.stdout().join("\n"), stderr: captured.stderr().join("\n") }
  })
