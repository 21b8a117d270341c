/**
 * The image's artifact for process tests: `src/cli/bin.ts` bundled by esbuild exactly as
 * deploy/Dockerfile does, into a temp dir (removed by the returned `remove`).
 */
import { buildSync } from "esbuild"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundleOptions } from "../../bench/BenchProcess.js"

export const repo = join(import.meta.dirname, "..", "..")
export const bin = join(repo, "src", "cli", "bin.ts")

export const buildBundle = (): { readonly file: string; readonly remove: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), "ccm-bundle-"))
  const file = join(dir, "cloudstack-ccm.mjs")
  buildSync({ ...bundleOptions, entryPoints: [bin], outfile: file })
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
