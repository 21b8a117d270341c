#!/usr/bin/env node
/**
 * The `cloudstack-ccm` executable: runs the CLI on Node with JSON logs on stderr and exits with
 * the code `Cli.main` decides. The only place in `src/` that runs an effect.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { exitCode, main } from "./Cli.js"
import * as CliLogger from "./CliLogger.js"

NodeRuntime.runMain(main(process.argv).pipe(Effect.provide(Layer.mergeAll(NodeContext.layer, CliLogger.layer))), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => onExit(exitCode(exit))
})
