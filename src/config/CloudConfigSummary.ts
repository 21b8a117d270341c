/**
 * A one-line, secret-free description of a validated cloud-config, printed by
 * `cloudstack-ccm --cloud-config FILE` / `check`. Pure; never unwraps a `Redacted`.
 */
import { Option } from "effect"
import type { CloudConfigShape } from "./CloudConfig.js"
import { format as formatDuration } from "./GoDuration.js"

const show = (value: string): string => (/^[^\s"'=]+$/.test(value) ? value : JSON.stringify(value))
/** The URL without a password, should anyone put credentials in it. */
const safeUrl = (url: URL): string => {
  if (url.password === "") return url.href
  const copy = new URL(url.href)
  copy.password = "redacted"
  return copy.href
}
const shown = (value: Option.Option<string>, otherwise: string): string =>
  Option.match(value, { onNone: () => otherwise, onSome: show })

/**
 * `cloud-config <path> OK: api-url=... api-key=<redacted> secret-key=<redacted> project=... zone=...
 * region=... ssl-verify=on|off request-timeout=30s async-job-timeout=5m max-in-flight=16 requests-per-second=20`
 */
export const summarize = (config: CloudConfigShape): string =>
  [
    `cloud-config ${show(config.source)} OK:`,
    `api-url=${show(safeUrl(config.apiUrl))}`,
    "api-key=<redacted>",
    "secret-key=<redacted>",
    `project=${shown(config.projectId, "<none>")}`,
    `zone=${shown(config.zone, "<unset>")}`,
    `region=${shown(config.region, Option.isSome(config.zone) ? "<zone>" : "<unset>")}`,
    `ssl-verify=${config.sslNoVerify ? "off" : "on"}`,
    `request-timeout=${formatDuration(config.requestTimeout)}`,
    `async-job-timeout=${formatDuration(config.asyncJobTimeout)}`,
    `max-in-flight=${config.maxInFlight}`,
    `requests-per-second=${config.requestsPerSecond}`
  ].join(" ")
