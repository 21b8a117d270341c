/**
 * A TCP proxy on a free loopback port in front of the API server that counts the connections a
 * client opens through it (TLS stays end to end: the bytes are only piped). `kubeconfigVia` writes
 * a copy of a kubeconfig that points at the proxy, so a process under test goes through it.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { connect, createServer, type Socket } from "node:net"

export interface CountingProxy {
  readonly port: number
  /** TCP connections accepted so far. */
  readonly connections: () => number
  /** Connections open right now. */
  readonly open: () => number
  readonly close: () => Promise<void>
}

export const startCountingProxy = (target: URL): Promise<CountingProxy> =>
  new Promise((resolve, reject) => {
    let connections = 0
    const sockets = new Set<Socket>()
    const clients = new Set<Socket>()
    const server = createServer((client) => {
      connections++
      clients.add(client)
      client.on("close", () => clients.delete(client))
      const upstream = connect(Number(target.port), target.hostname)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({
        port,
        connections: () => connections,
        open: () => clients.size,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })

/** The server URL of a kubeconfig written by scripts/kube-apiserver.sh. */
export const serverOf = (kubeconfig: string): URL =>
  new URL(/server: (\S+)/.exec(readFileSync(kubeconfig, "utf8"))?.[1] ?? "")

/** Writes `path`: `kubeconfig` with its server replaced by the proxy (the certificate names 127.0.0.1, any port). */
export const kubeconfigVia = (kubeconfig: string, proxy: CountingProxy, path: string): string => {
  const text = readFileSync(kubeconfig, "utf8").replace(
    /server: https:\/\/127\.0\.0\.1:\d+/,
    `server: https://127.0.0.1:${proxy.port}`
  )
  writeFileSync(path, text)
  return path
}
