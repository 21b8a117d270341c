/**
 * The validated cloud-config (the `[Global]` section of the upstream CCM's INI file plus this CCM's
 * optional tuning keys). Decoded once at start-up; everything downstream trusts these types.
 * This module holds the service shape only; parsing is `CloudConfigParser.ts` (pure) and the layers
 * (`layerFromFile`, `layerFromString`) are in `CloudConfigFile.ts`.
 */
import { Context, type Duration, type Option, type Redacted } from "effect"

export interface CloudConfigShape {
  /** `api-url`: the management server's API endpoint, e.g. https://cloud.example.com/client/api */
  readonly apiUrl: URL
  readonly apiKey: Redacted.Redacted<string>
  readonly secretKey: Redacted.Redacted<string>
  /** `project-id` as written: a project UUID or a project name (resolved once at start-up). */
  readonly projectId: Option.Option<string>
  /** `zone`: zone name the cluster lives in (used to scope lookups and labels). */
  readonly zone: Option.Option<string>
  /** `region`: value of the region labels; defaults to the zone name downstream. */
  readonly region: Option.Option<string>
  /** `ssl-no-verify`: skip TLS certificate verification (a warning is logged at start-up). */
  readonly sslNoVerify: boolean
  /** `request-timeout` (default 30s): one HTTP request, connect included. */
  readonly requestTimeout: Duration.Duration
  /** `async-job-timeout` (default 5m): overall wait for one async job. */
  readonly asyncJobTimeout: Duration.Duration
  /** `max-in-flight` (default 16): concurrent CloudStack requests, client-wide. */
  readonly maxInFlight: number
  /** `requests-per-second` (default 20): client-wide request rate limit. */
  readonly requestsPerSecond: number
  /** Path of the file this was read from, for error messages. */
  readonly source: string
}

export class CloudConfig extends Context.Tag("cloudstack-ccm/config/CloudConfig")<CloudConfig, CloudConfigShape>() {}
