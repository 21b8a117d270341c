/**
 * `cloudstack-ccm simulator` as a real process with a scenario at the World bounds (100,000 VMs,
 * 65,000 public IPs, ~17 MiB of JSON): SIGTERM at any point of its start-up (reading, parsing,
 * decoding, seeding) ends it promptly with exit 0, and a tiny scenario asking for 100,000,000
 * addresses is refused with the limit instead of growing the process to gigabytes.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import { World, WorldLimits } from "../../src/simulation/cloudstack/World.js"
import { buildBundle } from "./CliBundle.js"

let bundled: Awaited<ReturnType<typeof buildBundle>> | undefined
let dir = ""
let large = ""
let tiny = ""

/** The demo world with WorldLimits.vms VMs on one /8 network and a /16 of public addresses. */
const largeWorld = () => {
  const encoded = Schema.encodeSync(World)(demoWorld)
  const vm = encoded.vms?.[0]
  const network = encoded.networks.find((n) => n.name === vm?.nics[0].network)
  if (vm === undefined || network === undefined) throw new Error("the demo world has no VM on a network")
  const vms = Array.from({ length: WorldLimits.vms }, (_, i) => ({
    ...vm,
    id: undefined,
    name: `vm-${i}`,
    nics: [{ network: network.name, ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 1}` }] as const
  }))
  return {
    ...encoded,
    networks: encoded.networks.map((
      n
    ) => (n.name === network.name ? { ...n, cidr: "10.0.0.0/8", ip6cidr: undefined } : n)),
    vms,
    publicIps: [{ zone: demoWorld.zones[0].name, start: "100.64.0.0", count: WorldLimits.publicIps - 536 }]
  }
}

interface Run {
  /** Milliseconds from spawn to the banner on stdout (undefined: never printed). */
  readonly banner: number | undefined
  /** Milliseconds from spawn to SIGTERM (undefined: none sent before the end). */
  readonly signalled: number | undefined
  /** Milliseconds from SIGTERM to exit (undefined: no SIGTERM sent before the end). */
  readonly exitAfterSignal: number | undefined
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/** Spawns the bundle; SIGTERM after `sigtermAt` ms (or once the banner is out when undefined). */
const runSimulator = (scenario: string, sigtermAt: number | undefined) =>
  new Promise<Run>((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, [bundled?.file ?? "", "simulator", "--port", "0", "--scenario", scenario], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let banner: number | undefined
    let signalled: number | undefined
    let stderr = ""
    const term = () => {
      if (signalled === undefined && child.exitCode === null) {
        signalled = Date.now() - started
        child.kill("SIGTERM")
      }
    }
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (banner === undefined && chunk.includes("listening on")) {
        banner = Date.now() - started
        if (sigtermAt === undefined) term()
      }
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = sigtermAt === undefined ? undefined : setTimeout(term, sigtermAt)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({
        banner,
        signalled,
        exitAfterSignal: signalled === undefined ? undefined : Date.now() - started - signalled,
        code,
        signal,
        stderr
      })
    })
  })

beforeAll(async () => {
  bundled = await buildBundle()
  dir = mkdtempSync(join(tmpdir(), "ccm-sim-startup-"))
  large = join(dir, "large.json")
  tiny = join(dir, "tiny.yaml")
  writeFileSync(large, JSON.stringify(largeWorld()))
  writeFileSync(
    tiny,
    "defaultAccount: a\naccounts: [{ name: a, apiKey: k, secretKey: s }]\nzones: [{ name: z }]\nnetworkOfferings: []\n" +
      "serviceOfferings: []\ntemplates: []\nnetworks: []\npublicIps: [{ zone: z, start: 10.0.0.1, count: 100000000 }]\n"
  )
})
afterAll(() => {
  bundled?.remove()
  rmSync(dir, { recursive: true, force: true })
})

describe("simulator start-up (real process)", () => {
  it.live(
    "SIGTERM at any point of the start-up of a world at the bounds exits 0 promptly",
    () =>
      Effect.promise(async () => {
        const full = await runSimulator(large, undefined)
        assert.strictEqual(full.code, 0, full.stderr)
        let startup = full.banner ?? assert.fail(`never listened: ${full.stderr}`)
        // Several points inside the start-up (after the runtime's signal handler is installed). The
        // start-up's length varies with the machine's load, so a point that a faster start-up finished
        // before is tried again against that shorter start-up; a banner after the signal is a failure.
        for (const fraction of [0.3, 0.5, 0.7, 0.85]) {
          let run = await runSimulator(large, Math.round(startup * fraction))
          for (
            let retry = 0;
            retry < 3 && run.banner !== undefined && run.banner <= (run.signalled ?? Infinity);
            retry++
          ) {
            startup = Math.min(startup, run.banner)
            run = await runSimulator(large, Math.round(startup * fraction))
          }
          const where = `SIGTERM at ${run.signalled} ms (start-up ${startup} ms)`
          assert.isDefined(run.signalled, `${where}: exited before the signal: ${run.stderr}`)
          assert.isUndefined(run.banner, `${where}: listened at ${run.banner} ms, not ended by the signal`)
          assert.strictEqual(run.code, 0, `${where}: ${run.stderr}`)
          // One synchronous step at most (decoding 100,000 VMs, ~0.7 s here) before the signal is seen.
          assert.isAtMost(run.exitAfterSignal ?? Infinity, 3_000, where)
        }
      }),
    180_000
  )

  it.live(
    "a 1 KB scenario asking for 100,000,000 public IPs is refused with the limit, at once",
    () =>
      Effect.promise(async () => {
        const run = await runSimulator(tiny, undefined)
        assert.strictEqual(run.code, 1)
        assert.isUndefined(run.banner)
        assert.include(run.stderr, `scenario ${tiny}: not a valid scenario:`)
        assert.include(run.stderr, "count: 1 to 65,536 (at most 65,536 public IPs in a world)")
        assert.notInclude(run.stderr, "    at ")
      }),
    60_000
  )
})
