import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Schema } from "effect"
import * as YAML from "yaml"
import { main } from "../../src/cli/Cli.js"
import { banner } from "../../src/cli/SimulatorCommand.js"
import { encodeQuery, sign } from "../../src/cloudstack/Signing.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import { World } from "../../src/simulation/cloudstack/World.js"
import { keysOf } from "../../src/simulation/cloudstack/WorldKeys.js"
import * as CapturingConsole from "../fakes/CapturingConsole.js"

const encodedDemo = Schema.encodeSync(World)(demoWorld)
const CallLine = Schema.Struct({
  time: Schema.String,
  account: Schema.optional(Schema.String),
  command: Schema.String,
  params: Schema.Record({ key: Schema.String, value: Schema.String }),
  status: Schema.Number,
  ms: Schema.Number
})
const scenario = { ...encodedDemo, zones: [{ name: "scenario-zone" }] }
const retargeted = JSON.parse(
  JSON.stringify(scenario).replaceAll(`"zone":"${demoWorld.zones[0].name}"`, `"zone":"scenario-zone"`)
)

const files = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "simulator-" })
  const write = (name: string, text: string) =>
    Effect.as(fs.writeFileString(path.join(dir, name), text), path.join(dir, name))
  return {
    yaml: yield* write("world.yaml", YAML.stringify(retargeted)),
    json: yield* write("world.json", JSON.stringify(retargeted)),
    broken: yield* write("broken.yaml", "zones: [unclosed\n"),
    invalid: yield* write("invalid.json", JSON.stringify({ ...retargeted, accounts: [], zones: "none" })),
    dangling: yield* write(
      "dangling.json",
      JSON.stringify({ ...retargeted, networks: [{ ...retargeted.networks[0], zone: "nowhere" }] })
    )
  }
})

/** Runs the CLI in-process, capturing its console. */
const runCli = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const captured = yield* CapturingConsole.make
    const fiber = yield* Effect.fork(
      main(["node", "cloudstack-ccm", ...args]).pipe(Effect.withConsole(captured.console))
    )
    return { fiber, captured }
  })

/** Waits (really: the server is real) until the banner is printed and returns the api-url line's value. */
const waitForUrl = (captured: CapturingConsole.CapturedOutput) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const m = /^api-url:\s+(\S+)$/m.exec(captured.stdout().join("\n"))
      if (m?.[1] !== undefined) return m[1]
      yield* Effect.sleep("25 millis")
    }
    return assert.fail(`no banner; stderr: ${captured.stderr().join("\n")}`)
  })

const listZones = (apiUrl: string, apiKey: string, secretKey: string) =>
  Effect.promise(async () => {
    const params = { command: "listZones", response: "json", apiKey }
    const res = await fetch(`${apiUrl}?${encodeQuery({ ...params, signature: sign(params, secretKey) })}`)
    return { status: res.status, body: await res.text() }
  })

