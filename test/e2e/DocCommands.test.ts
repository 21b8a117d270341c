/**
 * Every command the documentation shows is run (README.md and docs/*.md; the rules for the blocks
 * are in test/docs/DocBlocks.ts). Each document gets a sandbox: a temp dir that links the checkout's
 * package.json, node_modules, sources and deploy/ and shares one build, with `cloudstack-ccm` on the
 * PATH as `npm link` puts it there (node dist/src/cli/bin.js). Its blocks run there in order, with
 * bash -e -o pipefail; whatever a block leaves running is stopped with its process group.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as DocBlocks from "../docs/DocBlocks.js"

const LINKED = [
  "package.json",
  "package-lock.json",
  "node_modules",
  "src",
  "bench",
  "scripts",
  "deploy",
  "tsconfig.json",
  "tsconfig.build.json"
]
const BLOCK_TIMEOUT_MS = 180_000

let root = ""
let dist = ""

const sandbox = (name: string): string => {
  const dir = join(root, name.replace(/[^A-Za-z0-9.-]/g, "_"))
  mkdirSync(join(dir, "bin"), { recursive: true })
  for (const f of LINKED) symlinkSync(join(DocBlocks.repo, f), join(dir, f))
  symlinkSync(dist, join(dir, "dist"))
  const shim = join(dir, "bin", "cloudstack-ccm")
  writeFileSync(shim, `#!/bin/sh\nexec node ${JSON.stringify(join(dist, "src", "cli", "bin.js"))} "$@"\n`)
  chmodSync(shim, 0o755)
  return dir
}

interface Outcome {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `script` with bash in `cwd`; `until` (if given) decides when to stop its process group with SIGTERM. */
const run = (cwd: string, script: string, until?: (stdout: string) => boolean): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    const child = spawn("bash", ["-e", "-o", "pipefail", "-c", script], {
      cwd,
      detached: true,
      env: { ...process.env, PATH: `${join(cwd, "bin")}:${process.env.PATH ?? ""}`, NO_COLOR: "1", HOME: cwd },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let stopping = false
    const stopGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal)
      } catch {
        // the group is gone already
      }
    }
    const timer = setTimeout(() => {
      stopGroup("SIGKILL")
      reject(new Error(`timed out after ${BLOCK_TIMEOUT_MS} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }, BLOCK_TIMEOUT_MS)
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
      if (until !== undefined && !stopping && until(stdout)) {
        stopping = true
        stopGroup("SIGTERM")
      }
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
    })
    child.on("error", reject)
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null }
    child.on("exit", (code, signal) => {
      exit = { code, signal }
      // anything the block left in the background goes with it (and with it its hold on the pipes)
      stopGroup("SIGKILL")
    })
    child.on("close", () => {
      clearTimeout(timer)
      resolve({ ...exit, stdout, stderr })
    })
  })

const show = (o: Outcome) =>
  `exit ${o.code} ${o.signal ?? ""}\nstdout:\n${o.stdout.slice(-4000)}\nstderr:\n${o.stderr.slice(-4000)}`

const blocks = DocBlocks.readAll()

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "ccm-docs-"))
  dist = join(root, "dist")
  mkdirSync(dist)
  // node resolves the shared dist/ by its real path: its packages must be found from there too
  symlinkSync(join(DocBlocks.repo, "node_modules"), join(root, "node_modules"))
  // One build for every sandbox (tsc writes dist/ beside the linked tsconfig, i.e. into the shared one).
  const builder = join(root, "build")
  mkdirSync(builder)
  for (const f of LINKED) symlinkSync(join(DocBlocks.repo, f), join(builder, f))
  symlinkSync(dist, join(builder, "dist"))
  execFileSync("npm", ["run", "build", "--silent"], { cwd: builder, stdio: "pipe" })
}, 600_000)

afterAll(() => {
  if (root !== "") rmSync(root, { recursive: true, force: true })
})

describe("every command shown in the documentation", () => {
  it("the documents have well-formed blocks and something to run", () => {
    assert.deepStrictEqual(blocks.problems, [])
    assert.isAbove(blocks.commands.filter((c) => c.mode._tag !== "NotRun").length, 5)
  })

  for (const doc of DocBlocks.documents()) {
    const commands = blocks.commands.filter((c) => c.doc === doc && c.mode._tag !== "NotRun")
    if (commands.length === 0) continue
    it(`${doc}: ${commands.length} block(s)`, async () => {
      const dir = sandbox(doc)
      for (const f of blocks.files.filter((b) => b.doc === doc)) writeFileSync(join(dir, f.name), f.content)
      for (const block of commands) {
        const where = `${doc}:${block.line}`
        if (block.mode._tag === "Serves") {
          for (const command of DocBlocks.servedCommands(block.script)) {
            const o = await run(dir, `exec ${command}`, (out) => out.includes("listening on"))
            assert.include(o.stdout, "listening on", `${where}: ${command} never listened\n${show(o)}`)
            assert.strictEqual(o.code, 0, `${where}: ${command} did not exit 0 on SIGTERM\n${show(o)}`)
          }
        } else if (block.mode._tag === "Run") {
          const o = await run(dir, block.script)
          assert.strictEqual(o.code, block.mode.exitCode, `${where}\n${block.script}\n${show(o)}`)
        }
      }
    }, 900_000)
  }
})
