/**
 * Client overhead per call: sign + encode + send + envelope/Schema decode, in CPU µs of this process
 * (`process.cpuUsage`) and calls/s. Against an in-process transport (no sockets) and against a
 * loopback HTTP server in a child process (so its CPU is not counted). Baseline in the same run: a
 * bare undici GET + JSON.parse of the same answer over the same keep-alive loopback connection.
 */
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { spawn } from "node:child_process"
import { performance } from "node:perf_hooks"
import { Agent, request } from "undici"
import { CloudStackClient, layer as clientLayer } from "../src/cloudstack/CloudStackClient.js"
import { CloudStackTransport } from "../src/cloudstack/CloudStackTransport.js"
import { listLoadBalancerRules } from "../src/cloudstack/commands/LoadBalancers.js"
import { listZones } from "../src/cloudstack/commands/Zones.js"
import * as HttpTransport from "../src/cloudstack/HttpTransport.js"
import { CloudConfig, type CloudConfigShape } from "../src/config/CloudConfig.js"
import * as Metrics from "../src/metrics/Metrics.js"
import { simulatedCloudConfig } from "../src/simulation/SimulatedCloudConfig.js"
import type { BenchRow } from "./run.js"

const CALLS = Number(process.env["BENCH_CALLS"] ?? "3000")
const CONCURRENCY = 16

const rule = (i: number) => ({
  id: `00000000-0000-0000-0000-${String(i).padStart(12, "0")}`,
  name: `a${i}-tcp-80`,
  algorithm: "roundrobin",
  publicip: "192.0.2.10",
  publicipid: "11111111-0000-0000-0000-000000000000",
  publicport: String(1000 + i),
  privateport: String(30000 + i),
  protocol: "tcp",
  cidrlist: "",
  state: "Active",
  networkid: "22222222-0000-0000-0000-000000000000",
  zoneid: "33333333-0000-0000-0000-000000000000",
  zonename: "zone",
  account: "admin",
  domain: "ROOT",
  fordisplay: true,
  tags: [{ key: "cluster", value: "bench", resourcetype: "LoadBalancer", resourceid: "x" }]
})
const BODIES: Record<string, string> = {
  listZones: JSON.stringify({
    listzonesresponse: { count: 1, zone: [{ id: "z", name: "zone", networktype: "Advanced" }] }
  }),
  listLoadBalancerRules: JSON.stringify({
    listloadbalancerrulesresponse: { count: 20, loadbalancerrule: Array.from({ length: 20 }, (_, i) => rule(i)) }
  })
}

const config = (apiUrl: URL): CloudConfigShape =>
  simulatedCloudConfig({
    apiUrl,
    apiKey: Redacted.make("bench-api-key-0123456789abcdefghijklmnopqrstuvwxyz"),
    secretKey: Redacted.make("bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"),
    maxInFlight: CONCURRENCY,
    requestsPerSecond: 1_000_000_000,
    source: "bench"
  })

/** Signs and encodes exactly like HttpTransport, then answers from memory: no sockets. */
const inProcessTransport = (cfg: CloudConfigShape) =>
  Layer.succeed(CloudStackTransport, {
    send: (req) =>
      Effect.sync(() => {
        HttpTransport.encodeRequest(
          cfg.apiUrl,
          Redacted.value(cfg.apiKey),
          Redacted.value(cfg.secretKey),
          req,
          1_800_000_000_000
        )
        return { status: 200, contentType: "application/json", body: BODIES[req.command] ?? "{}" }
      })
  })

interface Figures {
  readonly cpuMicrosPerCall: number
  readonly callsPerSecond: number
}

const measure = async (calls: number, run: (n: number) => Promise<void>): Promise<Figures> => {
  await run(Math.min(300, calls)) // warm-up: JIT, connections
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run(calls)
  const wall = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  return { cpuMicrosPerCall: round((cpu.user + cpu.system) / calls), callsPerSecond: Math.round(calls / wall) }
}
const round = (x: number) => Math.round(x * 10) / 10

/** A loopback server in a child process answering the canned bodies by `command`. */
const startServer = async () => {
  const script = `
    const http = require("node:http")
    const bodies = ${JSON.stringify(BODIES)}
    const server = http.createServer((req, res) => {
      let body = ""
      req.on("data", (c) => (body += c))
      req.on("end", () => {
        const q = new URLSearchParams(req.method === "GET" ? (req.url.split("?")[1] || "") : body)
        res.writeHead(200, { "content-type": "application/json" })
        res.end(bodies[q.get("command")] || "{}")
      })
    })
    server.keepAliveTimeout = 60000
    server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"))
  `
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(Number(String(d).trim())))
    child.once("error", reject)
  })
  return { url: new URL(`http://127.0.0.1:${port}/client/api`), stop: () => child.kill() }
}

