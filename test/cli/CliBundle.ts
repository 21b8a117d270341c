/**
 * The image's artifact for process tests: `src/cli/bin.ts` bundled by esbuild exactly as
 * deploy/Dockerfile does, into a temp dir (removed by the returned `remove`).
 */
import { buildSync } from "esbuild"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const repo = join(import.meta.dirname, "..", "..")
export const bin = join(repo, "src", "cli", "bin.ts")

export const buildBundle = (): { readonly file: string; readonly remove: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), "ccm-bundle-"))
  const file = join(dir, "cloudstack-ccm.mjs")
  buildSync({
    entryPoints: [bin],
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    target: "node20",
    banner: { js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" },
    outfile: file,
    logLevel: "error"
  })
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
