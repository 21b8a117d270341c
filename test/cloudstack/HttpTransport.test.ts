import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Duration, Effect, FastCheck, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from "node:http"
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https"
import { type AddressInfo, connect, type Socket } from "node:net"
import selfsigned from "selfsigned"
import { CloudStackClient, layer as clientLayer } from "../../src/cloudstack/CloudStackClient.js"
import { CloudStackTransport } from "../../src/cloudstack/CloudStackTransport.js"
import { assignToLoadBalancerRule, createLoadBalancerRule } from "../../src/cloudstack/commands/LoadBalancers.js"
import { listNetworks } from "../../src/cloudstack/commands/Networks.js"
import { createTags } from "../../src/cloudstack/commands/Tags.js"
import { listZones } from "../../src/cloudstack/commands/Zones.js"
import * as HttpTransport from "../../src/cloudstack/HttpTransport.js"
import { LbRuleId } from "../../src/cloudstack/Ids.js"
import { MAX_ATTEMPTS } from "../../src/cloudstack/RetryPolicy.js"
import { verify } from "../../src/cloudstack/Signing.js"
import { CloudConfig, type CloudConfigShape } from "../../src/config/CloudConfig.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import { API_KEY, cloudConfig, SECRET_KEY } from "../fakes/CloudStackTestEnv.js"
import { runDriving } from "../fakes/LiveIo.js"
import { readBody } from "../fakes/LoopbackServer.js"

interface Seen {
  readonly method: string
  readonly url: string
  readonly contentType: string | undefined
  readonly raw: string
  readonly params: Readonly<Record<string, string>>
}

const envelope = (command: string, inner: unknown) => JSON.stringify({ [`${command.toLowerCase()}response`]: inner })

/** A loopback CloudStack that checks signatures the way ApiServer does and answers per command. */
const answer = (seen: Seen, res: ServerResponse) => {
  const { signature = "", ...signed } = seen.params
  const command = seen.params["command"] ?? ""
  const send = (status: number, body: string, type = "application/json; charset=UTF-8") => {
    res.writeHead(status, { "content-type": type })
    res.end(body)
  }
  if (!verify(signed, SECRET_KEY, signature) || seen.params["apiKey"] !== API_KEY) {
    return send(
      401,
      envelope(command, {
        uuidList: [],
        errorcode: 401,
        errortext: "unable to verify user credentials and/or request signature"
      })
    )
  }
  switch (command) {
    case "listZones":
      return send(200, envelope(command, { count: 1, zone: [{ id: "z1", name: seen.params["name"] ?? "none" }] }))
    case "listNetworks":
      return send(200, "<html><body>Login required</body></html>", "text/html")
    case "createLoadBalancerRule":
      return send(
        537,
        envelope(command, {
          uuidList: [],
          errorcode: 537,
          cserrorcode: 4360,
          errortext: "The range specified, 80-80, conflicts with rule Rule[12-LoadBalancing-Active]"
        })
      )
    case "createTags":
      return send(200, envelope(command, { jobid: "j-ok" }))
    case "assignToLoadBalancerRule":
      return send(200, envelope(command, { jobid: "j-fail" }))
    case "queryAsyncJobResult":
      return send(
        200,
        envelope(
          command,
          seen.params["jobid"] === "j-ok"
            ? { jobid: "j-ok", jobstatus: 1, jobresultcode: 0, jobresulttype: "object", jobresult: { success: true } }
            : {
              jobid: "j-fail",
              jobstatus: 2,
              jobresultcode: 530,
              jobresulttype: "object",
              jobresult: { errorcode: 530, errortext: "Failed to assign load balancer rule" }
            }
        )
      )
    case "listVPCs":
      return // never answers: request timeout
    default:
      return send(401, envelope(command, { uuidList: [], errorcode: 401, errortext: "unknown command" }))
  }
}

const listen = (server: Server | HttpsServer) =>
  Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address: AddressInfo | string | null = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    }),
    () =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** Starts the fake CloudStack; returns its base URL and the requests it saw. */
