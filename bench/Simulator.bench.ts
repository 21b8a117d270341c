/**
 * Simulator throughput. In-memory: `handle` calls/s in one fiber loop. HTTP face: a child process
 * is the client (signed GETs over keep-alive connections) while this process serves; besides the
 * wall-clock rate, calls per CPU second of the serving process give the rate one core sustains,
 * independent of what else the machine runs. Baseline in the same run: a bare node:http server
 * answering a fixed JSON body to the same client.
 */
import { Layer, ManagedRuntime } from "effect"
import { fork } from "node:child_process"
import { createServer } from "node:http"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { Pool } from "undici"
import { encodeQuery, formatExpires, sign } from "../src/cloudstack/Signing.js"
import { CloudStackSimulator, type SimRequest } from "../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../src/simulation/cloudstack/DemoWorld.js"
import { isCommand, layer as simulatorLayer } from "../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../src/simulation/cloudstack/SimulatorHttpServer.js"
import { withKeys } from "../src/simulation/cloudstack/WorldKeys.js"
import type { BenchRow } from "./run.js"

const KEYS = { apiKey: "bench-key", secretKey: "bench-secret" }
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? "3")
const CONNECTIONS = 8

/** One API call answered by the simulator: the JSON body. */
type Call = (command: string, params: Record<string, string>) => Promise<unknown>

/** `call` that counts every call made through it (job polls included). */
const counting = (call: Call): { readonly call: Call; readonly count: () => number } => {
  let n = 0
  return {
    call: (command, params) => {
      n++
      return call(command, params)
    },
    count: () => n
  }
}

const innerOf = (body: unknown, command: string): Record<string, unknown> => {
  const key = `${command.toLowerCase()}response`
  const inner = typeof body === "object" && body !== null && key in body ? Reflect.get(body, key) : undefined
  if (typeof inner !== "object" || inner === null) {
    throw new Error(`${command}: unexpected answer ${JSON.stringify(body)}`)
  }
  return Object.fromEntries(Object.entries(inner))
}

const str = (record: Record<string, unknown>, key: string): string => {
  const v = record[key]
  if (typeof v !== "string") throw new Error(`missing ${key} in ${JSON.stringify(record)}`)
  return v
}

/** Prepares an allocated IP on an isolated LB network; returns one round of 10 calls (the CCM's kind). */
const prepare = async (call: Call): Promise<() => Promise<void>> => {
  const networks = innerOf(await call("listNetworks", { listall: "true" }), "listNetworks")
  const list = Array.isArray(networks["network"]) ? networks["network"] : []
  const net = list.map((n: unknown) => Object.fromEntries(Object.entries(n ?? {}))).find((n) =>
    n["vpcid"] === undefined && JSON.stringify(n["service"] ?? []).includes(`"name":"Lb"`)
  )
  if (net === undefined) throw new Error("no isolated network with Lb in the demo world")
  const networkid = str(net, "id")
  const assoc = innerOf(await call("associateIpAddress", { networkid }), "associateIpAddress")
  const publicipid = str(assoc, "id")
  await waitJob(call, str(assoc, "jobid"))
  let port = 1000
  return async () => {
    port = port >= 60000 ? 1000 : port + 1
    const publicport = String(port) // one port per round, also with concurrent loops
    await call("listZones", {})
    await call("listVirtualMachines", { listall: "true", networkid })
    await call("listPublicIpAddresses", { listall: "true", associatednetworkid: networkid })
    const created = innerOf(
      await call("createLoadBalancerRule", {
        publicipid,
        networkid,
        name: `bench-${publicport}`,
        algorithm: "roundrobin",
        publicport,
        privateport: "30080",
        openfirewall: "false"
      }),
      "createLoadBalancerRule"
    )
    await waitJob(call, str(created, "jobid"))
    await call("listLoadBalancerRules", { listall: "true", publicipid })
    const deleted = innerOf(await call("deleteLoadBalancerRule", { id: str(created, "id") }), "deleteLoadBalancerRule")
    await waitJob(call, str(deleted, "jobid"))
    await call("listNetworks", { listall: "true", id: networkid })
  }
}

