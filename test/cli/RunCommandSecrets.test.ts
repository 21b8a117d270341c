/**
 * "Keys are never printed": the real `cloudstack-ccm` run wiring (cloud-node and cloud-node-lifecycle
 * controllers, JSON logs, /metrics) in process on the TestClock with FakeKubernetes, its real
 * HttpTransport pointed at servers that echo the signed request back: a 404 HTML page, a 200 JSON
 * object, and a CloudStack error envelope. At every `-v` from 0 to 9 neither the api key, the
 * secret key nor any request signature appears in stdout, stderr, a Kubernetes Event or /metrics.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Either, Fiber, Layer, Logger, Option } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as CliLogger from "../../src/cli/CliLogger.js"
import { logLevelOf, programWith } from "../../src/cli/RunCommand.js"
import { parse } from "../../src/cli/RunFlags.js"
import * as HttpTransport from "../../src/cloudstack/HttpTransport.js"
import { encodeValue } from "../../src/cloudstack/Signing.js"
import { TAINT_UNINITIALIZED } from "../../src/controllers/NodePlan.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import * as CapturingConsole from "../fakes/CapturingConsole.js"
import { API_KEY, cloudConfig, SECRET_KEY } from "../fakes/CloudStackTestEnv.js"
import { advance, awaitDriving } from "../fakes/LiveIo.js"
import * as LoopbackServer from "../fakes/LoopbackServer.js"

const paramsOf = (request: LoopbackServer.SeenRequest) =>
  new URLSearchParams(request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : request.body)

/** Echoing servers, as a misrouted api-url may reach: each repeats the whole signed request. */
const echoes: ReadonlyArray<readonly [string, (request: LoopbackServer.SeenRequest) => LoopbackServer.Reply]> = [
  ["a 404 HTML page echoing the URL and the decoded parameters", (request) => ({
    status: 404,
    headers: { "content-type": "text/html" },
    body: `<html><body><h1>Not Found</h1><p>GET ${request.url}</p><table>${
      [...paramsOf(request)].map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join("")
    }</table></body></html>`
  })],
  [
    "a 200 JSON object echoing the URL and the parameters",
    (request) =>
      LoopbackServer.jsonReply(200, {
        url: request.url,
        params: Object.fromEntries(paramsOf(request)),
        body: request.body
      })
  ],
  ["a CloudStack error envelope echoing the request in its errortext", (request) => {
    const command = paramsOf(request).get("command") ?? "x"
    return LoopbackServer.jsonReply(530, {
      [`${command.toLowerCase()}response`]: {
        uuidList: [{ uuid: paramsOf(request).get("apiKey") ?? "", description: "apiKey" }],
        errorcode: 530,
        cserrorcode: 4250,
        errortext: `cannot process ${request.url} (apiKey ${paramsOf(request).get("apiKey")}, signature ${
          paramsOf(request).get("signature")
        })`
      }
    })
  }]
]

const freePort = Effect.async<number>((resume) => {
  const probe = createServer()
  probe.listen(0, "127.0.0.1", () => {
    const address: AddressInfo | string | null = probe.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    probe.close(() => resume(Effect.succeed(port)))
  })
})

const fetchText = (url: string) =>
  Effect.tryPromise(() => fetch(url).then((r) => r.text())).pipe(Effect.orElseSucceed(() => ""))

