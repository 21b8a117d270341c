/**
 * The image's bundle (deploy/Dockerfile's esbuild options, bench/BenchProcess.ts): V8 keeps the
 * source of a module for its lifetime, one byte per character only when every character is
 * Latin-1; a single one beyond (a literal "μ" in a regular expression did it) doubles it, +3.6 MiB
 * of heap. esbuild runs as a child process, hence the e2e project.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  buildCliBundle,
  bundleOptions,
  DEPLOYMENT_NODE_OPTIONS,
  IMAGE_NODE_ARGS,
  repo
} from "../../bench/BenchProcess.js"

describe("the image's bundle", () => {
  it("is Latin-1 throughout, so V8 stores its source one byte per character", async () => {
    const { build } = await import("esbuild")
    const result = await build({
      ...bundleOptions,
      entryPoints: [join(repo, "src", "cli", "bin.ts")],
      write: false,
      outfile: "bundle.cjs"
    })
    const text = result.outputFiles[0]?.text ?? ""
    assert.isAbove(text.length, 1_000_000)
    const wide = [...text.matchAll(/[^\u0000-\u00ff]/g)].map((m) =>
      text.slice(Math.max(0, (m.index ?? 0) - 40), (m.index ?? 0) + 10)
    )
    assert.deepStrictEqual(wide, [])
  }, 60_000)

  it(
    "its entry point runs it from V8's code cache under the image's node flags, and compiles it under others",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "ccm-code-cache-"))
      try {
        const entry = await buildCliBundle(dir)
        const run = (nodeOptions: ReadonlyArray<string>) =>
          spawnSync(process.execPath, [...IMAGE_NODE_ARGS, entry, "--version"], {
            env: { ...process.env, NODE_OPTIONS: nodeOptions.join(" "), CLOUDSTACK_CCM_CODE_CACHE: "report" },
            encoding: "utf8"
          })
        const image = run(DEPLOYMENT_NODE_OPTIONS)
        assert.deepStrictEqual([image.status, image.stdout.trim(), image.stderr], [0, "0.1.0", "code cache: used\n"])
        const larger = run(["--max-old-space-size=96"])
        assert.deepStrictEqual([larger.status, larger.stdout.trim(), larger.stderr], [
          0,
          "0.1.0",
          "code cache: rejected\n"
        ])
        rmSync(join(dir, "cloudstack-ccm.cjs.cache"))
        const none = run(DEPLOYMENT_NODE_OPTIONS)
        assert.deepStrictEqual([none.status, none.stdout.trim(), none.stderr], [0, "0.1.0", "code cache: none\n"])
        // The bundle's exit code and its stderr pass through the entry point.
        const bad = spawnSync(process.execPath, [entry, "--no-such-flag"], { encoding: "utf8" })
        assert.strictEqual(bad.status, 1)
        assert.include(bad.stderr, "--no-such-flag")
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
    120_000
  )
})
