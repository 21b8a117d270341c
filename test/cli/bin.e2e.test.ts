/**
 * The real executable in a real process: exit codes and which stream carries what. The
 * `bin.ts` import graph is transpiled (no type check, ~0.1 s) into a temp dir, so the test does
 * not depend on a stale `dist/` or on other modules building.
 */
import { Command, FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const repo = fileURLToPath(new URL("../..", import.meta.url))
let outDir = ""

/** Transpiles `entry` and every relative module it imports into `outDir`, mirroring the tree. */
const transpileGraph = (entry: string, out: string) => {
  const pending = [entry]
  const done = new Set<string>()
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue
    done.add(file)
    const source = fs.readFileSync(file, "utf8")
    const js = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
    }).outputText
    const target = nodePath.join(out, nodePath.relative(repo, file)).replace(/\.ts$/, ".js")
    fs.mkdirSync(nodePath.dirname(target), { recursive: true })
    fs.writeFileSync(target, js)
    for (const m of source.matchAll(/(?:from|import)\s*["'](\.{1,2}\/[^"']+)\.js["']/g)) {
      if (m[1] !== undefined) pending.push(nodePath.resolve(nodePath.dirname(file), `${m[1]}.ts`))
    }
  }
}

beforeAll(() => {
  outDir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "ccm-bin-"))
  transpileGraph(nodePath.join(repo, "src/cli/bin.ts"), outDir)
  fs.symlinkSync(nodePath.join(repo, "node_modules"), nodePath.join(outDir, "node_modules"))
  fs.writeFileSync(nodePath.join(outDir, "package.json"), "{\"type\":\"module\"}")
})
afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }))

const decodeLogLine = Schema.decodeUnknownSync(Schema.parseJson(Schema.Struct({ message: Schema.String })))

const runBin = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const proc = yield* Command.start(Command.make(process.execPath, nodePath.join(outDir, "src/cli/bin.js"), ...args))
    const text = (s: Stream.Stream<Uint8Array, unknown>) => s.pipe(Stream.decodeText(), Stream.mkString)
    const [stdout, stderr, code] = yield* Effect.all([text(proc.stdout), text(proc.stderr), proc.exitCode], {
      concurrency: 3
    })
    return { stdout, stderr, code }
  }).pipe(Effect.scoped)

describe("cloudstack-ccm executable", () => {
  it.live("exit 0 + summary on stdout for a good file; exit 1 + every problem on stderr for a bad one", () =>
    Effect.gen(function*() {
      const fsys = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fsys.makeTempDirectoryScoped({ prefix: "ccm-bin-cfg-" })
      const good = path.join(dir, "good.ini")
      const bad = path.join(dir, "bad.ini")
      yield* fsys.writeFileString(good, "[Global]\napi-url = https://h/client/api\napi-key = K1\nsecret-key = S3CR3T\n")
      yield* fsys.writeFileString(bad, "[Global]\napi-url = https://h/client/api\napi-key = K1\nsecret-key\nzome = a\n")

      const ok = yield* runBin("check", "--offline", "--cloud-config", good)
      assert.strictEqual(ok.code, 0)
      assert.match(ok.stdout, new RegExp(`^cloud-config ${good} OK: api-url=https://h/client/api api-key=<redacted> `))
      assert.strictEqual(ok.stdout.trimEnd().split("\n").length, 1)
      assert.strictEqual(decodeLogLine(ok.stderr.trim()).message, "cloud-config is valid")

      const ko = yield* runBin("check", "--offline", `--cloud-config=${bad}`)
      assert.strictEqual(ko.code, 1)
      assert.strictEqual(ko.stdout, "")
      assert.strictEqual(
        ko.stderr,
        `cannot use cloud-config ${bad} (2 problems):\n` +
          `  ${bad}:4: invalid value for "secret-key": missing value (write "secret-key = <value>")\n` +
          `  ${bad}:5: unknown key "zome" in [Global] (did you mean "zone"?)\n`
      )
      for (const r of [ok, ko]) assert.notInclude(r.stdout + r.stderr, "S3CR3T")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("--help and usage errors are plain text when stdout/stderr are not terminals (pipes here)", () =>
    Effect.gen(function*() {
      const help = yield* runBin("simulator", "--help")
      assert.strictEqual(help.code, 0)
      assert.include(help.stdout, "--port integer")
      assert.notInclude(help.stdout, "\u001b")
      const usage = yield* runBin("simulator", "--port", "abc")
      assert.strictEqual(usage.code, 1)
      assert.strictEqual(usage.stderr.trim(), "--port: 'abc' is not an integer in 0..65535")
    }).pipe(Effect.provide(NodeContext.layer)))
})
