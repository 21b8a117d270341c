/**
 * The image's bundle (deploy/Dockerfile's esbuild options, bench/BenchProcess.ts): V8 keeps the
 * source of a module for its lifetime, one byte per character only when every character is
 * Latin-1; a single one beyond (a literal "μ" in a regular expression did it) doubles it, +3.6 MiB
 * of heap. esbuild runs as a child process, hence the e2e project.
 */
import { assert, describe, it } from "@effect/vitest"
import { join } from "node:path"
import { bundleOptions, repo } from "../../bench/BenchProcess.js"

describe("the image's bundle", () => {
  it("is Latin-1 throughout, so V8 stores its source one byte per character", async () => {
    const { build } = await import("esbuild")
    const result = await build({
      ...bundleOptions,
      entryPoints: [join(repo, "src", "cli", "bin.ts")],
      write: false,
      outfile: "bundle.mjs"
    })
    const text = result.outputFiles[0]?.text ?? ""
    assert.isAbove(text.length, 1_000_000)
    const wide = [...text.matchAll(/[^\u0000-\u00ff]/g)].map((m) =>
      text.slice(Math.max(0, (m.index ?? 0) - 40), (m.index ?? 0) + 10)
    )
    assert.deepStrictEqual(wide, [])
  }, 60_000)
})
