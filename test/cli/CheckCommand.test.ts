/**
 * `cloudstack-ccm check` end to end in-process, against the simulator over HTTP: the readable
 * report and `--output json` on stdout, exit 0 only when the CCM can do its job, `--controllers`
 * deciding which commands the role must have, `--offline` making no call.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { ADMIN, apiUrl, Face, NO_LB } from "../preflight/PreflightEnv.js"
import * as InProcessCli from "./InProcessCli.js"

const JsonReport = Schema.Struct({
  ok: Schema.Boolean,
  apiUrl: Schema.String,
  controllers: Schema.Array(Schema.String),
  checks: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      level: Schema.Literal("ok", "note", "warn", "fail", "skip"),
      text: Schema.String
    })
  ),
  commands: Schema.Array(
    Schema.Struct({ command: Schema.String, needed: Schema.Boolean, allowed: Schema.NullOr(Schema.Boolean) })
  ),
  networks: Schema.Array(Schema.Struct({ name: Schema.String, kind: Schema.String, vms: Schema.Array(Schema.String) }))
})

const configFor = (keys: { readonly apiKey: string; readonly secretKey: string }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "check-" })
    const file = path.join(dir, "cloud-config")
    yield* fs.writeFileString(
      file,
      `[Global]\napi-url = ${yield* apiUrl}\napi-key = ${keys.apiKey}\nsecret-key = ${keys.secretKey}\nzone = zone1\n`
    )
    return file
  })

const env = Layer.merge(Face, NodeContext.layer)

describe("cloudstack-ccm check (preflight)", () => {
  it.live("root admin keys: the readable report, exit 0; --output json has every check, command and network", () =>
    Effect.gen(function*() {
      const file = yield* configFor(ADMIN)
      const text = yield* InProcessCli.runCli("check", "--cloud-config", file)
      assert.strictEqual(text.code, 0, text.stdout)
      assert.include(
        text.stdout,
        "Permissions (listApis)\n  ok    nodes         the command of the cloud-node and cloud-node-lifecycle controllers allowed"
      )
      assert.include(text.stdout, "  shared1 (shared, id ")
      assert.match(text.stdout, /\nResult: OK, the CCM can do its job \(1 warning\)$/)
      const json = yield* InProcessCli.runCli("check", "--cloud-config", file, "--output", "json")
      assert.strictEqual(json.code, 0)
      const report = Schema.decodeUnknownSync(Schema.parseJson(JsonReport))(json.stdout)
      assert.isTrue(report.ok)
      assert.deepStrictEqual(report.controllers, [
        "cloud-node-controller",
        "cloud-node-lifecycle-controller",
        "service-lb-controller"
      ])
      assert.isTrue(report.commands.every((c) => c.allowed === true))
      assert.includeMembers(report.networks.map((n) => n.name), ["isolated1", "isolated-ns", "vpc1-web", "shared1"])
      assert.notInclude(text.stdout + text.stderr + json.stdout + json.stderr, ADMIN.secretKey)
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.live("a role without the LB commands: exit 1 naming the failed check; with --controllers=*,-service exit 0", () =>
    Effect.gen(function*() {
      const file = yield* configFor(NO_LB)
      const all = yield* InProcessCli.runCli("check", "--cloud-config", file)
      assert.strictEqual(all.code, 1)
      assert.include(all.stdout, "FAIL  loadBalancers the role may not run 6 of the 27 commands")
      assert.include(all.stderr, "check failed: permissions.loadBalancers (see the report on stdout)")
      const nodes = yield* InProcessCli.runCli("check", "--cloud-config", file, "--controllers=*,-service")
      assert.strictEqual(nodes.code, 0, nodes.stdout)
      assert.include(nodes.stdout, "(controllers: cloud-node-controller, cloud-node-lifecycle-controller)")
      assert.include(nodes.stdout, "note  loadBalancers not enabled, but the role may not run 6 of the 27 commands")
      const bad = yield* InProcessCli.runCli("check", "--cloud-config", file, "--controllers", "nodes")
      assert.strictEqual(bad.code, 1)
      assert.include(bad.stderr, `--controllers: unknown controller "nodes"`)
    }).pipe(Effect.scoped, Effect.provide(env)))

  it.live("--offline makes no call: the summary (or its JSON) for a file whose endpoint does not exist", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "check-offline-" })
      const file = `${dir}/cloud-config`
      yield* fs.writeFileString(
        file,
        "[Global]\napi-url = https://cloud.invalid/client/api\napi-key = k\nsecret-key = s\n"
      )
      const text = yield* InProcessCli.runCli("check", "--offline", "--cloud-config", file)
      assert.deepStrictEqual([
        text.code,
        text.stdout.startsWith(`cloud-config ${file} OK: api-url=https://cloud.invalid/client/api`)
      ], [0, true])
      const json = yield* InProcessCli.runCli("check", "--offline", "--output=json", "--cloud-config", file)
      assert.strictEqual(json.code, 0)
      assert.deepStrictEqual(Object.keys(JSON.parse(json.stdout)), ["ok", "summary"])
      const online = yield* InProcessCli.runCli("check", "--cloud-config", file)
      assert.strictEqual(online.code, 1)
      assert.match(online.stdout, /FAIL  dns           cloud.invalid does not resolve: (ENOTFOUND|EAI_AGAIN)/)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
})
