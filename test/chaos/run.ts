/**
 * `npm run chaos -- [--seeds N] [--from S] [--seed S] [--services N] [--churn M] [--settle M] [-v]`:
 * runs chaos seeds one after another and prints one line per seed; a failing seed is printed with
 * its violated invariants and the one-line command that replays it. Exits 1 on any failure.
 */
import { Effect, LogLevel } from "effect"
import { runSeed } from "./ChaosRun.js"

const args = process.argv.slice(2)
const value = (name: string): number | undefined => {
  const i = args.indexOf(`--${name}`)
  const raw = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} needs a whole number, not ${JSON.stringify(raw)}\n`)
    process.exit(2)
  }
  return n
}
const known = new Set([
  "--seeds",
  "--from",
  "--seed",
  "--services",
  "--churn",
  "--settle",
  "-v",
  "--verbose",
  "--trace"
])
const unknown = args.filter((a, i) =>
  a.startsWith("-") && !known.has(a.split("=")[0] ?? "") && !/^\d+$/.test(args[i - 1] ?? "x")
)
if (unknown.length > 0) {
  process.stderr.write(
    `unknown option ${
      unknown.join(" ")
    }; usage: npm run chaos -- [--seeds N] [--from S] [--seed S] [--services N] [--churn MIN] [--settle MIN] [-v]\n`
  )
  process.exit(2)
}
const single = value("seed")
const from = value("from") ?? 1
const count = single === undefined ? value("seeds") ?? 10 : 1
const services = value("services")
const churnMinutes = value("churn")
const settleMinutes = value("settle")
const verbose = args.includes("-v") || args.includes("--verbose")
const traceAt = args.indexOf("--trace")
const trace = traceAt >= 0 ? (args[traceAt + 1] ?? "").split(",").filter((t) => t !== "") : []
const extra = [
  services === undefined ? "" : ` --services ${services}`,
  churnMinutes === undefined ? "" : ` --churn ${churnMinutes}`,
  settleMinutes === undefined ? "" : ` --settle ${settleMinutes}`
].join("")

const main = async () => {
  const failed: Array<number> = []
  const times: Array<number> = []
  for (let i = 0; i < count; i++) {
    const seed = single ?? from + i
    const started = performance.now()
    const result = await runSeed({
      seed,
      services,
      churnMinutes,
      settleMinutes,
      logLevel: verbose
        ? (process.env.CHAOS_LOG === "trace"
          ? LogLevel.Trace
          : process.env.CHAOS_LOG === "debug"
          ? LogLevel.Debug
          : LogLevel.Warning)
        : LogLevel.None,
      trace,
      progress: verbose ? (line: string) => Effect.sync(() => void process.stderr.write(`  ${line}\n`)) : undefined
    })
    const seconds = (performance.now() - started) / 1000
    times.push(seconds)
    const s = result.stats
    const summary =
      `${s.calls} calls (${s.mutations} mutations), ${s.actions} churn actions, ${s.kills} kills, ${s.pauses} pauses, ` +
      `${s.leaderChanges} leader changes, ${s.apiDownWindows} API-down windows, ${s.liveServices} LoadBalancers, ${s.nodes} nodes`
    for (const line of result.trace) process.stdout.write(`  trace ${line}\n`)
    if (result.violations.length === 0) {
      process.stdout.write(`seed ${seed}: ok in ${seconds.toFixed(1)} s (${summary}; ${result.fingerprint})\n`)
      continue
    }
    failed.push(seed)
    process.stdout.write(
      `seed ${seed}: FAILED in ${seconds.toFixed(1)} s, ${result.violations.length} violations (${summary})\n`
    )
    for (const v of result.violations.slice(0, 20)) process.stdout.write(`  [${v.invariant}] ${v.message}\n`)
    if (result.violations.length > 20) process.stdout.write(`  ... and ${result.violations.length - 20} more\n`)
    process.stdout.write(`  replay: npm run chaos -- --seed ${seed}${extra}\n`)
  }
  const total = times.reduce((a, b) => a + b, 0)
  process.stdout.write(
    `\n${count} seeds, ${count - failed.length} clean, ${failed.length} failed${
      failed.length > 0 ? ` (${failed.join(", ")})` : ""
    }; ` +
      `${total.toFixed(0)} s, ${(total / Math.max(1, count)).toFixed(1)} s per seed\n`
  )
  return failed.length
}

process.exit((await main()) > 0 ? 1 : 0)
