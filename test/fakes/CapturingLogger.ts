/**
 * A logger that records every line (level, message, annotations) instead of printing it, for
 * asserting on what was logged and how often: `const log = CapturingLogger.make()`, then
 * `Effect.provide(log.layer)` and read `log.lines`.
 */
import { Logger } from "effect"

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

const text = (message: unknown): string => (Array.isArray(message) ? message.map(String).join(" ") : String(message))

/** A fresh sink and the layer that logs into it (replacing the default logger). */
export const make = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    lines.push({ level: logLevel.label, message: text(message), annotations: Object.fromEntries(annotations) })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}
