#!/usr/bin/env node
/**
 * The `cloudstack-ccm` executable: runs the CLI on Node with JSON logs on stderr, plain text where
 * stdout/stderr is not a terminal (or NO_COLOR is set), and exits with the code `Cli.main` decides.
 * The only place in `src/` that runs an effect.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { exitCode, main } from "./Cli.js"
import * as CliLogger from "./CliLogger.js"
import * as PlainConsole from "./PlainConsole.js"

const color = PlainConsole.colorPolicy(
  { stdout: process.stdout.isTTY === true, stderr: process.stderr.isTTY === true },
  process.env
)

const program = Effect.consoleWith((console) =>
  main(process.argv).pipe(
    Effect.provide(Layer.mergeAll(NodeContext.layer, CliLogger.layer)),
    Effect.withConsole(PlainConsole.make(console, color))
  )
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => onExit(exitCode(exit))
})
