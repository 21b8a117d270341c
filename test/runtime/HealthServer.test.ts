import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import * as fs from "node:fs/promises"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as DelegatedAuth from "../../src/runtime/DelegatedAuth.js"
import { HealthCheckError, HealthChecks } from "../../src/runtime/HealthChecks.js"
import * as HealthChecksModule from "../../src/runtime/HealthChecks.js"
import * as HealthServer from "../../src/runtime/HealthServer.js"

interface Reply {
  readonly status: number
  readonly body: string
  readonly contentType: string
}

const get = (server: HealthServer.HealthServer["Type"], path: string) =>
  Effect.async<Reply, Error>((resume) => {
    const options = {
      host: "127.0.0.1",
      port: server.port,
      path,
      ...Option.match(server.certificate, { onNone: () => ({}), onSome: (ca) => ({ ca }) })
    }
    const onResponse = (res: Http.IncomingMessage) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => (body += chunk))
      res.on("end", () =>
        resume(
          Effect.succeed({ status: res.statusCode ?? 0, body, contentType: String(res.headers["content-type"] ?? "") })
        ))
    }
    const req = server.scheme === "https" ? Https.get(options, onResponse) : Http.get(options, onResponse)
    req.on("error", (e) => resume(Effect.fail(e)))
  })

const serve = (options: Partial<HealthServer.HealthServerOptions>) =>
  HealthServer.layer({ bindAddress: "127.0.0.1", port: 0, plainHttp: true, tls: Option.none(), ...options }).pipe(
    Layer.provideMerge(Layer.mergeAll(HealthChecksModule.layer, Metrics.layerWithProcessMetrics))
  )

