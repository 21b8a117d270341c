import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FiberId, Schema } from "effect"
import { exitCode, normalizeArgs } from "../../src/cli/Cli.js"
import * as InProcessCli from "./InProcessCli.js"

const API_KEY = "AKEY-visible-n0where"
const SECRET = "SKEY-n3v3r-pr1nt-m3"
const GOOD =
  `[Global]\napi-url = https://cloud.example.com/client/api\napi-key = ${API_KEY}\nsecret-key = "${SECRET}"\n` +
  `zone = z1\nssl-no-verify = yes\n`
const BAD = `[Global]\napi-url = ftp://cloud\napi-kee = ${API_KEY}\nsecret-key = ${SECRET}\nssl-no-verify = maybe\n`

const decodeLogLine = Schema.decodeUnknownSync(
  Schema.parseJson(Schema.Struct({ message: Schema.String, logLevel: Schema.String }))
)

/** Runs the CLI in-process; no key ever shows on stdout or stderr. */
const runCli = (...args: ReadonlyArray<string>) =>
  Effect.tap(InProcessCli.runCli(...args), ({ stderr, stdout }) => {
    for (const secret of [API_KEY, SECRET]) {
      assert.notInclude(stdout, secret)
      assert.notInclude(stderr, secret)
    }
  })

const files = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cli-" })
  const good = path.join(dir, "good.ini")
  const bad = path.join(dir, "bad.ini")
  yield* fs.writeFileString(good, GOOD)
  yield* fs.writeFileString(bad, BAD)
  return { good, bad, missing: path.join(dir, "missing.ini") }
})

const summaryLine = (path: string) =>
  `cloud-config ${path} OK: api-url=https://cloud.example.com/client/api api-key=<redacted> secret-key=<redacted> ` +
  "project=<none> zone=z1 region=<zone> ssl-verify=off request-timeout=30s async-job-timeout=5m max-in-flight=16 " +
  "requests-per-second=20"

describe("cloudstack-ccm (in-process)", () => {
  it.scoped("check --offline --cloud-config FILE validates and prints a one-line summary, exit 0; logs are JSON on stderr", () =>
    Effect.gen(function*() {
      const { good } = yield* files
      const r = yield* runCli("check", "--offline", "--cloud-config", good)
      assert.strictEqual(r.code, 0)
      assert.strictEqual(r.stdout, summaryLine(good))
      const logs = r.stderr.split("\n").map((line) => decodeLogLine(line))
      assert.deepStrictEqual(logs.map((l) => [l.logLevel, l.message]), [
        ["WARN", "TLS certificate verification is disabled (ssl-no-verify)"],
        ["INFO", "cloud-config is valid"]
      ])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("accepts --cloud-config=FILE (k8s flag style)", () =>
    Effect.gen(function*() {
      const { good } = yield* files
      const eq = yield* runCli("check", "--offline", `--cloud-config=${good}`)
      assert.deepStrictEqual([eq.code, eq.stdout], [0, summaryLine(good)])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a bad file: every problem on stderr, each naming the path, exit 1, no stack trace", () =>
    Effect.gen(function*() {
      const { bad } = yield* files
      for (const args of [["check", "--cloud-config", bad], ["check", "--offline", `--cloud-config=${bad}`]]) {
        const r = yield* runCli(...args)
        assert.strictEqual(r.code, 1)
        assert.strictEqual(r.stdout, "")
        assert.deepStrictEqual(r.stderr.split("\n"), [
          `cannot use cloud-config ${bad} (4 problems):`,
          `  ${bad}: missing required key in [Global]: api-key`,
          `  ${bad}:2: invalid value for "api-url": "ftp://cloud" must use http or https, not ftp`,
          `  ${bad}:3: unknown key "api-kee" in [Global] (did you mean "api-key"?)`,
          `  ${bad}:5: invalid value for "ssl-no-verify": "maybe" is not a boolean (use true/false, yes/no, on/off or 1/0)`
        ])
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a missing file: one message naming the path, exit 1", () =>
    Effect.gen(function*() {
      const { missing } = yield* files
      const r = yield* runCli("check", "--cloud-config", missing)
      assert.strictEqual(r.code, 1)
      assert.deepStrictEqual(r.stderr.split("\n"), [
        `cannot use cloud-config ${missing} (1 problem):`,
        `  ${missing}: file not found`
      ])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("check without --cloud-config, or with an unknown flag, is rejected with exit 1", () =>
    Effect.gen(function*() {
      const missingFlag = yield* runCli("check")
      assert.strictEqual(missingFlag.code, 1)
      const r = yield* runCli("check", "--cloud-confg", "x")
      assert.strictEqual(r.code, 1)
      const all = `${r.stdout}\n${r.stderr}`
      assert.isAbove(all.trim().length, 0)
      assert.notInclude(all, "    at ")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("--help lists the flag and the subcommands, never a secret, exit 0", () =>
    Effect.gen(function*() {
      const { good } = yield* files
      const root = yield* runCli("--help")
      const withConfig = yield* runCli("check", "--cloud-config", good, "--help")
      const check = yield* runCli("check", "--cloud-config", good, "-h")
      assert.deepStrictEqual([root.code, withConfig.code, check.code], [0, 0, 0])
      assert.include(root.stdout, "check")
      assert.include(check.stdout, "--cloud-config")
      assert.notInclude(withConfig.stdout, "z1") // help never reads the file
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("Cli.exitCode", () => {
  it("is main's value on success, 0 for a clean interruption (SIGTERM), 1 for a defect", () => {
    assert.strictEqual(exitCode(Exit.succeed(0)), 0)
    assert.strictEqual(exitCode(Exit.succeed(1)), 1)
    assert.strictEqual(exitCode(Exit.void), 0)
    assert.strictEqual(exitCode(Exit.interrupt(FiberId.none)), 0)
    assert.strictEqual(exitCode(Exit.die(new Error("bug"))), 1)
    assert.strictEqual(exitCode(Exit.fail("anything")), 1)
  })
})

describe("Cli.normalizeArgs", () => {
  it("moves --help/-h/--version right after the subcommand path, leaving `--` and later alone", () => {
    assert.deepStrictEqual(normalizeArgs(["--cloud-config", "f", "--help"]), ["--help", "--cloud-config", "f"])
    assert.deepStrictEqual(normalizeArgs(["check", "--cloud-config", "f", "-h"]), [
      "check",
      "-h",
      "--cloud-config",
      "f"
    ])
    assert.deepStrictEqual(normalizeArgs(["check", "--version"]), ["check", "--version"])
    assert.deepStrictEqual(normalizeArgs(["check", "--cloud-config", "f"]), ["check", "--cloud-config", "f"])
    assert.deepStrictEqual(normalizeArgs(["x", "--", "--help"]), ["x", "--", "--help"])
  })
})
