/**
 * Benchmark runner: imports every `*.bench.js` module beside this file (each default-exports an
 * async function returning rows), prints the rows and writes them to bench/results/latest.{json,md}.
 * Figures that compare implementations are ratios against a baseline measured in the same run.
 */
import { readdirSync, writeFileSync, mkdirSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export interface BenchRow {
  readonly bench: string
  readonly metric: string
  readonly value: number
  readonly unit: string
  readonly note?: string
}

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const modules = readdirSync(here)
  .filter((f) => f.endsWith(".bench.js"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()

const rows: Array<BenchRow> = []
for (const file of modules) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<ReadonlyArray<BenchRow>> }
  process.stdout.write(`# ${file}\n`)
  for (const row of await mod.default()) {
    rows.push(row)
    process.stdout.write(`${row.bench}\t${row.metric}\t${row.value}\t${row.unit}${row.note ? `\t${row.note}` : ""}\n`)
  }
}

const out = resolve(here, "../../bench/results")
mkdirSync(out, { recursive: true })
const stamp = new Date().toISOString()
writeFileSync(join(out, "latest.json"), JSON.stringify({ date: stamp, node: process.version, rows }, null, 2) + "\n")
writeFileSync(
  join(out, "latest.md"),
  [`# Benchmark results (${stamp}, Node ${process.version})`, "", "| bench | metric | value | unit | note |", "|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.bench} | ${r.metric} | ${r.value} | ${r.unit} | ${r.note ?? ""} |`)].join("\n") + "\n"
)