/**
 * Jobs run with zero duration here, but a network's jobs execute one at a time, so with concurrent
 * clients a job can still be queued: poll again after 1 ms, as clients pause between polls.
 */
const waitJob = async (call: Call, jobid: string): Promise<void> => {
  for (let i = 0; i < 1000; i++) {
    const job = innerOf(await call("queryAsyncJobResult", { jobid }), "queryAsyncJobResult")
    if (job["jobstatus"] === 1) return
    if (job["jobstatus"] === 2) throw new Error(`job failed: ${JSON.stringify(job)}`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  throw new Error(`job ${jobid} never finished`)
}

interface Measured {
  readonly calls: number
  readonly seconds: number
}

/** Runs `workers` loops of `round` for SECONDS; `count` reads the calls made so far. */
const measure = async (round: () => Promise<void>, count: () => number, workers: number): Promise<Measured> => {
  const start = performance.now()
  const before = count()
  const until = start + SECONDS * 1000
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < until) await round()
  }))
  return { calls: count() - before, seconds: (performance.now() - start) / 1000 }
}

const SimulatorLive = simulatorLayer(withKeys(demoWorld, KEYS), { seed: 1 })

/** In-memory calls/s and calls per CPU second (process CPU time, this thread only runs). */
const inMemory = async (): Promise<{ readonly wall: number; readonly perCpuSecond: number }> => {
  const runtime = ManagedRuntime.make(SimulatorLive)
  try {
    const simulator = await runtime.runPromise(CloudStackSimulator)
    await runtime.runPromise(simulator.setFaults({ jobDuration: 0 }))
    const { call, count } = counting((command, params) =>
      runtime.runPromise(simulator.handle({ command, params, apiKey: KEYS.apiKey } satisfies SimRequest)).then((r) =>
        r.body
      )
    )
    const round = await prepare(call)
    await measure(round, count, 1) // JIT warm-up
    const cpu = process.cpuUsage()
    const m = await measure(round, count, 1)
    const used = process.cpuUsage(cpu)
    return { wall: m.calls / m.seconds, perCpuSecond: m.calls / ((used.user + used.system) / 1e6) }
  } finally {
    await runtime.dispose()
  }
}

const httpCall = (pool: Pool, path: string): Call => async (command, params) => {
  const signed = {
    ...params,
    command,
    response: "json",
    apiKey: KEYS.apiKey,
    signatureVersion: "3",
    expires: formatExpires(Date.now() + 600_000)
  }
  const query = `${encodeQuery(signed)}&signature=${encodeURIComponent(sign(signed, KEYS.secretKey))}`
  const res = await pool.request({ method: "GET", path: `${path}?${query}` })
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`${command}: HTTP ${res.statusCode} ${text}`)
  return JSON.parse(text)
}

interface ClientJob {
  readonly port: number
  /** "mix": the round of `prepare`; "fixed": one listZones per round (for the bare server). */
  readonly kind: "mix" | "fixed"
}

/** Client process side: drives the server on `port` and sends the Measured result. */
const client = async (job: ClientJob): Promise<Measured> => {
  const pool = new Pool(`http://127.0.0.1:${job.port}`, { connections: CONNECTIONS, pipelining: 1 })
  try {
    const { call, count } = counting(httpCall(pool, HttpFace.API_PATH))
    const round = job.kind === "mix" ? await prepare(call) : async () => void (await call("listZones", {}))
    await measure(round, count, CONNECTIONS) // warm-up of client and server
    process.send?.("measuring")
    return await measure(round, count, CONNECTIONS)
  } finally {
    await pool.close()
  }
}

