import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Either, Layer } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { gzipSync } from "node:zlib"
import { KubeClient, layer } from "../../src/kubernetes/KubeClient.js"
import { call } from "../../src/kubernetes/KubeRequest.js"
import * as NodeApi from "../../src/kubernetes/NodeApi.js"
import { listKeep, listPageObserver } from "../../src/kubernetes/NodeApi.js"
import { writeKubeconfig } from "../fakes/Kubeconfig.js"

/** A fake API server on a free loopback port answering with `handle`; closed with the scope. */
const fakeServer = (handle: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Server; readonly url: string }>((resume) => {
      const server: Server = createServer(handle)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}` }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const nodeList = (count: number) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "NodeList",
    metadata: { resourceVersion: "7" },
    items: Array.from({ length: count }, (_, i) => ({ metadata: { name: `n${i}`, resourceVersion: "1" } }))
  })

const clientOf = (url: string) =>
  Effect.map(
    Layer.build(layer({ kubeconfig: writeKubeconfig(url, { skipTlsVerify: true }) })),
    (context) => Context.get(context, KubeClient)
  )

const names = (list: { readonly items: ReadonlyArray<{ readonly metadata?: { readonly name?: string } }> }) =>
  list.items.map((item) => item.metadata?.name ?? "")

describe("KubeHttp", () => {
  it.scoped("concurrent chunked answers queued on the one kept-alive socket all arrive whole", () =>
    Effect.gen(function*() {
      // kube-apiserver answers large bodies chunked, in several writes. node-fetch 2 failed most of
      // these with "Premature close" when the socket went to the next queued request first.
      const { url } = yield* fakeServer((_req, res) => {
        res.setHeader("content-type", "application/json")
        const body = nodeList(100)
        for (let i = 0; i < body.length; i += 1000) res.write(body.slice(i, i + 1000))
        res.end()
      })
      const client = yield* clientOf(url)
      const results = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.either(call("list", "nodes", `${i}`, () => client.core.listNode({ limit: 100 }))),
        { concurrency: "unbounded" }
      )
      const failed = results.flatMap((r) => Either.isLeft(r) ? [r.left.detail] : [])
      assert.deepStrictEqual(failed, [])
      for (const r of results) if (Either.isRight(r)) assert.strictEqual(names(r.right).length, 100)
    }))

  it.scoped("a DELETE's body reaches the server whole (framed by its length), and the next request on the socket too", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const { url } = yield* fakeServer((req, res) => {
        let body = ""
        req.setEncoding("utf8")
        req.on("data", (chunk: string) => (body += chunk))
        req.on("end", () => {
          seen.push(`${req.method} ${req.url} ${body}`)
          res.setHeader("content-type", "application/json")
          res.end(JSON.stringify({ apiVersion: "v1", kind: "Status", status: "Success" }))
        })
      })
      const client = yield* clientOf(url)
      yield* call(
        "delete",
        "nodes",
        "a",
        () => client.core.deleteNode({ name: "a", body: { preconditions: { uid: "u1" } } })
      )
      yield* call("get", "nodes", "b", () => client.core.readNode({ name: "b" })).pipe(Effect.ignore)
      assert.deepStrictEqual(seen, [
        `DELETE /api/v1/nodes/a {"preconditions":{"uid":"u1"}}`,
        "GET /api/v1/nodes/b "
      ])
    }))

  it.scoped("asks for gzip and reads a gzipped answer", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const { url } = yield* fakeServer((req, res) => {
        asked.push(String(req.headers["accept-encoding"]))
        res.setHeader("content-type", "application/json")
        res.setHeader("content-encoding", "gzip")
        res.end(gzipSync(nodeList(3)))
      })
      const client = yield* clientOf(url)
      const list = yield* call("list", "nodes", undefined, () => client.core.listNode({}))
      assert.deepStrictEqual(names(list), ["n0", "n1", "n2"])
      assert.deepStrictEqual(asked, ["gzip"])
    }))

  it.scoped("an answer cut short by the connection closing fails as a Transport error", () =>
    Effect.gen(function*() {
      const { url } = yield* fakeServer((_req, res) => {
        const body = nodeList(50)
        res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) })
        res.write(body.slice(0, 100), () => res.destroy())
      })
      const client = yield* clientOf(url)
      const error = yield* Effect.flip(call("list", "nodes", undefined, () => client.core.listNode({})))
      assert.strictEqual(error.reason, "Transport")
    }))

  it.scoped("an error status still reaches client-node as an ApiException (404 is NotFound)", () =>
    Effect.gen(function*() {
      const { url } = yield* fakeServer((_req, res) => {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify({ kind: "Status", code: 404, message: "nodes \"x\" not found" }))
      })
      const client = yield* clientOf(url)
      const error = yield* Effect.flip(call("get", "nodes", "x", () => client.core.readNode({ name: "x" })))
      assert.deepStrictEqual([error.reason, error.status, error.detail], ["NotFound", 404, "nodes \"x\" not found"])
    }))

  /** NodeApi over a server answering Nodes a and b, then (page 2) c; `log` records each page served. */
  const twoPageNodes = (log: Array<string> = []) =>
    Effect.gen(function*() {
      const node = (name: string) => ({ metadata: { name, uid: name, resourceVersion: "1", labels: { big: "x" } } })
      const { url } = yield* fakeServer((req, res) => {
        res.setHeader("content-type", "application/json")
        const second = (req.url ?? "").includes("continue=")
        log.push(second ? "page 2" : "page 1")
        res.end(JSON.stringify({
          apiVersion: "v1",
          kind: "NodeList",
          metadata: { resourceVersion: "7", ...(second ? {} : { continue: "page-2" }) },
          items: second ? [node("c")] : [node("a"), node("b")]
        }))
      })
      const client = yield* clientOf(url)
      return yield* Effect.provideService(NodeApi.make, KubeClient, client)
    })

  it.scoped("NodeApi.list shows each page to the fiber's listPageObserver as it arrives", () =>
    Effect.gen(function*() {
      const nodes = yield* twoPageNodes()
      const pages: Array<ReadonlyArray<string>> = []
      const listed = yield* Effect.locally(
        nodes.list,
        listPageObserver,
        (page) => Effect.sync(() => pages.push(page.map((n) => n.metadata.name)))
      )
      assert.deepStrictEqual(pages, [["a", "b"], ["c"]])
      assert.deepStrictEqual(listed.items.map((n) => n.metadata.name), ["a", "b", "c"])
    }))

  it.scoped("NodeApi.list keeps each Node with the fiber's listKeep as its page is decoded, before the next page", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const nodes = yield* twoPageNodes(log)
      const listed = yield* Effect.locally(nodes.list, listKeep, (n) => {
        log.push(`keep ${n.metadata.name}`)
        return { ...n, metadata: { ...n.metadata, labels: {} } }
      })
      assert.deepStrictEqual(log, ["page 1", "keep a", "keep b", "page 2", "keep c"])
      assert.deepStrictEqual(listed.items.map((n) => n.metadata.labels), [{}, {}, {}])
    }))
})