describe("HealthServer", () => {
  it.scopedLive("with an access guard: its answer before any routing (status, Status JSON); allowed requests served", () =>
    Effect.gen(function*() {
      const server = yield* HealthServer.HealthServer
      assert.deepStrictEqual([(yield* get(server, "/healthz")).status, (yield* get(server, "/healthz")).body], [
        200,
        "ok"
      ])
      const denied = yield* get(server, "/metrics")
      assert.deepStrictEqual([denied.status, denied.contentType], [403, "application/json"])
      assert.strictEqual(
        JSON.parse(denied.body).message,
        `forbidden: User "system:anonymous" cannot get path "/metrics"`
      )
      // an unknown path is refused before it could be a 404
      assert.strictEqual((yield* get(server, "/nope")).status, 403)
    }).pipe(Effect.provide(serve({ access: DelegatedAuth.pathsOnly(["/healthz"]) }))))

  it.scopedLive("plain HTTP: /healthz, per-check paths, verbose listing and /metrics", () =>
    Effect.gen(function*() {
      const server = yield* HealthServer.HealthServer
      const checks = yield* HealthChecks
      const metrics = yield* Metrics.Metrics
      assert.strictEqual(server.scheme, "http")
      assert.isAbove(server.port, 0)
      yield* checks.register("leaderElection", Effect.void)
      yield* checks.register(
        "cloud-node-controller",
        new HealthCheckError({ check: "cloud-node-controller", reason: "controller stopped" })
      )

      const all = yield* get(server, "/healthz")
      assert.strictEqual(all.status, 500)
      assert.include(all.body, "[+]leaderElection ok")
      assert.include(all.body, "[-]cloud-node-controller failed: controller stopped")
      assert.strictEqual((yield* get(server, "/healthz/leaderElection")).status, 200)
      assert.strictEqual((yield* get(server, "/healthz/cloud-node-controller")).status, 500)
      assert.strictEqual((yield* get(server, "/healthz/nope")).status, 404)
      assert.strictEqual((yield* get(server, "/nope")).status, 404)

      metrics.reconciles.inc({ controller: "service-lb-controller", result: "success" })
      const m = yield* get(server, "/metrics")
      assert.strictEqual(m.status, 200)
      assert.include(m.contentType, "text/plain; version=0.0.4")
      assert.include(
        m.body,
        "cloudstack_ccm_reconcile_total{controller=\"service-lb-controller\",result=\"success\"} 1"
      )
      assert.include(m.body, "cloudstack_ccm_process_resident_memory_bytes")
    }).pipe(Effect.provide(serve({}))))

  it.scopedLive("healthy: /healthz says ok, ?verbose lists every check", () =>
    Effect.gen(function*() {
      const server = yield* HealthServer.HealthServer
      const checks = yield* HealthChecks
      yield* checks.register("leaderElection", Effect.void)
      const ok = yield* get(server, "/healthz")
      assert.deepStrictEqual([ok.status, ok.body], [200, "ok"])
      const verbose = yield* get(server, "/healthz?verbose")
      assert.strictEqual(verbose.status, 200)
      assert.include(verbose.body, "[+]ping ok\n[+]leaderElection ok\nhealthz check passed")
    }).pipe(Effect.provide(serve({}))))

  it.live("a check registered in a scope disappears when that scope closes", () =>
    Effect.gen(function*() {
      const server = yield* HealthServer.HealthServer
      const checks = yield* HealthChecks
      yield* Effect.scoped(
        checks.register("temporary", Effect.fail(new HealthCheckError({ check: "temporary", reason: "down" })))
      )
      assert.strictEqual((yield* get(server, "/healthz")).status, 200)
      assert.strictEqual((yield* get(server, "/healthz/temporary")).status, 404)
    }).pipe(Effect.provide(serve({}))))

  it.live("HTTPS with a self-signed certificate for localhost/127.0.0.1 by default", () =>
    Effect.gen(function*() {
      const server = yield* HealthServer.HealthServer
      assert.strictEqual(server.scheme, "https")
      assert.isTrue(Option.isSome(server.certificate))
      const ok = yield* get(server, "/healthz")
      assert.deepStrictEqual([ok.status, ok.body], [200, "ok"])
      const plainAttempt = yield* Effect.either(
        get({ ...server, scheme: "http", certificate: Option.none() }, "/healthz")
      )
      assert.isTrue(
        plainAttempt._tag === "Left" || plainAttempt.right.status === 400,
        "plain HTTP is not served on the TLS port"
      )
    }).pipe(Effect.provide(serve({ plainHttp: false }))))

  it.live("HTTPS with --tls-cert-file/--tls-private-key-file serves that certificate", () =>
    Effect.gen(function*() {
      const pem = yield* HealthServer.selfSigned
      const dir = yield* Effect.promise(() => fs.mkdtemp("/tmp/ccm-tls-"))
      yield* Effect.promise(() => fs.writeFile(`${dir}/tls.crt`, pem.cert))
      yield* Effect.promise(() => fs.writeFile(`${dir}/tls.key`, pem.key))
      const ctx = yield* Layer.build(
        serve({ plainHttp: false, tls: Option.some({ certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key` }) })
      )
      const server = Context.get(ctx, HealthServer.HealthServer)
      assert.strictEqual(Option.getOrThrow(server.certificate), pem.cert)
      const ok = yield* get(server, "/healthz")
      assert.strictEqual(ok.status, 200)
      yield* Effect.promise(() => fs.rm(dir, { recursive: true }))
    }).pipe(Effect.scoped))

  it.live("a missing TLS file is a HealthServerError naming the file", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(
        Effect.scoped(
          Layer.build(
            serve({
              plainHttp: false,
              tls: Option.some({ certFile: "/nonexistent/tls.crt", keyFile: "/nonexistent/tls.key" })
            })
          )
        )
      )
      assert.isTrue(
        result._tag === "Left" && result.left._tag === "HealthServerError" &&
          result.left.message.includes("/nonexistent/tls.crt")
      )
    }))

  it.live("closing the scope closes the socket", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(
        Effect.map(Layer.build(serve({})), (ctx) => Context.get(ctx, HealthServer.HealthServer).port)
      )
      const after = yield* Effect.either(
        get({ scheme: "http", host: "127.0.0.1", port, certificate: Option.none() }, "/healthz")
      )
      assert.strictEqual(after._tag, "Left")
    }))
})