const fakeCloudStack = Effect.gen(function*() {
  const seen: Array<Seen> = []
  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const query = (req.url ?? "").split("?")[1] ?? ""
      const raw = req.method === "GET" ? query : body
      // URLSearchParams decodes `+` as a space, exactly like the servlet's URLDecoder
      const params = Object.fromEntries(new URLSearchParams(raw))
      const s: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        contentType: req.headers["content-type"],
        raw,
        params
      }
      seen.push(s)
      answer(s, res)
    })
  })
  const port = yield* listen(server)
  return { url: new URL(`http://127.0.0.1:${port}/client/api`), seen }
})

/**
 * A forward proxy recording what it relays: CONNECT tunnels (undici's default, also for http
 * targets) and absolute-form requests.
 */
const forwardProxy = Effect.gen(function*() {
  const relayed: Array<string> = []
  const tunnels: Array<Socket> = []
  const server = createServer((req, res) => {
    relayed.push(`${req.method} ${req.url}`)
    const upstream = httpRequest(req.url ?? "", { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    req.pipe(upstream)
  })
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    relayed.push(`CONNECT ${req.url}`)
    const [host = "", port = "0"] = (req.url ?? "").split(":")
    const target = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      target.write(head)
      target.pipe(client)
      client.pipe(target)
    })
    target.on("error", () => client.destroy())
    client.on("error", () => target.destroy())
    tunnels.push(client, target)
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => tunnels.forEach((t) => t.destroy())))
  const port = yield* listen(server)
  return { url: `http://127.0.0.1:${port}`, relayed }
})

const PROXY_VARS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"] as const

/** Runs with exactly the given proxy variables set (the agent reads them when the layer is built). */
const withProxyEnv = <A, E, R>(
  vars: Partial<Record<(typeof PROXY_VARS)[number], string>>,
  effect: Effect.Effect<A, E, R>
) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved = PROXY_VARS.map((k) => [k, process.env[k]] as const)
      for (const k of PROXY_VARS) delete process.env[k]
      Object.assign(process.env, vars)
      return saved
    }),
    () => effect,
    (saved) =>
      Effect.sync(() => {
        for (const [k, v] of saved) {
          if (v === undefined) delete process.env[k]
          else process.env[k] = v
        }
      })
  )

const live = (overrides: Partial<CloudConfigShape>) =>
  clientLayer.pipe(
    Layer.provideMerge(HttpTransport.layer),
    Layer.provide(Metrics.layer),
    Layer.provide(Layer.succeed(CloudConfig, cloudConfig(overrides)))
  )

