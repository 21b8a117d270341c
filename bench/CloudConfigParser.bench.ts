/**
 * Cost of reading a cloud-config: our gcfg tokenizer + Schema validation (`parse`) against the
 * `ini` package's `parse` of the same text (no validation, no line numbers) as the baseline, in
 * µs per parse. Config is read once at start-up, so this only guards against a pathological parser.
 */
import { Either } from "effect"
import * as ini from "ini"
import { performance } from "node:perf_hooks"
import { parse } from "../src/config/CloudConfigParser.js"
import type { BenchRow } from "./run.js"

const ROUNDS = Number(process.env["BENCH_CONFIG_ROUNDS"] ?? "20000")

const text = [
  "; written by deploy-cloudstack-secret",
  "[Global]",
  "api-url = https://cloud.example.com/client/api",
  `api-key = ${"A".repeat(86)}`,
  `secret-key = "${"s".repeat(86)}"`,
  "project-id = 5a7d2c1e-0000-4000-8000-000000000001",
  "zone = zone-1 ; the cluster's zone",
  "ssl-no-verify = false",
  "request-timeout = 30s",
  "async-job-timeout = 5m",
  "max-in-flight = 16",
  "requests-per-second = 20",
  ""
].join("\n")

const perParseMicros = (f: () => unknown): number => {
  for (let i = 0; i < 1000; i++) f() // warm-up
  const start = performance.now()
  for (let i = 0; i < ROUNDS; i++) f()
  return ((performance.now() - start) * 1000) / ROUNDS
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  if (Either.isLeft(parse(text, "bench"))) throw new Error("bench config does not parse")
  const ours = perParseMicros(() => parse(text, "bench"))
  const baseline = perParseMicros(() => ini.parse(text))
  const invalid = perParseMicros(() => parse(text.replace("30s", "30").replace("zone =", "zome ="), "bench"))
  return [
    { bench: "cloud-config", metric: "parse+validate (valid file)", value: round(ours), unit: "µs" },
    { bench: "cloud-config", metric: "parse+validate (2 errors)", value: round(invalid), unit: "µs" },
    { bench: "cloud-config", metric: "ini.parse baseline", value: round(baseline), unit: "µs" },
    {
      bench: "cloud-config",
      metric: "ratio vs ini.parse",
      value: round(ours / baseline),
      unit: "x",
      note: "ours also validates"
    }
  ]
}

const round = (n: number) => Math.round(n * 100) / 100
