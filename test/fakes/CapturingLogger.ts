/**
 * A logger that records every line (level, message, annotations) instead of printing it, for
 * asserting on what was logged and how often: `const log = CapturingLogger.make()`, then
 * `Effect.provide(log.layer)` and read `log.lines`.
 */
import { Cause, Logger } from "effect"

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  /** `Cause.pretty` of the logged cause (stack traces included), undefined when none was logged. */
  readonly cause: string | undefined
}

const text = (message: unknown): string => (Array.isArray(message) ? message.map(String).join(" ") : String(message))

/** A fresh sink and the layer that logs into it (replacing the default logger). */
export const make = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: text(message),
      annotations: Object.fromEntries(annotations),
      cause: Cause.isEmpty(cause) ? undefined : Cause.pretty(cause)
    })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}
