/**
 * The preflight against an https endpoint with a self-signed certificate (a TLS front for the
 * simulator): the handshake is described with its verification result; without ssl-no-verify
 * that fails the check and nothing is sent, with it the check passes with a warning.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { request as httpRequest } from "node:http"
import { createServer, type Server } from "node:https"
import { passed } from "../../src/preflight/Report.js"
import { selfSigned } from "../../src/runtime/HealthServer.js"
import * as HttpFace from "../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { ADMIN, Face, levels, portOf, preflight, textOf } from "./PreflightEnv.js"

/** An https server on 127.0.0.1 with a fresh self-signed certificate, relaying every request to the face. */
const TlsFront = Layer.scoped(
  HttpFace.SimulatorHttpServer,
  Effect.gen(function*() {
    const face = yield* HttpFace.SimulatorHttpServer
    const { cert, key } = yield* Effect.orDie(selfSigned)
    const server = yield* Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<Server>((resolve) => {
          const s = createServer({ cert, key }, (req, res) => {
            const upstream = httpRequest({
              host: "127.0.0.1",
              port: face.port,
              path: req.url,
              method: req.method,
              headers: req.headers
            }, (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers)
              answer.pipe(res)
            })
            req.pipe(upstream)
          })
          s.listen(0, "127.0.0.1", () => resolve(s))
        })
      ),
      (s) => Effect.promise(() => new Promise<void>((resolve) => s.close(() => resolve())))
    )
    const port = portOf(server)
    return { port, apiUrl: `https://127.0.0.1:${port}${HttpFace.API_PATH}` }
  })
).pipe(Layer.provide(Face))

const frontUrl = Effect.map(HttpFace.SimulatorHttpServer, (s) => s.apiUrl)

describe("preflight over TLS with a self-signed certificate", () => {
  it.live("verification on: the certificate is named as untrusted, the HTTP check is not tried, exit would be 1", () =>
    Effect.gen(function*() {
      const report = yield* preflight(yield* frontUrl, ADMIN)
      assert.isFalse(passed(report))
      assert.deepStrictEqual(levels(report), {
        "endpoint.dns": "skip",
        "endpoint.tcp": "ok",
        "endpoint.tls": "fail",
        http: "skip"
      })
      const tls = textOf(report, "endpoint.tls")
      assert.match(
        tls,
        /^TLSv1\.[23], certificate not trusted: DEPTH_ZERO_SELF_SIGNED_CERT \(subject CN=cloud-controller-manager; issuer CN=cloud-controller-manager; valid until /
      )
      assert.include(tls, "IP Address:127.0.0.1")
      assert.include(tls, "trust its CA (e.g. NODE_EXTRA_CA_CERTS=/path/ca.pem) or set ssl-no-verify = true")
      assert.strictEqual(textOf(report, "http"), "not tried: the TLS check failed")
    }).pipe(Effect.provide(TlsFront)))

  it.live("ssl-no-verify: the unverified certificate is a warning and every other check runs and passes", () =>
    Effect.gen(function*() {
      const report = yield* preflight(yield* frontUrl, ADMIN, { sslNoVerify: true })
      assert.isTrue(passed(report), JSON.stringify(report.checks))
      assert.strictEqual(levels(report)["endpoint.tls"], "warn")
      assert.match(
        textOf(report, "endpoint.tls"),
        /certificate NOT verified \(DEPTH_ZERO_SELF_SIGNED_CERT\) and accepted because ssl-no-verify is set/
      )
      assert.deepStrictEqual([levels(report)["http"], levels(report)["credentials"], levels(report)["vms"]], [
        "ok",
        "ok",
        "ok"
      ])
    }).pipe(Effect.provide(TlsFront)))
})
