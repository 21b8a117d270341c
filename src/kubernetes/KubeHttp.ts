/**
 * client-node's HTTP library for every request (not watches), over node:http(s) with the agent the
 * call's authentication set (KubeAgent's kept-alive one). client-node 1.4's default, node-fetch 2,
 * fails whole answers with "Premature close" when a kept-alive socket is handed to the next queued
 * request before the previous answer was read (node-fetch/node-fetch#1767): with one socket and
 * concurrent requests, most chunked answers (lists) failed. Answers are read whole, gunzipped as
 * client-go's transport does (`Accept-Encoding: gzip`), and handed over only when complete.
 */
import * as k8s from "@kubernetes/client-node"
import * as http from "node:http"
import * as https from "node:https"
import { createGunzip } from "node:zlib"

/** The answer's headers as client-node reads them: lowercase names, repeated values joined. */
const headersOf = (res: http.IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

/**
 * Sends one request and resolves with the complete answer; rejects when the connection fails or
 * closes before the answer is complete, or when the call's signal aborts it. Bodies are JSON text
 * (client-node serialises them before): anything else is rejected.
 */
export const send = (request: k8s.RequestContext): Promise<k8s.ResponseContext> =>
  new Promise((resolve, reject) => {
    const body = request.getBody()
    if (body !== undefined && typeof body !== "string") {
      reject(new Error("KubeHttp sends text bodies only"))
      return
    }
    const url = new URL(request.getUrl())
    const options: https.RequestOptions = {
      method: request.getHttpMethod(),
      headers: {
        "accept-encoding": "gzip",
        ...request.getHeaders(),
        // Node frames a body by its length only when told: a DELETE's body (preconditions) would go
        // out unframed and be read by the server as the next request on the kept-alive socket.
        ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) })
      },
      agent: request.getAgent(),
      signal: request.getSignal()
    }
    const onAnswer = (res: http.IncomingMessage) => {
      const gzipped = res.headers["content-encoding"] === "gzip"
      const stream = gzipped ? res.pipe(createGunzip()) : res
      const chunks: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => chunks.push(chunk))
      stream.on("error", reject)
      res.on("error", reject)
      stream.on("end", () =>
        resolve(
          new k8s.ResponseContext(
            res.statusCode ?? 0,
            headersOf(res),
            new k8s.SelfDecodingBody(Promise.resolve(Buffer.concat(chunks)))
          )
        ))
      res.on("close", () => {
        // A promise settles once: after a complete answer this is a no-op.
        if (!res.complete) reject(new Error("the connection closed before the answer was complete"))
      })
    }
    const req = url.protocol === "https:"
      ? https.request(url, options, onAnswer)
      : http.request(url, options, onAnswer)
    req.on("error", reject)
    req.end(body)
  })

/** The library to give `createConfiguration` (as `httpApi`). */
export const library: k8s.HttpLibrary = k8s.wrapHttpLibrary({ send })