describe("HttpTransport + CloudStackClient against a loopback CloudStack", () => {
  it.live("reads go by GET with a verified signature, `+` as %2B, straight to the server without a proxy", () =>
    Effect.scoped(Effect.gen(function*() {
      const cs = yield* fakeCloudStack
      const zones = yield* withProxyEnv(
        {},
        Effect.scoped(
          Effect.gen(function*() {
            const client = yield* CloudStackClient
            return yield* client.list(listZones, { name: "a+b c" })
          }).pipe(Effect.provide(live({ apiUrl: cs.url })))
        )
      )
      assert.deepStrictEqual(zones.map((z) => z.name), ["a+b c"])
      const [req] = cs.seen
      assert.strictEqual(req?.method, "GET")
      assert.isTrue(req?.url.startsWith("/client/api?"), "origin-form request line: no proxy in between")
      assert.include(req?.raw, "name=a%2Bb%20c")
      assert.match(req?.raw ?? "", /expires=\d{4}-\d\d-\d\dT\d\d%3A\d\d%3A\d\d%2B0000/)
      assert.deepInclude(req?.params, { response: "json", signatureVersion: "3", page: "1", pagesize: "500" })
      const expires = Date.parse((req?.params["expires"] ?? "").replace("+0000", "Z"))
      assert.approximately(expires - Date.now(), 10 * 60_000, 60_000)
    })))

  it.live("mutations go by POST form; the job result is polled by GET", () =>
    Effect.scoped(Effect.gen(function*() {
      const cs = yield* fakeCloudStack
      const client = Context.get(yield* Layer.build(live({ apiUrl: cs.url })), CloudStackClient)
      const ok = yield* client.run(createTags, {
        resourceType: "LoadBalancer",
        resourceIds: ["r1"],
        tags: [{ key: "k", value: "Prod/EU West+1" }]
      })
      assert.strictEqual(ok, true)
      const [post, poll] = cs.seen
      assert.strictEqual(post?.method, "POST")
      assert.strictEqual(post?.url, "/client/api")
      assert.strictEqual(post?.contentType, "application/x-www-form-urlencoded")
      assert.strictEqual(post?.params["tags[0].value"], "Prod/EU West+1")
      assert.include(post?.raw, "tags%5B0%5D.value=Prod%2FEU%20West%2B1")
      assert.strictEqual(poll?.method, "GET")
      assert.strictEqual(poll?.params["command"], "queryAsyncJobResult")
    })))

  it.live("a wrong secret gets the 401 answer once (never retried); no secret in the error", () =>
    Effect.scoped(Effect.gen(function*() {
      const cs = yield* fakeCloudStack
      const error = yield* Effect.flip(
        Effect.flatMap(CloudStackClient, (c) => c.list(listZones, {})).pipe(
          Effect.provide(live({ apiUrl: cs.url, secretKey: Redacted.make("wrong-secret") }))
        )
      )
      assert.deepInclude(error, { _tag: "CloudStackApiError", httpStatus: 401, errorCode: 401 })
      assert.include(error.message, "check api-key and secret-key")
      assert.notInclude(error.message, "wrong-secret")
      assert.notInclude(JSON.stringify(error), "wrong-secret")
      assert.strictEqual(cs.seen.length, 1)
    })))

  // TestClock, driven between socket turns: the HTML answer to a read is retried with backoff.
  it.scoped("537 conflict, a failed job and an HTML body come back typed; the HTML read after MAX_ATTEMPTS tries", () =>
    Effect.gen(function*() {
      const cs = yield* fakeCloudStack
      const client = Context.get(yield* Layer.build(live({ apiUrl: cs.url })), CloudStackClient)
      const conflict = yield* Effect.flip(
        runDriving(
          client.submit(createLoadBalancerRule, { name: "n", algorithm: "roundrobin", privatePort: 1, publicPort: 80 })
        )
      )
      assert.deepInclude(conflict, { _tag: "CloudStackApiError", errorCode: 537, csErrorCode: 4360 })
      const failed = yield* Effect.flip(runDriving(client.run(assignToLoadBalancerRule, { id: LbRuleId.make("r") })))
      assert.deepInclude(failed, {
        _tag: "AsyncJobFailedError",
        jobId: "j-fail",
        errorCode: 530,
        errorText: "Failed to assign load balancer rule"
      })
      const htmlError = yield* Effect.flip(runDriving(client.list(listNetworks, {})))
      assert.deepInclude(htmlError, {
        _tag: "CloudStackUnexpectedBodyError",
        httpStatus: 200,
        contentType: "text/html"
      })
      assert.deepStrictEqual(cs.seen.map((s) => s.params["command"]), [
        "createLoadBalancerRule",
        "assignToLoadBalancerRule",
        "queryAsyncJobResult",
        ...Array.from({ length: MAX_ATTEMPTS }, () => "listNetworks")
      ])
    }))

  it.scoped("no log line (Debug included, annotations too) carries the api key or the secret", () =>
    Effect.gen(function*() {
      const cs = yield* fakeCloudStack
      const lines: Array<string> = []
      const logger = Logger.make(({ annotations, message }) => {
        lines.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations) }))
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* CloudStackClient
        yield* client.list(listZones, {})
        yield* client.run(createTags, {
          resourceType: "LoadBalancer",
          resourceIds: ["r"],
          tags: [{ key: "k", value: "v" }]
        })
        yield* Effect.either(client.run(assignToLoadBalancerRule, { id: LbRuleId.make("r") }))
        yield* Effect.either(client.list(listNetworks, {}))
      })).pipe(
        runDriving,
        Effect.provide(live({ apiUrl: cs.url, sslNoVerify: true })),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      assert.isAbove(lines.length, 2, "debug lines were emitted")
      for (const line of lines) {
        assert.notInclude(line, API_KEY)
        assert.notInclude(line, SECRET_KEY)
      }
    }))

  it.live("HTTP_PROXY is honoured, and NO_PROXY bypasses it", () =>
    Effect.scoped(Effect.gen(function*() {
      const cs = yield* fakeCloudStack
      const proxy = yield* forwardProxy
      const zones = Effect.scoped(
        Effect.flatMap(CloudStackClient, (c) => c.list(listZones, { name: "via" })).pipe(
          Effect.provide(live({ apiUrl: cs.url }))
        )
      )
      assert.strictEqual((yield* withProxyEnv({ HTTP_PROXY: proxy.url }, zones)).length, 1)
      assert.strictEqual(proxy.relayed.length, 1)
      assert.strictEqual(proxy.relayed[0], `CONNECT ${cs.url.host}`)
      yield* withProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" }, zones)
      assert.strictEqual(proxy.relayed.length, 1)
      assert.strictEqual(cs.seen.length, 2)
    })))
})