const clientRuntime = (transport: Layer.Layer<CloudStackTransport, never, CloudConfig>, cfg: CloudConfigShape) =>
  ManagedRuntime.make(
    clientLayer.pipe(
      Layer.provide(transport),
      Layer.provide(Metrics.layer),
      Layer.provide(Layer.succeed(CloudConfig, cfg))
    )
  )

const loops = (rt: ManagedRuntime.ManagedRuntime<CloudStackClient, unknown>) => {
  const seq = (call: (c: CloudStackClient["Type"]) => Effect.Effect<unknown, unknown>) => (n: number) =>
    rt.runPromise(Effect.flatMap(CloudStackClient, (c) => Effect.repeatN(call(c), n - 1)).pipe(Effect.asVoid))
  const par = (call: (c: CloudStackClient["Type"]) => Effect.Effect<unknown, unknown>) => (n: number) =>
    rt.runPromise(
      Effect.flatMap(CloudStackClient, (c) =>
        Effect.forEach(Array.from({ length: n }), () => call(c), { concurrency: CONCURRENCY, discard: true }))
    )
  return { seq, par }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const rows: Array<BenchRow> = []
  const push = (metric: string, value: number, unit: string, note?: string) =>
    rows.push(
      note === undefined
        ? { bench: "CloudStackClient", metric, value, unit }
        : { bench: "CloudStackClient", metric, value, unit, note }
    )
  const zones = (c: CloudStackClient["Type"]) => c.list(listZones, {})
  const rules = (c: CloudStackClient["Type"]) => c.list(listLoadBalancerRules, {})

  // pure signing + encoding alone
  const cfg0 = config(new URL("http://127.0.0.1:1/client/api"))
  const signOnly = await measure(CALLS * 10, async (n) => {
    for (let i = 0; i < n; i++) {
      HttpTransport.encodeRequest(cfg0.apiUrl, "k", "s", {
        command: "listZones",
        params: { listall: "true", page: "1", pagesize: "500" },
        method: "GET"
      }, i)
    }
  })
  push("sign_encode_cpu", signOnly.cpuMicrosPerCall, "µs/call", "HttpTransport.encodeRequest alone")

  const inproc = clientRuntime(inProcessTransport(cfg0), cfg0)
  const ip = loops(inproc)
  const inZones = await measure(CALLS, ip.seq(zones))
  const inRules = await measure(CALLS, ip.seq(rules))
  push("inprocess_listZones_cpu", inZones.cpuMicrosPerCall, "µs/call", "sign+encode+envelope+Schema decode, 1 item")
  push("inprocess_listZones_rate", inZones.callsPerSecond, "calls/s", "sequential")
  push("inprocess_listLBRules20_cpu", inRules.cpuMicrosPerCall, "µs/call", "20 rules decoded (string ports, tags)")
  push("inprocess_listLBRules20_rate", inRules.callsPerSecond, "calls/s", "sequential")
  await inproc.dispose()

  const server = await startServer()
  try {
    const cfg = config(server.url)
    const live = clientRuntime(HttpTransport.layer, cfg)
    const lp = loops(live)
    const seqZones = await measure(CALLS, lp.seq(zones))
    const parZones = await measure(CALLS, lp.par(zones))
    const seqRules = await measure(CALLS, lp.seq(rules))
    await live.dispose()

    // baseline: bare undici GET + JSON.parse of the same answer, same loopback server
    const agent = new Agent({ keepAliveTimeout: 60_000 })
    const url = HttpTransport.encodeRequest(server.url, "k", "s", {
      command: "listZones",
      params: { page: "1", pagesize: "500" },
      method: "GET"
    }, 0).url
    const bare = await measure(CALLS, async (n) => {
      for (let i = 0; i < n; i++) {
        const r = await request(url, { dispatcher: agent })
        JSON.parse(await r.body.text())
      }
    })
    await agent.close()

    push("loopback_listZones_cpu", seqZones.cpuMicrosPerCall, "µs/call", "client over HTTP, server CPU not counted")
    push("loopback_listZones_rate", seqZones.callsPerSecond, "calls/s", "sequential, keep-alive")
    push("loopback_listZones_rate_c16", parZones.callsPerSecond, "calls/s", `concurrency ${CONCURRENCY}`)
    push("loopback_listLBRules20_cpu", seqRules.cpuMicrosPerCall, "µs/call")
    push("loopback_bare_undici_cpu", bare.cpuMicrosPerCall, "µs/call", "baseline: undici GET + JSON.parse")
    push(
      "loopback_client_vs_bare_cpu",
      round(seqZones.cpuMicrosPerCall / bare.cpuMicrosPerCall),
      "ratio",
      "client / baseline"
    )
    push(
      "client_overhead_over_bare_cpu",
      round(seqZones.cpuMicrosPerCall - bare.cpuMicrosPerCall),
      "µs/call",
      "what signing, retries, limits, metrics and decoding add"
    )
  } finally {
    server.stop()
  }
  return rows
}
