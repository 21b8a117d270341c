import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { checkConfig } from "../../src/cli/CheckCommand.js"
import * as CliLogger from "../../src/cli/CliLogger.js"
import { summarize } from "../../src/config/CloudConfigSummary.js"
import * as CapturingConsole from "../fakes/CapturingConsole.js"

const LogLine = Schema.parseJson(Schema.Struct({
  message: Schema.String,
  logLevel: Schema.String,
  annotations: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}))

const check = (text: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(yield* fs.makeTempDirectoryScoped({ prefix: "check-" }), "cloud-config")
    yield* fs.writeFileString(file, text)
    const captured = yield* CapturingConsole.make
    const config = yield* checkConfig(file).pipe(Effect.provide(CliLogger.layer), Effect.withConsole(captured.console))
    // what `check --offline` prints
    return {
      stdout: [...captured.stdout(), summarize(config)].join("\n"),
      logs: captured.stderr().map((l) => Schema.decodeUnknownSync(LogLine)(l))
    }
  })

describe("check", () => {
  it.scoped("warns when an unquoted api-key/secret-key value ends at ';' or '#', naming the key and line, never the value", () =>
    Effect.gen(function*() {
      const { logs, stdout } = yield* check(
        "[Global]\napi-url = https://h/client/api\napi-key = AKEY-part1;part2\nsecret-key = SKEY-part1#part2\n"
      )
      const warnings = logs.filter((l) => l.logLevel === "WARN")
      assert.deepStrictEqual(warnings.map((w) => [w.annotations["key"], w.annotations["line"]]), [["api-key", 3], [
        "secret-key",
        4
      ]])
      assert.include(warnings[0]?.message ?? "", "quote the value")
      const everything = JSON.stringify(logs) + stdout
      for (const part of ["AKEY-part1", "part2", "SKEY-part1"]) assert.notInclude(everything, part)
      assert.include(stdout, "api-key=<redacted>")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("no warning for quoted values followed by a comment", () =>
    Effect.gen(function*() {
      const { logs } = yield* check(
        "[Global]\napi-url = https://h/client/api\napi-key = \"A;K\" ; mine\nsecret-key = \"S#K\" # mine\n"
      )
      assert.deepStrictEqual(logs.filter((l) => l.logLevel === "WARN"), [])
    }).pipe(Effect.provide(NodeContext.layer)))
})