const CLIENT_ENV = "SIMULATOR_BENCH_CLIENT"
const clientJob = process.env[CLIENT_ENV]
if (clientJob !== undefined) {
  const job: ClientJob = JSON.parse(clientJob)
  void client(job).then(
    (m) => process.send?.(m, () => process.exit(0)),
    (e) => process.send?.({ error: String(e) }, () => process.exit(1))
  )
}

interface HttpFigures {
  readonly wall: number
  /** Calls per CPU second of the serving process: what one core sustains. */
  readonly perCpuSecond: number
}

/**
 * Runs the client in a child process (this module, switched by an environment variable) against
 * `port`, and measures this serving process's CPU time over the client's measured pass.
 */
const drive = (job: ClientJob): Promise<HttpFigures> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, [CLIENT_ENV]: JSON.stringify(job) }
    })
    let cpu = process.cpuUsage()
    child.on("message", (m: Measured | { error: string } | "measuring") => {
      if (m === "measuring") return void (cpu = process.cpuUsage())
      if ("error" in m) return reject(new Error(m.error))
      const used = process.cpuUsage(cpu)
      resolve({ wall: m.calls / m.seconds, perCpuSecond: m.calls / ((used.user + used.system) / 1e6) })
    })
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`bench client exited with ${code} before reporting`)))
  })

const overHttp = async (): Promise<HttpFigures> => {
  const runtime = ManagedRuntime.make(
    HttpFace.layer({ port: 0, isCommand }).pipe(Layer.provideMerge(SimulatorLive))
  )
  try {
    const face = await runtime.runPromise(HttpFace.SimulatorHttpServer)
    const simulator = await runtime.runPromise(CloudStackSimulator)
    await runtime.runPromise(simulator.setFaults({ jobDuration: 0 }))
    return await drive({ port: face.port, kind: "mix" })
  } finally {
    await runtime.dispose()
  }
}

/** The same client against a server that does nothing but answer a fixed body. */
const bareHttp = async (): Promise<HttpFigures> => {
  const body = JSON.stringify({ listzonesresponse: { count: 1, zone: [{ id: "z", name: "zone" }] } })
  const server = createServer({ keepAlive: true }, (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json; charset=UTF-8", "Content-Length": Buffer.byteLength(body) })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  try {
    return await drive({ port, kind: "fixed" })
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const memory = await inMemory()
  const bare = await bareHttp()
  const http = await overHttp()
  const round = (n: number) => Math.round(n)
  const mix =
    "mix of 10 calls as a CCM makes them: 5 lists (zones, VMs of a network, IPs, rules of an IP, network by id), create+delete LB rule, 3 job queries"
  return [
    {
      bench: "simulator",
      metric: "in-memory handle",
      value: round(memory.wall),
      unit: "calls/s",
      note: `${mix}; target >= 20000`
    },
    {
      bench: "simulator",
      metric: "in-memory handle per CPU second",
      value: round(memory.perCpuSecond),
      unit: "calls/cpu-s",
      note: mix
    },
    {
      bench: "simulator",
      metric: "http face",
      value: round(http.wall),
      unit: "calls/s",
      note: `${mix}; signed GETs from a child process, ${CONNECTIONS} keep-alive connections`
    },
    {
      bench: "simulator",
      metric: "http face per CPU second of the server",
      value: round(http.perCpuSecond),
      unit: "calls/cpu-s",
      note: "what one core sustains; target >= 2000"
    },
    {
      bench: "simulator",
      metric: "bare http baseline",
      value: round(bare.wall),
      unit: "calls/s",
      note: "fixed small JSON answer, same client"
    },
    {
      bench: "simulator",
      metric: "bare http per CPU second of the server",
      value: round(bare.perCpuSecond),
      unit: "calls/cpu-s"
    },
    {
      bench: "simulator",
      metric: "http face / bare http (per server CPU second)",
      value: Math.round((http.perCpuSecond / bare.perCpuSecond) * 100) / 100,
      unit: "ratio"
    }
  ]
}
