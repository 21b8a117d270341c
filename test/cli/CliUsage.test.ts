/**
 * Usage mistakes on the @effect/cli subcommands are errors, exit 1, said in one clear line: unknown
 * options, extra arguments, empty keys, out-of-range or non-integer numbers ("an integer").
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { splitEmptyValues } from "../../src/cli/Cli.js"
import { colorPolicy } from "../../src/cli/PlainConsole.js"
import * as InProcessCli from "./InProcessCli.js"

/** stderr without blank lines (@effect/cli ends its messages with one). */
const runCli = (...args: ReadonlyArray<string>) =>
  InProcessCli.runCli(...args).pipe(
    Effect.map((r) => ({ ...r, stderr: r.stderr.split("\n").filter((l) => l.trim() !== "") })),
    Effect.provide(NodeContext.layer)
  )

const expectError = (args: ReadonlyArray<string>, line: string) =>
  Effect.gen(function*() {
    const r = yield* runCli(...args)
    assert.strictEqual(r.code, 1, args.join(" "))
    assert.deepStrictEqual(r.stderr, [line], args.join(" "))
    assert.strictEqual(r.stdout, "")
  })

describe("CLI usage errors", () => {
  it.effect("unknown options and extra arguments of a subcommand are rejected, never ignored", () =>
    Effect.gen(function*() {
      yield* expectError(["simulator", "--bogus"], "simulator: unknown option --bogus; see cloudstack-ccm simulator --help")
      yield* expectError(
        ["simulator", "--bogus", "--port", "0"],
        "simulator: unknown option --bogus (in: --bogus --port 0); see cloudstack-ccm simulator --help"
      )
      yield* expectError(["simulator", "--port", "0", "extra"], "simulator: unexpected argument \"extra\"; see cloudstack-ccm simulator --help")
      yield* expectError(["simulate", "--bogus"], "simulate: unknown option --bogus; see cloudstack-ccm simulate --help")
      yield* expectError(["check", "--cloud-config", "/nonexistent", "extra"], "check: unexpected argument \"extra\"; see cloudstack-ccm check --help")
      yield* expectError(["--v=2", "check", "--cloud-config", "/nonexistent"], "check: unknown option --v=2; see cloudstack-ccm check --help")
    }))

  it.effect("an empty --api-key/--secret-key/--cloud-config is an error, in both spellings", () =>
    Effect.gen(function*() {
      yield* expectError(["simulator", "--port", "0", "--api-key="], "--api-key must not be empty")
      yield* expectError(["simulator", "--port", "0", "--api-key", ""], "--api-key must not be empty")
      yield* expectError(["simulator", "--secret-key=", "--port", "0"], "--secret-key must not be empty")
      yield* expectError(["check", "--cloud-config="], "--cloud-config must not be empty")
    }))

  it.effect("ports out of range and non-integers are usage errors naming the flag and the range", () =>
    Effect.gen(function*() {
      yield* expectError(["simulator", "--port", "99999"], "--port: '99999' is not an integer in 0..65535")
      yield* expectError(["simulator", "--port", "-1"], "--port: '-1' is not an integer in 0..65535")
      yield* expectError(["simulator", "--port=-1"], "--port: '-1' is not an integer in 0..65535")
      yield* expectError(["simulator", "--port", "abc"], "--port: 'abc' is not an integer in 0..65535")
      yield* expectError(["simulator", "--seed", "1.5"], "--seed: '1.5' is not an integer")
      yield* expectError(["simulate", "--nodes", "0"], "--nodes: '0' is not an integer in 1..5000")
      yield* expectError(["simulate", "--duration", "abc"], "--duration: 'abc' is not an integer in 0..86400")
    }))
})

describe("Cli.splitEmptyValues", () => {
  it("turns `--name=` into `--name \"\"` for the @effect/cli subcommands only, never after `--`", () => {
    assert.deepStrictEqual(splitEmptyValues(["simulator", "--api-key=", "--port=1"]), ["simulator", "--api-key", "", "--port=1"])
    assert.deepStrictEqual(splitEmptyValues(["check", "--", "--x="]), ["check", "--", "--x="])
    // The root command and `run` parse pflag themselves (`--kubeconfig=` means "not given").
    assert.deepStrictEqual(splitEmptyValues(["--kubeconfig="]), ["--kubeconfig="])
    assert.deepStrictEqual(splitEmptyValues(["run", "--kubeconfig="]), ["run", "--kubeconfig="])
  })
})

describe("PlainConsole.colorPolicy", () => {
  it("colour only on a terminal, and never with NO_COLOR set", () => {
    assert.deepStrictEqual(colorPolicy({ stdout: true, stderr: false }, {}), { stdout: true, stderr: false })
    assert.deepStrictEqual(colorPolicy({ stdout: true, stderr: true }, { NO_COLOR: "1" }), { stdout: false, stderr: false })
    assert.deepStrictEqual(colorPolicy({ stdout: true, stderr: true }, { NO_COLOR: "" }), { stdout: true, stderr: true })
  })
})
