import { assert, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Context, Deferred, Effect, Fiber, Layer, Logger, LogLevel } from "effect"
import { createServer, type Server } from "node:http"
import * as https from "node:https"
import { IDLE_TIMEOUT_MS, keepAliveAgentLike } from "../../src/kubernetes/KubeAgent.js"
import { KubeClient, layer } from "../../src/kubernetes/KubeClient.js"
import { call } from "../../src/kubernetes/KubeRequest.js"
import { writeKubeconfig } from "../fakes/Kubeconfig.js"

interface CountingServer {
  readonly server: Server
  readonly url: string
  readonly connections: () => number
  readonly auth: () => ReadonlyArray<string>
}

/** A fake API server over plain HTTP that answers every GET with a Node and counts TCP connections. */
const countingServer = Effect.acquireRelease(
  Effect.async<CountingServer>((resume) => {
    let connections = 0
    const auth: Array<string> = []
    const server: Server = createServer((req, res) => {
      auth.push(req.headers.authorization ?? "")
      const name = req.url?.split("/").at(-1) ?? ""
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name, resourceVersion: "1" } }))
    })
    server.on("connection", () => connections++)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(
        Effect.succeed({ server, url: `http://127.0.0.1:${port}`, connections: () => connections, auth: () => auth })
      )
    })
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

const kubeconfig = (server: string) => writeKubeconfig(server, { token: "secret-token-1234", skipTlsVerify: true })

describe("KubeAgent", () => {
  it("the keep-alive twin keeps client-node's TLS options and allows one socket", () => {
    const fresh = new https.Agent({ ca: "CA-PEM", servername: "api.example", rejectUnauthorized: true })
    const twin = keepAliveAgentLike(fresh)
    assert.instanceOf(twin, https.Agent)
    if (!(twin instanceof https.Agent)) return
    assert.notStrictEqual(twin, fresh)
    assert.strictEqual(twin.options.ca, "CA-PEM")
    assert.strictEqual(twin.options.servername, "api.example")
    assert.strictEqual(twin.options.rejectUnauthorized, true)
    assert.strictEqual(twin.options.keepAlive, true)
    assert.strictEqual(twin.options.timeout, IDLE_TIMEOUT_MS)
    assert.strictEqual(twin.maxSockets, 1)
  })

  it.scoped("every request of a client, of every API group, goes over ONE kept-alive connection (Leases over one more), each with its token", () =>
    Effect.gen(function*() {
      const server = yield* countingServer
      const client = Context.get(yield* Layer.build(layer({ kubeconfig: kubeconfig(server.url) })), KubeClient)
      for (let i = 0; i < 5; i++) yield* call("get", "nodes", `n${i}`, () => client.core.readNode({ name: `n${i}` }))
      // concurrent requests queue on the one socket instead of opening more
      yield* Effect.forEach(
        [1, 2, 3, 4, 5, 6],
        (i) => call("get", "nodes", `c${i}`, () => client.core.readNode({ name: `c${i}` })),
        {
          concurrency: "unbounded"
        }
      )
      const readLease = call(
        "get",
        "leases",
        "l",
        () => client.coordination.readNamespacedLease({ name: "l", namespace: "kube-system" })
      ).pipe(Effect.ignore)
      yield* readLease
      yield* readLease
      assert.strictEqual(server.auth().length, 13)
      assert.isTrue(server.auth().every((header) => header === "Bearer secret-token-1234"))
      // the 11 requests of core over one connection, the 2 Lease reads over one of their own
      assert.strictEqual(server.connections(), 2)
    }))

  it.live("a Lease request is not queued behind a slow request of the controllers (its own connection)", () =>
    Effect.gen(function*() {
      // The node list is answered only once the lease has been read: on a shared socket the lease
      // read would wait behind the list, and a renewal behind a slow list past the renew deadline.
      const leaseRead = yield* Deferred.make<void>()
      let connections = 0
      const server: Server = createServer((req, res) => {
        res.setHeader("content-type", "application/json")
        if (req.url?.startsWith("/apis/coordination.k8s.io/") === true) {
          res.end(JSON.stringify({
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: "l", namespace: "kube-system", resourceVersion: "1" },
            spec: {}
          }))
          Deferred.unsafeDone(leaseRead, Effect.void)
          return
        }
        Effect.runFork(
          Effect.andThen(
            Deferred.await(leaseRead),
            () => res.end(JSON.stringify({ apiVersion: "v1", kind: "NodeList", metadata: {}, items: [] }))
          )
        )
      })
      server.on("connection", () => connections++)
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () =>
          Effect.async<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const client = Context.get(
        yield* Layer.build(layer({ kubeconfig: kubeconfig(`http://127.0.0.1:${port}`) })),
        KubeClient
      )
      const list = yield* Effect.fork(call("list", "nodes", undefined, () => client.core.listNode({})))
      yield* Effect.sleep("50 millis")
      const lease = yield* call(
        "get",
        "leases",
        "l",
        () => client.coordination.readNamespacedLease({ name: "l", namespace: "kube-system" })
      ).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(lease.metadata?.name, "l")
      yield* Fiber.join(list)
      assert.strictEqual(connections, 2)
    }).pipe(Effect.scoped))

  it.scoped("plain client-node (its per-call agent) opens a connection per request: what the twin avoids", () =>
    Effect.gen(function*() {
      const server = yield* countingServer
      const config = new k8s.KubeConfig()
      config.loadFromFile(kubeconfig(server.url))
      const core = config.makeApiClient(k8s.CoreV1Api)
      for (let i = 0; i < 3; i++) yield* Effect.promise(() => core.readNode({ name: `n${i}` }))
      assert.strictEqual(server.connections(), 3)
    }))

  it.scoped("-v=6 (Trace) logs each request: verb, resource, name, status, duration; never the token", () =>
    Effect.gen(function*() {
      const server = yield* countingServer
      const client = Context.get(yield* Layer.build(layer({ kubeconfig: kubeconfig(server.url) })), KubeClient)
      const lines: Array<
        { readonly level: string; readonly message: string; readonly fields: Record<string, unknown> }
      > = []
      const logger = Logger.make(({ annotations, logLevel, message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        lines.push({ level: logLevel.label, message: text, fields: Object.fromEntries(annotations) })
      })
      const get = call("get", "nodes", "n1", () => client.core.readNode({ name: "n1" }))
      const failing = call(
        "patch",
        "nodes",
        "n2",
        () => Promise.reject(new k8s.ApiException(409, "Conflict", "{}", {}))
      )
      const run = Effect.zipRight(get, Effect.either(failing)).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      yield* run.pipe(Logger.withMinimumLogLevel(LogLevel.Debug))
      assert.deepStrictEqual(lines, [])
      yield* run.pipe(Logger.withMinimumLogLevel(LogLevel.Trace))
      assert.strictEqual(lines.length, 2)
      const [ok, conflict] = lines
      assert.deepStrictEqual([ok?.level, ok?.message], ["TRACE", "kubernetes request"])
      assert.deepStrictEqual({ ...ok?.fields, durationMs: 0 }, {
        verb: "get",
        resource: "nodes",
        name: "n1",
        status: "ok",
        durationMs: 0
      })
      assert.isNumber(ok?.fields["durationMs"])
      assert.deepStrictEqual({ ...conflict?.fields, durationMs: 0 }, {
        verb: "patch",
        resource: "nodes",
        name: "n2",
        status: "409",
        durationMs: 0
      })
      assert.isFalse(JSON.stringify(lines).includes("secret-token"))
    }))
})
