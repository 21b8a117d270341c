/**
 * The serving endpoint of the process (k8s controller-manager style) on `--bind-address:--secure-port`:
 * `/healthz` (all checks), `/healthz/<check>` (one), `/metrics` (Prometheus text). HTTPS with a
 * self-signed certificate unless a cert/key pair is given, or plain HTTP for local runs; every
 * request first passes the access guard (delegated authn/authz). A scoped resource: the socket
 * closes with the scope. Knows nothing about controllers beyond `HealthChecks`.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Clock, Context, Data, Effect, Fiber, Layer, Option } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import * as Selfsigned from "selfsigned"
import { Metrics, render } from "../metrics/Metrics.js"
import type { AccessGuard } from "./DelegatedAuth.js"
import { type HealthCheckResult, HealthChecks } from "./HealthChecks.js"
import * as TlsFiles from "./TlsFiles.js"

export interface HealthServerOptions {
  /** `--bind-address` (default 0.0.0.0). */
  readonly bindAddress: string
  /** `--secure-port` (default 10258); 0 picks a free port (tests). */
  readonly port: number
  /** `--plain-http`: serve HTTP instead of HTTPS (local runs; probes then use scheme HTTP). */
  readonly plainHttp: boolean
  /** `--tls-cert-file` / `--tls-private-key-file`: both or neither; neither = self-signed in memory. */
  readonly tls: Option.Option<{ readonly certFile: string; readonly keyFile: string }>
  /**
   * Who may see what (delegated authentication and authorization, see DelegatedAuth); absent = every
   * path open to everyone (tests and local runs only).
   */
  readonly access?: AccessGuard | undefined
}

export class HealthServerError extends Data.TaggedError("HealthServerError")<{
  readonly reason: "TlsFiles" | "Certificate" | "Listen"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `health server: ${this.detail}`
  }
}

export class HealthServer extends Context.Tag("cloudstack-ccm/runtime/HealthServer")<HealthServer, {
  readonly scheme: "http" | "https"
  readonly host: string
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number
  /** PEM of the served certificate (None for plain HTTP), e.g. for clients that pin it. */
  readonly certificate: Option.Option<string>
}>() {}

const plain = (body: string, status = 200) =>
  HttpServerResponse.text(body, {
    status,
    headers: { "x-content-type-options": "nosniff", "cache-control": "no-store" }
  })

/** k8s healthz text: "ok", or one `[+]/[-]` line per check then "healthz check failed" (500). */
export const renderHealthz = (
  results: ReadonlyArray<HealthCheckResult>,
  verbose: boolean
): { readonly status: number; readonly body: string } => {
  const failed = results.some((r) => !r.healthy)
  if (!failed && !verbose) return { status: 200, body: "ok" }
  const lines = results.map((r) =>
    r.healthy ? `[+]${r.name} ok` : `[-]${r.name} failed: ${Option.getOrElse(r.reason, () => "reason withheld")}`
  )
  return failed
    ? { status: 500, body: [...lines, "healthz check failed"].join("\n") + "\n" }
    : { status: 200, body: [...lines, "healthz check passed"].join("\n") + "\n" }
}

const app = (checks: HealthChecks["Type"], metrics: Metrics["Type"], access: AccessGuard | undefined) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://localhost")
    if (access !== undefined) {
      // As the apiserver's filters: authentication and authorization come before routing.
      const verdict = yield* access.check({
        method: request.method,
        path: url.pathname,
        requestUri: request.url,
        authorization: request.headers["authorization"]
      })
      if (verdict._tag === "Deny") {
        return HttpServerResponse.text(verdict.answer.body, {
          status: verdict.answer.status,
          contentType: verdict.answer.contentType,
          headers: { "x-content-type-options": "nosniff", "cache-control": "no-store" }
        })
      }
    }
    const path = url.pathname.replace(/\/+$/, "") || "/"
    if (request.method !== "GET" && request.method !== "HEAD") return plain("method not allowed\n", 405)
    if (path === "/healthz") {
      const { status, body } = renderHealthz(yield* checks.runAll, url.searchParams.has("verbose"))
      return plain(body, status)
    }
    if (path.startsWith("/healthz/")) {
      const result = yield* checks.runOne(decodeURIComponent(path.slice("/healthz/".length)))
      return Option.match(result, {
        onNone: () => plain("not found\n", 404),
        onSome: (
          r
        ) => (r.healthy ? plain("ok") : plain(`internal server error: ${Option.getOrElse(r.reason, () => "")}\n`, 500))
      })
    }
    if (path === "/metrics") {
      return yield* render(metrics).pipe(
        Effect.map((text) =>
          HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
        ),
        Effect.catchTag(
          "MetricsRenderError",
          () => Effect.logError("rendering metrics failed").pipe(Effect.as(plain("metrics unavailable\n", 500)))
        )
      )
    }
    return plain("not found\n", 404)
  })

