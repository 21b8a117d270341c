/**
 * Renders a cloud-config back to gcfg text, the inverse of `CloudConfigParser.parse`. Pure.
 */
import { Option, Redacted } from "effect"
import type { CloudConfigShape } from "./CloudConfig.js"
import type { KnownKey } from "./CloudConfigSchema.js"
import { format as formatDuration } from "./GoDuration.js"

const quote = (value: string): string =>
  `"${value.replace(/[\\"\n\t]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\${c}`))}"`

/**
 * Renders a config as gcfg text that `parse` reads back to an equal config (values quoted and
 * escaped). Writes the secrets in clear: for generating files (tests, the simulator's demo
 * config), never for logs.
 */
export const render = (config: Omit<CloudConfigShape, "source">): string => {
  const lines: Array<string> = [
    "[Global]",
    `api-url = ${quote(config.apiUrl.href)}`,
    `api-key = ${quote(Redacted.value(config.apiKey))}`,
    `secret-key = ${quote(Redacted.value(config.secretKey))}`
  ]
  const optional = (key: KnownKey, value: Option.Option<string>) =>
    Option.map(value, (v) => lines.push(`${key} = ${quote(v)}`))
  optional("project-id", config.projectId)
  optional("zone", config.zone)
  optional("region", config.region)
  lines.push(
    `ssl-no-verify = ${config.sslNoVerify}`,
    `request-timeout = ${formatDuration(config.requestTimeout)}`,
    `async-job-timeout = ${formatDuration(config.asyncJobTimeout)}`,
    `max-in-flight = ${config.maxInFlight}`,
    `requests-per-second = ${config.requestsPerSecond}`
  )
  return lines.join("\n") + "\n"
}
