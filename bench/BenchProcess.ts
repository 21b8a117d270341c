/**
 * What the process benchmarks share: the repository root, the image's files (the esbuild bundle of
 * the CLI, its entry point and code cache), a plain-HTTPS client of the kube-apiserver started by
 * scripts/kube-apiserver.sh, and readings of a child process from /proc (RSS, peak RSS, CPU seconds).
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { Agent, request } from "node:https"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
/** The repository root: two levels up from dist/bench, one from bench/ (run from source). */
export const repo =
  [resolve(here, ".."), resolve(here, "..", "..")].find((dir) =>
    existsSync(join(dir, "scripts", "kube-apiserver.sh"))
  ) ??
    resolve(here, "..", "..")

export const kubeApiserverScript = join(repo, "scripts", "kube-apiserver.sh")

/** esbuild options of deploy/Dockerfile (the CLI bundle and its entry point, CommonJS for V8's code cache). */
export const bundleOptions = {
  bundle: true,
  minify: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // Resolved from the working directory (the repository root).
  alias: { "whatwg-url": "./deploy/bundle/whatwg-url.cjs" },
  absWorkingDir: repo,
  logLevel: "error"
} as const

/**
 * The node flags of the image: its NODE_OPTIONS, the flags of its ENTRYPOINT before the script, and
 * its malloc settings (deploy/Dockerfile; test/cli/RunCommandDeploy.test.ts checks they agree).
 */
export const DEPLOYMENT_NODE_OPTIONS = ["--max-semi-space-size=2", "--v8-pool-size=1", "--max-old-space-size=64"]
export const IMAGE_NODE_ARGS = ["--liftoff-only", "--optimize-for-size"]
export const DEPLOYMENT_ENV = { MALLOC_MMAP_THRESHOLD_: "32768", MALLOC_ARENA_MAX: "2" }
/** The image's entry point (deploy/Dockerfile's ENTRYPOINT runs it; the bundle and its code cache sit beside it). */
export const IMAGE_ENTRY = "start.cjs"

/**
 * The image's files in `dir`, as deploy/Dockerfile makes them: the CLI bundle `cloudstack-ccm.cjs`,
 * the entry point `start.cjs` (src/cli/CachedStart.ts) and V8's code cache of the bundle, written by
 * a `--version` run with the image's node flags; the entry point's path. BENCH_NO_MINIFY=1 keeps the
 * names (for readable CPU profiles; figures then differ from the image's). BENCH_KEEP_NAMES=1 keeps
 * function and class names (readable heap snapshots, a little more code).
 */
export const buildCliBundle = async (dir: string): Promise<string> => {
  const { buildSync } = await import("esbuild")
  const minify = process.env["BENCH_NO_MINIFY"] !== "1"
  const keepNames = process.env["BENCH_KEEP_NAMES"] === "1"
  const cli = join(repo, "src", "cli")
  buildSync({
    ...bundleOptions,
    minify,
    keepNames,
    entryPoints: [join(cli, "bin.ts")],
    outfile: join(dir, "cloudstack-ccm.cjs")
  })
  const entry = join(dir, IMAGE_ENTRY)
  buildSync({ ...bundleOptions, minify, entryPoints: [join(cli, "CachedStart.ts")], outfile: entry })
  execFileSync(process.execPath, [...IMAGE_NODE_ARGS, entry, "--version"], {
    env: {
      ...process.env,
      ...DEPLOYMENT_ENV,
      NODE_OPTIONS: DEPLOYMENT_NODE_OPTIONS.join(" "),
      CLOUDSTACK_CCM_CODE_CACHE: "write"
    },
    stdio: "ignore"
  })
  return entry
}

/** `status.nodeInfo` as a v1.20 kubelet on Debian reports it. */
export const KUBELET_NODE_INFO = {
  machineID: "a".repeat(32),
  systemUUID: "b".repeat(36),
  bootID: "c".repeat(36),
  kernelVersion: "6.1.0-26-amd64",
  osImage: "Debian GNU/Linux 12 (bookworm)",
  containerRuntimeVersion: "containerd://1.7.22",
  kubeletVersion: "v1.20.2",
  kubeProxyVersion: "v1.20.2",
  operatingSystem: "linux",
  architecture: "amd64"
} as const

export interface ApiServer {
  readonly url: URL
  readonly token: string
  readonly ca: Buffer
}

/** The server, token and CA of a kubeconfig written by scripts/kube-apiserver.sh. */
export const apiServerOf = (kubeconfig: string): ApiServer => {
  const text = readFileSync(kubeconfig, "utf8")
  const field = (name: string) => new RegExp(`${name}: (\\S+)`).exec(text)?.[1] ?? ""
  return { url: new URL(field("server")), token: field("token"), ca: readFileSync(field("certificate-authority")) }
}

/** A keep-alive HTTPS client of the API server for the harness's own requests (16 sockets). */
export const apiClient = (server: ApiServer) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: server.ca })
  const send = (method: string, path: string, body?: unknown) =>
    new Promise<{ readonly status: number; readonly text: string }>((done, fail) => {
      const req = request(new URL(path, server.url), {
        method,
        agent,
        headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" }
      }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => (text += chunk))
        res.on("end", () => done({ status: res.statusCode ?? 0, text }))
      })
      req.on("error", fail)
      // A loaded API server (or a kept-alive socket it closed) can leave an answer out: give up after a minute.
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)))
      req.end(body === undefined ? undefined : JSON.stringify(body))
    })
  /** POSTs `body`, three tries; an object that exists already (409) counts as created. */
  const post = async (path: string, body: unknown) => {
    const answer = await send("POST", path, body).catch(() => send("POST", path, body)).catch(() =>
      send("POST", path, body)
    )
    if (answer.status >= 300 && answer.status !== 409) {
      throw new Error(`POST ${path}: ${answer.status} ${answer.text.slice(0, 200)}`)
    }
  }
  /** Runs `one(0..count-1)`, 16 at a time. */
  const pool = async (count: number, one: (i: number) => Promise<void>) => {
    let next = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < count) await one(next++)
    }))
  }
  return { agent, send, post, pool, close: () => agent.destroy() }
}

const KiB = 1024

/** A field of /proc/<pid>/status in MiB (VmRSS, VmHWM); undefined once the process is gone. */
export const procStatusMiB = (pid: number, field: "VmRSS" | "VmHWM"): number | undefined => {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${field}:`))
    return line === undefined ? undefined : Number(line.split(/\s+/)[1]) / KiB
  } catch {
    return undefined
  }
}

/** User + system CPU seconds of `pid` so far (/proc/<pid>/stat fields 14 and 15, in USER_HZ = 100 ticks). */
export const cpuSeconds = (pid: number): number => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))