const readTls = (files: TlsFiles.TlsFilePaths) =>
  TlsFiles.load(files).pipe(
    Effect.mapError((cause) => new HealthServerError({ reason: "TlsFiles", detail: cause.message, cause }))
  )

/** A self-signed pair for `localhost`/127.0.0.1 named `cloud-controller-manager`, as the k8s CCM generates. */
export const selfSigned: Effect.Effect<{ readonly cert: string; readonly key: string }, HealthServerError> = Effect
  .flatMap(
    Clock.currentTimeMillis,
    (now) =>
      Effect.async<{ readonly cert: string; readonly key: string }, HealthServerError>((resume) => {
        const failed = (cause: unknown) =>
          resume(
            Effect.fail(
              new HealthServerError({ reason: "Certificate", detail: "cannot create a self-signed certificate", cause })
            )
          )
        try {
          // With a callback node-forge has node's crypto generate the RSA key on a libuv thread (about
          // 0.3 s); synchronously it held the event loop for that long at every start.
          Selfsigned.generate([{ name: "commonName", value: "cloud-controller-manager" }], {
            keySize: 2048,
            days: 365,
            algorithm: "sha256",
            notBeforeDate: new Date(now),
            extensions: [
              { name: "basicConstraints", cA: false },
              { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
              { name: "extKeyUsage", serverAuth: true },
              { name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }] }
            ]
          }, (error, pem) =>
            error === null || error === undefined
              ? resume(Effect.succeed({ cert: pem.cert, key: pem.private }))
              : failed(error))
        } catch (cause) {
          failed(cause)
        }
      })
  )

const listen = (server: Http.Server, options: HealthServerOptions) =>
  Effect.async<number, HealthServerError>((resume) => {
    const onError = (cause: Error) =>
      resume(
        Effect.fail(
          new HealthServerError({
            reason: "Listen",
            detail: `cannot listen on ${options.bindAddress}:${options.port}: ${cause.message}`,
            cause
          })
        )
      )
    server.once("error", onError)
    server.listen({ port: options.port, host: options.bindAddress }, () => {
      server.off("error", onError)
      const address: AddressInfo | string | null = server.address()
      resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : options.port))
    })
  })

const close = (server: Http.Server) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    // Keep-alive probe connections would otherwise hold the close open.
    server.closeAllConnections()
  })

/** Starts serving; the socket is closed when the scope closes. */
export const make = (options: HealthServerOptions) =>
  Effect.gen(function*() {
    const checks = yield* HealthChecks
    const metrics = yield* Metrics
    const handler = yield* NodeHttpServer.makeHandler(app(checks, metrics, options.access))
    const tls = options.plainHttp
      ? Option.none<{ readonly cert: string; readonly key: string }>()
      : Option.some(yield* Option.match(options.tls, { onNone: () => selfSigned, onSome: readTls }))
    const server: Http.Server = yield* Option.match(tls, {
      onNone: () => Effect.succeed(Http.createServer(handler)),
      // The pair was checked (TlsFiles); OpenSSL may still refuse it (e.g. a key too weak for its policy).
      onSome: ({ cert, key }) =>
        Effect.try({
          try: () => Https.createServer({ cert, key }, handler),
          catch: (cause) =>
            new HealthServerError({
              reason: "Certificate",
              detail: `cannot serve with the TLS certificate: ${
                cause instanceof Error ? cause.message : String(cause)
              }`,
              cause
            })
        })
    })
    const port = yield* Effect.acquireRelease(listen(server, options), () => close(server))
    const scheme = Option.isSome(tls) ? "https" as const : "http" as const
    yield* Effect.logInfo("serving health and metrics").pipe(
      Effect.annotateLogs({ module: "HealthServer", scheme, address: options.bindAddress, port })
    )
    return HealthServer.of({ scheme, host: options.bindAddress, port, certificate: Option.map(tls, (t) => t.cert) })
  })

export const layer = (options: HealthServerOptions) => Layer.scoped(HealthServer, make(options))

/** A server starting in the background (`layerStarting`). */
export class HealthServerStart extends Context.Tag("cloudstack-ccm/runtime/HealthServerStart")<HealthServerStart, {
  /**
   * The server once it listens (None: no server is started); fails with its start's error (TLS
   * files, certificate, port in use).
   */
  readonly ready: Effect.Effect<Option.Option<HealthServer["Type"]>, HealthServerError>
}>() {}

/**
 * Starts the server in the background of the layer's scope: building the layer does not wait for
 * the certificate and the socket, so the controllers need not either (`ready` tells how it went).
 */
export const layerStarting = (options: HealthServerOptions) =>
  Layer.scoped(
    HealthServerStart,
    Effect.map(
      Effect.forkScoped(make(options)),
      (start) => HealthServerStart.of({ ready: Effect.asSome(Fiber.join(start)) })
    )
  )

/** No server (`--secure-port=0`). */
export const layerNone = Layer.succeed(HealthServerStart, HealthServerStart.of({ ready: Effect.succeedNone }))
