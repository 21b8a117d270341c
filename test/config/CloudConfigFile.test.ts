import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import { CloudConfig } from "../../src/config/CloudConfig.js"
import { layerFromFile, layerFromString, load } from "../../src/config/CloudConfigFile.js"

const GOOD = "[Global]\napi-url = https://h/client/api\napi-key = k\nsecret-key = s\nzone = z\n"

/** A temp dir (removed after the test) with `files` written into it. */
const withFiles = (files: Record<string, string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "cloud-config-" })
    for (const [name, text] of Object.entries(files)) yield* fs.writeFileString(path.join(dir, name), text)
    return (name: string) => path.join(dir, name)
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E =>
  Exit.match(exit, {
    onSuccess: () => assert.fail("expected a failure"),
    onFailure: (cause) =>
      Option.getOrElse(
        Cause.failureOption(cause),
        () => assert.fail(`expected a typed failure: ${Cause.pretty(cause)}`)
      )
  })

describe("CloudConfigFile", () => {
  it.scoped("layerFromFile reads and validates the file", () =>
    Effect.gen(function*() {
      const at = yield* withFiles({ "cloud-config": GOOD })
      const config = yield* CloudConfig.pipe(Effect.provide(layerFromFile(at("cloud-config"))))
      assert.strictEqual(config.apiUrl.href, "https://h/client/api")
      assert.strictEqual(Redacted.value(config.secretKey), "s")
      assert.strictEqual(config.source, at("cloud-config"))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a missing file is a CloudConfigError naming the path", () =>
    Effect.gen(function*() {
      const at = yield* withFiles({})
      const error = failureOf(yield* Effect.exit(load(at("nope"))))
      assert.strictEqual(error._tag, "CloudConfigError")
      assert.deepStrictEqual(error.issues.map((i) => i._tag), ["FileNotFound"])
      assert.strictEqual(error.message.split("\n")[1], `  ${at("nope")}: file not found`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an unreadable path (a directory) is a CloudConfigError naming the path", () =>
    Effect.gen(function*() {
      const at = yield* withFiles({ "x": "" })
      const dir = at("x").replace(/\/x$/, "")
      const error = failureOf(yield* Effect.exit(load(dir)))
      assert.deepStrictEqual(error.issues.map((i) => i._tag), ["FileUnreadable"])
      assert.include(error.message, `${dir}: cannot read file:`)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an invalid file reports every problem with the path and line", () =>
    Effect.gen(function*() {
      const at = yield* withFiles({ "bad": "[Global]\napi-url = x\nfoo = 1\n" })
      const error = failureOf(yield* Effect.exit(load(at("bad"))))
      assert.deepStrictEqual(error.message.split("\n").slice(1), [
        `  ${at("bad")}: missing required keys in [Global]: api-key, secret-key`,
        `  ${
          at("bad")
        }:2: invalid value for "api-url": "x" is not a URL (expected e.g. https://cloud.example.com/client/api)`,
        `  ${at("bad")}:3: unknown key "foo" in [Global] (did you mean "zone"?)`
      ])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("layerFromString provides CloudConfig without a file system", () =>
    Effect.gen(function*() {
      const config = yield* CloudConfig
      assert.deepStrictEqual(config.zone, Option.some("z"))
      assert.strictEqual(config.source, "test.ini")
    }).pipe(Effect.provide(layerFromString(GOOD, "test.ini"))))

  it.effect("layerFromString fails the layer on invalid text", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(layerFromString("[Global]\n", "t.ini")).pipe(Effect.scoped))
      const error = failureOf(exit)
      assert.deepStrictEqual(error.issues.map((i) => i._tag), ["MissingKeys"])
    }))
})
