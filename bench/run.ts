/**
 * Benchmark runner: imports every `*.bench.js` module beside this file (each default-exports an
 * async function returning rows), prints the rows and writes them to bench/results/latest.{json,md}.
 * Figures that compare implementations are ratios against a baseline measured in the same run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export interface BenchRow {
  readonly bench: string
  readonly metric: string
  readonly value: number
  readonly unit: string
  readonly note?: string
  /** The Go CCM's figure for the same metric: the row goes into the "Go CCM side by side" table too. */
  readonly go?: number
  /** The target, as text, and whether `value` meets it. */
  readonly target?: string
  readonly met?: boolean
}

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const modules = readdirSync(here)
  .filter((f) => f.endsWith(".bench.js"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()

/** A row as stored: which module produced it and when. */
interface StoredRow extends BenchRow {
  readonly file?: string
  readonly date?: string
}

const stamp = new Date().toISOString()
const fresh: Array<StoredRow> = []
for (const file of modules) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as {
    default: () => Promise<ReadonlyArray<BenchRow>>
  }
  process.stdout.write(`# ${file}\n`)
  for (const row of await mod.default()) {
    fresh.push({ ...row, file: file.replace(/\.js$/, ".ts"), date: stamp })
    process.stdout.write(`${row.bench}\t${row.metric}\t${row.value}\t${row.unit}${row.note ? `\t${row.note}` : ""}\n`)
  }
}

const out = resolve(here, "../../bench/results")
mkdirSync(out, { recursive: true })
// A run of some modules (`npm run bench -- Name`) replaces only the benches it measured (by bench
// name: a module run with other parameters, e.g. BENCH_INIT_NODES, adds its own); the others are
// kept with the date of the run that measured them.
const previous = ((): { readonly date?: string; readonly rows: ReadonlyArray<StoredRow> } => {
  if (only.length === 0 || !existsSync(join(out, "latest.json"))) return { rows: [] }
  return JSON.parse(readFileSync(join(out, "latest.json"), "utf8")) as { date?: string; rows: ReadonlyArray<StoredRow> }
})()
const benchesNow = new Set(fresh.map((r) => r.bench))
const kept = previous.rows
  .filter((r) => !benchesNow.has(r.bench))
  .map((r) => ({ ...r, date: r.date ?? previous.date ?? "" }))
const rows: ReadonlyArray<StoredRow> = [...kept, ...fresh]
writeFileSync(join(out, "latest.json"), JSON.stringify({ date: stamp, node: process.version, rows }, null, 2) + "\n")
const sideBySide = rows.filter((r) => r.go !== undefined)
writeFileSync(
  join(out, "latest.md"),
  [
    `# Benchmark results (${stamp}, Node ${process.version})`,
    ...(kept.length === 0
      ? []
      : ["", `Rows of modules not run this time are kept from their own run (see \`date\` in latest.json).`]),
    ...(sideBySide.length === 0 ? [] : [
      "",
      "## Go CCM side by side",
      "",
      "| bench | metric | Go CCM | cloudstack-ccm | unit | target | met |",
      "|---|---|---|---|---|---|---|",
      ...sideBySide.map((r) =>
        `| ${r.bench} | ${r.metric} | ${r.go} | ${r.value} | ${r.unit} | ${r.target ?? ""} | ${
          r.met === undefined ? "" : r.met ? "yes" : "NO"
        } |`
      ),
      "",
      "## All rows"
    ]),
    "",
    "| bench | metric | value | unit | note |",
    "|---|---|---|---|---|",
    ...rows.map((r) => `| ${r.bench} | ${r.metric} | ${r.value} | ${r.unit} | ${r.note ?? ""} |`)
  ].join("\n") + "\n"
)
