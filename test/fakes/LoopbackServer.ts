/**
 * A small `node:http` server on 127.0.0.1:0 that answers every request with what `respond` returns:
 * what a misrouted `api-url` may reach (a health endpoint, a login page, a proxy that echoes the
 * request). Closed with the scope; the requests it saw are kept for assertions.
 */
import { Effect, type Scope } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"

export interface SeenRequest {
  readonly method: string
  /** The request target as sent: path and query. */
  readonly url: string
  readonly body: string
}

export interface Reply {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: string
}

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>/client/api` */
  readonly apiUrl: URL
  readonly seen: () => ReadonlyArray<SeenRequest>
}

/** The request body as text. */
export const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (body += chunk))
    req.on("end", () => resolve(body))
    req.on("error", reject)
  })

export const make = (respond: (request: SeenRequest) => Reply): Effect.Effect<LoopbackServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seen: Array<SeenRequest> = []
    const server = createServer((req, res) => {
      void readBody(req).then((body) => {
        const request = { method: req.method ?? "", url: req.url ?? "", body }
        seen.push(request)
        const reply = respond(request)
        res.writeHead(reply.status, { "content-length": String(Buffer.byteLength(reply.body)), ...reply.headers })
        res.end(reply.body)
      })
    })
    const port = yield* Effect.acquireRelease(
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
    return { apiUrl: new URL(`http://127.0.0.1:${port}/client/api`), seen: () => [...seen] }
  })

export const jsonReply = (status: number, body: unknown): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=UTF-8" },
  body: JSON.stringify(body)
})