/** Starts one run at `-v=<verbosity>` against `echo`; `finish` stops it and returns what it printed, recorded and served. */
const startAgainst = (echo: (request: LoopbackServer.SeenRequest) => LoopbackServer.Reply, verbosity: number) =>
  Effect.gen(function*() {
    const server = yield* LoopbackServer.make(echo)
    const output = yield* CapturingConsole.make
    const kube = yield* Layer.build(FakeKubernetes.layer())
    const nodes = Context.get(kube, NodeApi)
    yield* nodes.create({
      name: "joining",
      taints: [{ key: TAINT_UNINITIALIZED, value: "true", effect: "NoSchedule" }]
    })
    yield* nodes.create({ name: "not-ready", providerID: "external-cloudstack://6d1f2c1e-3b1a-4c55-9a3e-0f1e2d3c4b5a" })
    const port = yield* freePort
    const parsed = parse([
      "--cloud-config=/unused",
      `--secure-port=${port}`,
      "--bind-address=127.0.0.1",
      "--plain-http",
      // /metrics is read without a token here (the delegated authorization has its own tests)
      "--authorization-always-allow-paths=/metrics",
      "--leader-elect=false",
      "--controllers=cloud-node,cloud-node-lifecycle",
      "--node-monitor-period=2s",
      `-v=${verbosity}`
    ])
    if (Either.isLeft(parsed)) return assert.fail(parsed.left.message)
    const config = cloudConfig({ apiUrl: server.apiUrl, requestsPerSecond: 1_000_000 })
    const running = yield* Effect.fork(
      programWith(parsed.right.flags, Option.some(config), {
        kubernetes: Layer.succeedContext(kube),
        cloudStackTransport: HttpTransport.layer
      }).pipe(
        Logger.withMinimumLogLevel(logLevelOf(verbosity)),
        Effect.provide(CliLogger.layer),
        Effect.withConsole(output.console)
      )
    )
    const finish = Effect.gen(function*() {
      const metrics = yield* Effect.fork(fetchText(`http://127.0.0.1:${port}/metrics`))
      const metricsText = yield* awaitDriving(metrics, "1 millis")
      // in-flight reconciles drain on the Clock: keep it moving while the run stops
      yield* awaitDriving(yield* Effect.fork(Fiber.interrupt(running)), "200 millis")
      const events = yield* Context.get(kube, FakeKubernetes.FakeKubernetes).events
      const signatures = server.seen().flatMap((r) => Option.toArray(Option.fromNullable(paramsOf(r).get("signature"))))
      return { output, events, metricsText, signatures, requests: server.seen().length }
    })
    return { finish }
  })

/** Every 12-character piece of a secret's forms (raw, URL-encoded, JSON-escaped), lowercased: a cut-off key leaks too. */
const fragments = (secret: string): ReadonlyArray<string> => {
  const forms = [secret, encodeURIComponent(secret), encodeValue(secret), secret.replaceAll("/", "\\/")].map((s) =>
    s.toLowerCase()
  )
  return [
    ...new Set(
      forms.flatMap((form) => Array.from({ length: Math.max(1, form.length - 11) }, (_, i) => form.slice(i, i + 12)))
    )
  ]
}

describe("keys and signatures never leave the process, at any -v (echoing endpoints)", () => {
  for (let verbosity = 0; verbosity <= 9; verbosity++) {
    it.scoped(`-v=${verbosity}: a 404 HTML echo, a 200 JSON echo and an echoing error envelope`, () =>
      Effect.gen(function*() {
        // the three runs share the TestClock: ~20 s of controller time, socket turns in between
        const runs = yield* Effect.forEach(echoes, ([, echo]) => startAgainst(echo, verbosity))
        yield* advance(20, "1 second", 8)
        // every run is stopped before anything is asserted: a failed assertion leaves no run behind
        const results = yield* Effect.forEach(runs, (run) => run.finish)
        for (const [[what], result] of echoes.map((e, i) => [e, results[i]] as const)) {
          if (result === undefined) return assert.fail("run not finished")
          const { events, metricsText, output, requests, signatures } = result
          const stdout = output.stdout().join("\n")
          const stderr = output.stderr().join("\n")
          const label = `-v=${verbosity}, ${what}`
          // the run really talked to the echo, failed, logged, recorded Events and served metrics
          assert.isAtLeast(requests, 2, label)
          assert.isAtLeast(signatures.length, 2, label)
          assert.include(stderr, "CloudStack", `${label}: the failures are logged`)
          assert.isTrue(events.some((e) => e.reason === "SyncNodeFailed"), `${label}: SyncNodeFailed recorded`)
          assert.include(metricsText, "cloudstack_ccm_api_requests_total", label)
          const texts = { stdout, stderr, events: JSON.stringify(events), metrics: metricsText }
          for (const [where, text] of Object.entries(texts)) {
            const lower = text.toLowerCase()
            for (const secret of [API_KEY, SECRET_KEY, ...signatures]) {
              for (const piece of fragments(secret)) {
                assert.notInclude(lower, piece, `${label}: a piece of a secret in ${where}`)
              }
            }
          }
          // what the echo said still reaches the operator, with the secrets redacted
          assert.include(texts.events + stderr, "<redacted>", label)
        }
      }))
  }
})