describe("HttpTransport socket failures", () => {
  const send = (config: Partial<CloudConfigShape>, command: string) =>
    Effect.flip(Effect.flatMap(CloudStackTransport, (t) => t.send({ command, params: {}, method: "GET" }))).pipe(
      Effect.provide(HttpTransport.layer.pipe(Layer.provide(Layer.succeed(CloudConfig, cloudConfig(config)))))
    )

  it.live("connection refused is a Connect error (provably not executed)", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(listen(createServer()))
      const error = yield* send({ apiUrl: new URL(`http://127.0.0.1:${port}/client/api`) }, "listZones")
      assert.deepInclude(error, { _tag: "CloudStackTransportError", reason: "Connect", command: "listZones" })
      assert.notInclude(error.message, API_KEY)
    }))

  it.live("no answer within request-timeout is a Timeout error", () =>
    Effect.scoped(Effect.gen(function*() {
      const cs = yield* fakeCloudStack
      const error = yield* send({ apiUrl: cs.url, requestTimeout: Duration.millis(300) }, "listVPCs")
      assert.deepInclude(error, { _tag: "CloudStackTransportError", reason: "Timeout" })
    })))

  it.live("TLS is verified by default; ssl-no-verify accepts a self-signed certificate and warns once", () =>
    Effect.scoped(Effect.gen(function*() {
      const pem = selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], { days: 1, keySize: 2048 })
      const server = createHttpsServer({ key: pem.private, cert: pem.cert }, (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(envelope("listZones", {}))
      })
      const port = yield* listen(server)
      const apiUrl = new URL(`https://127.0.0.1:${port}/client/api`)
      const verified = yield* send({ apiUrl }, "listZones")
      assert.deepInclude(verified, { _tag: "CloudStackTransportError", reason: "Tls" })
      const warnings: Array<unknown> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(message)
      })
      const zones = yield* Effect.scoped(
        Effect.flatMap(CloudStackClient, (c) => Effect.zipRight(c.list(listZones, {}), c.list(listZones, {})))
      ).pipe(
        Effect.provide(live({ apiUrl, sslNoVerify: true })),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      assert.deepStrictEqual(zones, [])
      assert.strictEqual(warnings.length, 1)
      assert.include(String(warnings[0]), "ssl-no-verify")
    })))

  it.prop(
    "encodeRequest round-trips any values through the server's URL decoding, and the signature verifies",
    [
      FastCheck.dictionary(
        FastCheck.stringMatching(/^[a-z][a-z0-9]{0,8}(\[\d\]\.[a-z]{1,5})?$/),
        FastCheck.string({ unit: "grapheme", maxLength: 20 })
      ),
      FastCheck.boolean()
    ],
    ([params, post]) => {
      const url = new URL("http://127.0.0.1:8080/client/api")
      const wire = HttpTransport.encodeRequest(url, API_KEY, SECRET_KEY, {
        command: "listZones",
        params,
        method: post ? "POST" : "GET"
      }, 1_900_000_000_000)
      const raw = post ? wire.body ?? "" : wire.url.split("?")[1] ?? ""
      const { signature = "", ...received } = Object.fromEntries(new URLSearchParams(raw))
      const reserved = new Set(["command", "apiKey", "response", "signatureVersion", "expires", "signature"])
      for (const [k, v] of Object.entries(params)) if (!reserved.has(k)) assert.strictEqual(received[k], v)
      assert.isTrue(verify(received, SECRET_KEY, signature))
    }
  )

  it("reasonOf classifies by code only", () => {
    assert.strictEqual(HttpTransport.reasonOf("ECONNREFUSED"), "Connect")
    assert.strictEqual(HttpTransport.reasonOf("UND_ERR_CONNECT_TIMEOUT"), "Connect")
    assert.strictEqual(HttpTransport.reasonOf("ECONNRESET"), "Reset")
    assert.strictEqual(HttpTransport.reasonOf("UND_ERR_HEADERS_TIMEOUT"), "Timeout")
    assert.strictEqual(HttpTransport.reasonOf("DEPTH_ZERO_SELF_SIGNED_CERT"), "Tls")
    assert.strictEqual(HttpTransport.reasonOf("ERR_TLS_CERT_ALTNAME_INVALID"), "Tls")
    assert.strictEqual(HttpTransport.reasonOf(undefined), "Other")
  })

  it("encodeRequest: GET puts everything in the query, POST in the body; the key pair is only used to sign", () => {
    const url = new URL("https://cloud.example/client/api")
    const get = HttpTransport.encodeRequest(url, API_KEY, SECRET_KEY, {
      command: "listZones",
      params: { name: "x" },
      method: "GET"
    }, 0)
    assert.isTrue(get.url.startsWith("https://cloud.example/client/api?"))
    assert.include(get.url, "expires=1970-01-01T00%3A10%3A00%2B0000")
    assert.notInclude(get.url, SECRET_KEY)
    assert.isUndefined(get.body)
    const post = HttpTransport.encodeRequest(url, API_KEY, SECRET_KEY, {
      command: "createTags",
      params: {},
      method: "POST"
    }, 0)
    assert.strictEqual(post.url, "https://cloud.example/client/api")
    assert.include(post.body, "command=createTags")
    assert.include(post.body, "signature=")
    // the command's own params can never override the signed envelope parameters
    const spoof = HttpTransport.encodeRequest(url, API_KEY, SECRET_KEY, {
      command: "listZones",
      params: { command: "deleteTags", response: "xml" },
      method: "GET"
    }, 0)
    assert.include(spoof.url, "command=listZones")
    assert.include(spoof.url, "response=json")
    assert.isTrue(Option.isNone(Option.fromNullable(spoof.body)))
  })

  it.effect("a socket error's texts are redacted wherever Effect renders the transport error (JSON, logfmt, pretty logs, Cause.pretty)", () =>
    Effect.gen(function*() {
      const wire = HttpTransport.encodeRequest(new URL("https://cloud.example/client/api"), API_KEY, SECRET_KEY, {
        command: "listZones",
        params: {},
        method: "GET"
      }, 0)
      // what undici and node may throw: the URL in the message, in a nested cause, in an enumerable field
      const socket = Object.assign(new Error(`connect ECONNREFUSED for ${wire.url}`), { code: "ECONNREFUSED" })
      const undici = Object.assign(new TypeError(`request to ${wire.url} failed`, { cause: socket }), {
        input: wire.url
      })
      const error = HttpTransport.toTransportError("listZones", [API_KEY, SECRET_KEY, wire.signature])(undici)
      assert.deepInclude(error, { reason: "Connect" })
      const lines: Array<string> = []
      const capture = (logger: Logger.Logger<unknown, string>) =>
        Logger.replace(Logger.defaultLogger, Logger.map(logger, (line) => void lines.push(line)))
      for (
        const logger of [
          Logger.jsonLogger,
          Logger.logfmtLogger,
          Logger.stringLogger,
          Logger.structuredLogger.pipe(Logger.map((s) => JSON.stringify(s)))
        ]
      ) {
        yield* Effect.logWarning("CloudStack request failed", error).pipe(Effect.provide(capture(logger)))
        yield* Effect.logError("reconcile failed", Cause.fail(error)).pipe(Effect.provide(capture(logger)))
      }
      lines.push(
        Cause.pretty(Cause.fail(error), { renderErrorCause: true }),
        error.message,
        JSON.stringify(error),
        String(error.cause)
      )
      assert.include(lines.join("\n"), "ECONNREFUSED")
      for (const line of lines) {
        for (
          const secret of [API_KEY, encodeURIComponent(API_KEY), wire.signature, encodeURIComponent(wire.signature)]
        ) {
          assert.notInclude(line, secret, line)
        }
      }
    }))
})