describe("simulator command", () => {
  it.live("serves a YAML scenario with the given keys until interrupted, then frees the port", () =>
    Effect.gen(function*() {
      const f = yield* files
      const { captured, fiber } = yield* runCli(
        "simulator",
        "--port",
        "0",
        "--seed",
        "5",
        "--scenario",
        f.yaml,
        "--api-key",
        "cli-key",
        "--secret-key",
        "cli-secret"
      )
      const apiUrl = yield* waitForUrl(captured)
      assert.match(apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/client\/api$/)
      const stdout = captured.stdout().join("\n")
      assert.include(stdout, "api-key:    cli-key\nsecret-key: cli-secret")
      assert.include(
        stdout,
        `[Global]\napi-url = ${apiUrl}\napi-key = cli-key\nsecret-key = cli-secret\nzone = scenario-zone`
      )
      const answer = yield* listZones(apiUrl, "cli-key", "cli-secret")
      assert.strictEqual(answer.status, 200)
      assert.include(answer.body, `"name":"scenario-zone"`)
      yield* Fiber.interrupt(fiber)
      const after = yield* Effect.either(Effect.tryPromise(() => fetch(apiUrl)))
      assert.isTrue(after._tag === "Left", "the port still answers after interruption")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("keeps a JSON scenario's own keys; the demo world gets fresh random keys", () =>
    Effect.gen(function*() {
      const f = yield* files
      const own = Option.getOrThrow(keysOf(demoWorld))
      const fromFile = yield* runCli("simulator", "--port", "0", "--scenario", f.json)
      const url = yield* waitForUrl(fromFile.captured)
      assert.include(fromFile.captured.stdout().join("\n"), `api-key:    ${own.apiKey}\n`)
      assert.strictEqual((yield* listZones(url, own.apiKey, own.secretKey)).status, 200)
      yield* Fiber.interrupt(fromFile.fiber)

      const demo = yield* runCli("simulator", "--port", "0")
      const demoUrl = yield* waitForUrl(demo.captured)
      const out = demo.captured.stdout().join("\n")
      const key = /^api-key:\s+(\S+)$/m.exec(out)?.[1] ?? ""
      const secret = /^secret-key:\s+(\S+)$/m.exec(out)?.[1] ?? ""
      assert.match(key, /^[A-Za-z0-9_-]{86}$/)
      assert.notStrictEqual(key, own.apiKey)
      assert.include(out, "(demo world)")
      assert.strictEqual((yield* listZones(demoUrl, key, secret)).status, 200)
      assert.strictEqual((yield* listZones(demoUrl, own.apiKey, own.secretKey)).status, 401)
      yield* Fiber.interrupt(demo.fiber)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("a bad scenario fails with exit code 1 and a message naming the file and the problem", () =>
    Effect.gen(function*() {
      const f = yield* files
      const expectFailure = (path: string, ...needles: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const { captured, fiber } = yield* runCli("simulator", "--port", "0", "--scenario", path)
          assert.strictEqual(yield* Fiber.join(fiber), 1)
          const stderr = captured.stderr().join("\n")
          for (const needle of needles) assert.include(stderr, needle)
        })
      yield* expectFailure(f.broken, `scenario ${f.broken}: not JSON/YAML`)
      yield* expectFailure(f.invalid, `scenario ${f.invalid}: not a valid scenario`, `["zones"]`, `["accounts"]`)
      yield* expectFailure(f.dangling, "invalid simulator world", "nowhere")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it.live("fault flags and --record: slow jobs, injected errors, an API-down window, every call in the log without secrets", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "simulator-record-" })
      const log = path.join(dir, "calls.jsonl")
      const { captured, fiber } = yield* runCli(
        "simulator",
        "--port",
        "0",
        "--api-key",
        "rec-key",
        "--secret-key",
        "rec-secret",
        "--job-duration",
        "500ms",
        "--latency",
        "20ms",
        "--error-rate",
        "listTemplates:534:1",
        "--error-rate=listServiceOfferings:429:100%",
        "--api-down",
        "0..1:unavailable",
        "--record",
        log
      )
      const apiUrl = yield* waitForUrl(captured)
      const stdout = captured.stdout().join("\n")
      for (
        const note of [
          "job duration: 500ms per async job",
          "latency: 20ms before every answer",
          "errors: listTemplates answers 534 for 100% of calls",
          "API down: 0s..1s after start (unavailable)",
          `call log: ${log}`
        ]
      ) {
        assert.include(stdout, note)
      }
      const send = (command: string, params: Record<string, string> = {}) =>
        Effect.promise(async () => {
          const all = { command, response: "json", apiKey: "rec-key", ...params }
          const res = await fetch(`${apiUrl}?${encodeQuery({ ...all, signature: sign(all, "rec-secret") })}`)
          return { status: res.status, body: await res.text() }
        })
      const down = yield* send("listZones")
      assert.deepStrictEqual([down.status, down.body], [503, "503 Service Unavailable"])
      yield* Effect.sleep("1100 millis")
      const zones = yield* send("listZones", { password: "hunter2" })
      assert.strictEqual(zones.status, 200)
      assert.strictEqual((yield* send("listTemplates", { templatefilter: "all" })).status, 534)
      assert.strictEqual((yield* send("listServiceOfferings")).status, 429)
      const zoneId = /"id":"([^"]+)"/.exec(zones.body)?.[1] ?? ""
      const submitted = yield* send("createTags", {
        resourcetype: "Zone",
        resourceids: zoneId,
        "tags[0].key": "k",
        "tags[0].value": "v"
      })
      const jobId = /"jobid":"([^"]+)"/.exec(submitted.body)?.[1] ?? assert.fail(submitted.body)
      const pending = (yield* send("queryAsyncJobResult", { jobid: jobId })).body
      assert.include(pending, `"jobstatus":0`, pending)
      yield* Effect.sleep("600 millis")
      assert.include((yield* send("queryAsyncJobResult", { jobid: jobId })).body, `"jobstatus":1`)
      yield* Fiber.interrupt(fiber)

      const text = yield* fs.readFileString(log)
      assert.notInclude(text, "rec-key")
      assert.notInclude(text, "rec-secret")
      assert.notInclude(text, "hunter2")
      const lines = text.trim().split("\n").map((l) => Schema.decodeUnknownSync(CallLine)(JSON.parse(l)))
      assert.deepStrictEqual(lines.map((l) => [l.command, l.status]), [
        ["listZones", 503],
        ["listZones", 200],
        ["listTemplates", 534],
        ["listServiceOfferings", 429],
        ["createTags", 200],
        ["queryAsyncJobResult", 200],
        ["queryAsyncJobResult", 200]
      ])
      assert.deepStrictEqual(lines[1]?.params, { password: "<redacted>" })
      assert.strictEqual(lines[1]?.account, "admin")
      for (const l of lines) assert.isAtLeast(l.ms, 20, "the latency is part of every answer")
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)))

  it("the banner names the url, keys, a cloud-config and client settings", () => {
    const text = banner("http://127.0.0.1:1/client/api", { apiKey: "K", secretKey: "S" }, demoWorld, "demo world")
    assert.include(
      text,
      "CLOUDSTACK_ENDPOINT=http://127.0.0.1:1/client/api CLOUDSTACK_KEY=K CLOUDSTACK_SECRET=S cs listZones"
    )
    assert.include(text, "cmk set url http://127.0.0.1:1/client/api; cmk set apikey K; cmk set secretkey S")
    assert.include(text, `zone = ${demoWorld.zones[0].name}`)
  })
})
