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
      yield* expectError(
        ["simulator", "--bogus"],
        "simulator: unknown option --bogus; see cloudstack-ccm simulator --help"
      )
      yield* expectError(
        ["simulator", "--bogus", "--port", "0"],
        "simulator: unknown option --bogus (in: --bogus --port 0); see cloudstack-ccm simulator --help"
      )
      yield* expectError(
        ["simulator", "--port", "0", "extra"],
        "simulator: unexpected argument \"extra\"; see cloudstack-ccm simulator --help"
      )
      yield* expectError(
        ["simulate", "--bogus"],
        "simulate: unknown option --bogus; see cloudstack-ccm simulate --help"
      )
      yield* expectError(
        ["check", "--cloud-config", "/nonexistent", "extra"],
        "check: unexpected argument \"extra\"; see cloudstack-ccm check --help"
      )
      yield* expectError(
        ["--v=2", "check", "--cloud-config", "/nonexistent"],
        "check: unknown option --v=2; see cloudstack-ccm check --help"
      )
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

  it.effect("the simulator's fault flags say what is wrong with a value, naming the flag", () =>
    Effect.gen(function*() {
      yield* expectError(
        ["simulator", "--port", "0", "--job-duration", "5"],
        "--job-duration: '5' is not a duration (use a number and a unit: 500ms, 5s, 1m)"
      )
      yield* expectError(["simulator", "--latency=2h"], "--latency: '2h' is longer than 1h")
      yield* expectError(
        ["simulator", "--job-failure-rate", "3"],
        "--job-failure-rate: '3' is not a rate (a number from 0 to 1, or a percentage such as 5%)"
      )
      yield* expectError(
        ["simulator", "--error-rate", "listZones:530:1", "--error-rate", "listUnicorns:530:1"],
        "--error-rate: 'listUnicorns' is not a command the simulator answers (names are case-sensitive; * means every command)"
      )
      yield* expectError(
        ["simulator", "--api-down", "90..30"],
        "--api-down: '90..30' ends before it starts (UNTIL must be after FROM)"
      )
      yield* expectError(["simulator", "--record="], "--record must not be empty")
      const r = yield* runCli("simulator", "--port", "0", "--record", "/nonexistent-dir/calls.jsonl")
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stderr.length, 1)
      assert.match(r.stderr[0] ?? "", /^--record \/nonexistent-dir\/calls\.jsonl: cannot write the call log: /)
    }))
})

describe("Cli.splitEmptyValues", () => {
  it("turns `--name=` into `--name \"\"` for the @effect/cli subcommands only, never after `--`", () => {
    assert.deepStrictEqual(splitEmptyValues(["simulator", "--api-key=", "--port=1"]), [
      "simulator",
      "--api-key",
      "",
      "--port=1"
    ])
    assert.deepStrictEqual(splitEmptyValues(["check", "--", "--x="]), ["check", "--", "--x="])
    // The root command and `run` parse pflag themselves (`--kubeconfig=` means "not given").
    assert.deepStrictEqual(splitEmptyValues(["--kubeconfig="]), ["--kubeconfig="])
    assert.deepStrictEqual(splitEmptyValues(["run", "--kubeconfig="]), ["run", "--kubeconfig="])
  })

  it("splits a repeatable option's `--name=value` (@effect/cli matches those only as `--name value`)", () => {
    assert.deepStrictEqual(
      splitEmptyValues([
        "simulator",
        "--error-rate=listZones:530:1",
        "--error-rate",
        "*:503:5%",
        "--seed=2",
        "--",
        "--error-rate=x"
      ]),
      ["simulator", "--error-rate", "listZones:530:1", "--error-rate", "*:503:5%", "--seed=2", "--", "--error-rate=x"]
    )
  })
})

describe("PlainConsole.colorPolicy", () => {
  it("colour only on a terminal, and never with NO_COLOR set", () => {
    assert.deepStrictEqual(colorPolicy({ stdout: true, stderr: false }, {}), { stdout: true, stderr: false })
    assert.deepStrictEqual(colorPolicy({ stdout: true, stderr: true }, { NO_COLOR: "1" }), {
      stdout: false,
      stderr: false
    })
    assert.deepStrictEqual(colorPolicy({ stdout: true, stderr: true }, { NO_COLOR: "" }), {
      stdout: true,
      stderr: true
    })
  })
})
