/**
 * The image's files for process tests: `src/cli/bin.ts` bundled by esbuild exactly as
 * deploy/Dockerfile does, with its entry point and code cache (bench/BenchProcess.ts builds them),
 * into a temp dir (removed by the returned `remove`). `file` is the entry point to run.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { buildCliBundle } from "../../bench/BenchProcess.js"

export const repo = join(import.meta.dirname, "..", "..")
export const bin = join(repo, "src", "cli", "bin.ts")

export const buildBundle = async (): Promise<{ readonly file: string; readonly remove: () => void }> => {
  const dir = mkdtempSync(join(tmpdir(), "ccm-bundle-"))
  const file = await buildCliBundle(dir)
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
