/**
 * Logging for the CLI process: one JSON object per line on stderr, so stdout carries only
 * command output (summaries, reports). The level is @effect/cli's built-in `--log-level`.
 */
import { Logger } from "effect"

export const layer = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.jsonLogger))
