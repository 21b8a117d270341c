/**
 * Two real `cloudstack-ccm run` processes against the real kube-apiserver (scripts/kube-apiserver.sh):
 * exactly one leads, the other takes over after the leader is SIGKILLed, SIGTERM releases the lease and
 * exits 0, a leader whose Lease is taken away exits 1, a bad flag exits 1 with one line. One
 * candidate is the esbuild bundle the image ships (deploy/Dockerfile), the other the TypeScript entry
 * through vite-node (a vitest dependency).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type RunningApiServer, startRealApiServer } from "../contracts/RealApiServer.js"
import { sleep } from "../e2e/E2eHarness.js"
import { freePort } from "../fakes/Ports.js"
import { bin, buildBundle, repo } from "./CliBundle.js"

const viteNode = join(repo, "node_modules", "vite-node", "vite-node.mjs")

interface Ccm {
  readonly name: string
  readonly port: number
  readonly child: ChildProcess
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

let bundled: Awaited<ReturnType<typeof buildBundle>> | undefined
/** The image's artifact: the same esbuild invocation as deploy/Dockerfile. */
const bundle = () => bundled?.file ?? ""

/**
 * `args` go to the root command (the upstream image's way), or after `run` when `subcommand` is set;
 * `bundled` runs the image's single-file bundle instead of the TypeScript sources.
 */
const spawnCcm = (
  name: string,
  port: number,
  args: ReadonlyArray<string>,
  subcommand: ReadonlyArray<string> = [],
  bundled = false
): Ccm => {
  const entry = bundled ? [bundle()] : [viteNode, bin]
  const child = spawn(process.execPath, [...entry, ...subcommand, ...args], {
    cwd: repo,
    stdio: ["ignore", "ignore", "pipe"]
  })
  let err = ""
  child.stderr?.setEncoding("utf8")
  child.stderr?.on("data", (chunk: string) => (err += chunk))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { name, port, child, stderr: () => err, exited }
}

/** The process's own view: its leader gauge on /metrics (undefined while not serving yet or dead). */
const leaderGauge = async (ccm: Ccm): Promise<number | undefined> => {
  try {
    const res = await fetch(`http://127.0.0.1:${ccm.port}/metrics`)
    const text = await res.text()
    const line = text.split("\n").find((l) => l.startsWith("cloudstack_ccm_leader_election_master_status{"))
    return line === undefined ? undefined : Number(line.split(" ").pop())
  } catch {
    return undefined
  }
}

const waitFor = async <A>(what: string, timeoutMs: number, probe: () => Promise<A | undefined>): Promise<A> => {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    const value = await probe()
    if (value !== undefined) return value
    await sleep(100)
  }
  throw new Error(`timed out waiting for ${what}`)
}

let apiserver: RunningApiServer
let leases: k8s.CoordinationV1Api

beforeAll(async () => {
  bundled = await buildBundle()
  apiserver = startRealApiServer()
  const config = new k8s.KubeConfig()
  config.loadFromFile(apiserver.kubeconfig)
  leases = config.makeApiClient(k8s.CoordinationV1Api)
})
afterAll(() => {
  apiserver?.stop()
  bundled?.remove()
})

describe("cloudstack-ccm run (real processes, real kube-apiserver)", () => {
  it.live(
    "elects one leader of two, fails over after SIGKILL, releases the lease on SIGTERM with exit 0",
    () =>
      Effect.promise(async () => {
        const leaseName = `ccm-e2e-${process.pid}-${Date.now() % 100000}`
        const common = [
          "--cloud-provider=external-cloudstack",
          "--controllers=-*",
          `--kubeconfig=${apiserver.kubeconfig}`,
          "--plain-http",
          "--bind-address=127.0.0.1",
          "--leader-elect=true",
          "--leader-elect-resource-namespace=default",
          `--leader-elect-resource-name=${leaseName}`,
          "--leader-elect-lease-duration=4s",
          "--leader-elect-renew-deadline=3s",
          "--leader-elect-retry-period=1s"
        ]
        const ccms: Array<Ccm> = []
        try {
          const pa = await freePort()
          const pb = await freePort()
          const first = spawnCcm("a", pa, [...common, `--secure-port=${pa}`], [], true)
          const second = spawnCcm("b", pb, [...common, `--secure-port=${pb}`], ["run"])
          ccms.push(first, second)

          const [leader, follower] = await waitFor("one leader", 30_000, async () => {
            const [ga, gb] = [await leaderGauge(first), await leaderGauge(second)]
            if (ga === undefined || gb === undefined) return undefined
            if (ga === 1 && gb === 0) return [first, second] as const
            if (gb === 1 && ga === 0) return [second, first] as const
            return undefined
          })
          // Stable: for several retry periods the follower stays a follower.
          for (let i = 0; i < 10; i++) {
            assert.deepStrictEqual([await leaderGauge(leader), await leaderGauge(follower)], [1, 0])
            await sleep(300)
          }
          const held = await leases.readNamespacedLease({ namespace: "default", name: leaseName })
          const leaderIdentity = held.spec?.holderIdentity ?? ""
          assert.match(leaderIdentity, /^.+_[0-9a-f-]{36}$/)
          const transitions = held.spec?.leaseTransitions ?? 0

          const killedAt = Date.now()
          leader.child.kill("SIGKILL")
          await leader.exited
          await waitFor(
            "the follower to take over",
            20_000,
            async () => ((await leaderGauge(follower)) === 1 ? true : undefined)
          )
          const tookMs = Date.now() - killedAt
          // Not before the 4 s lease could have expired (minus at most one 1 s renew interval), and promptly after.
          assert.isAtLeast(tookMs, 2_500)
          assert.isAtMost(tookMs, 12_000)
          const taken = await leases.readNamespacedLease({ namespace: "default", name: leaseName })
          assert.notStrictEqual(taken.spec?.holderIdentity, leaderIdentity)
          assert.strictEqual(taken.spec?.leaseTransitions, transitions + 1)

          follower.child.kill("SIGTERM")
          assert.strictEqual(await follower.exited, 0)
          assert.include(follower.stderr(), "released leader lease")
          const released = await leases.readNamespacedLease({ namespace: "default", name: leaseName })
          assert.isUndefined(released.spec?.holderIdentity ?? undefined)
        } finally {
          for (const c of ccms) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL")
        }
      }),
    120_000
  )

  it.live(
    "a leader whose Lease is taken away stops and exits 1 after the renew deadline",
    () =>
      Effect.promise(async () => {
        const leaseName = `ccm-e2e-lost-${process.pid}-${Date.now() % 100000}`
        const port = await freePort()
        const ccm = spawnCcm("leader", port, [
          "--controllers=-*",
          `--kubeconfig=${apiserver.kubeconfig}`,
          "--plain-http",
          "--bind-address=127.0.0.1",
          `--secure-port=${port}`,
          "--leader-elect-resource-namespace=default",
          `--leader-elect-resource-name=${leaseName}`,
          "--leader-elect-lease-duration=4s",
          "--leader-elect-renew-deadline=3s",
          "--leader-elect-retry-period=1s"
        ])
        try {
          await waitFor("leadership", 30_000, async () => ((await leaderGauge(ccm)) === 1 ? true : undefined))
          // Another holder overwrites the Lease (as a split brain or a manual edit would): renewals now fail.
          const current = await leases.readNamespacedLease({ namespace: "default", name: leaseName })
          const now = new k8s.V1MicroTime(Date.now())
          await leases.replaceNamespacedLease({
            namespace: "default",
            name: leaseName,
            body: {
              ...current,
              spec: {
                ...current.spec,
                holderIdentity: "intruder",
                leaseDurationSeconds: 60,
                renewTime: now,
                acquireTime: now
              }
            }
          })
          const tookAt = Date.now()
          const code = await Promise.race([ccm.exited, sleep(20_000).then(() => "still running")])
          assert.strictEqual(code, 1)
          assert.isAtMost(Date.now() - tookAt, 10_000)
          const lines = ccm.stderr().trim().split("\n")
          assert.match(
            lines[lines.length - 1] ?? "",
            /^leader election lost: lease default\/ccm-e2e-lost-.* not renewed for \d+ ms$/
          )
          const after = await leases.readNamespacedLease({ namespace: "default", name: leaseName })
          assert.strictEqual(after.spec?.holderIdentity, "intruder", "a lost leader does not touch the Lease again")
        } finally {
          if (ccm.child.exitCode === null && ccm.child.signalCode === null) ccm.child.kill("SIGKILL")
        }
      }),
    60_000
  )

  it.live(
    "a rejected token: one Error line naming what to check, /healthz 500 once the lease duration passed",
    () =>
      Effect.promise(async () => {
        const dir = mkdtempSync(join(tmpdir(), "ccm-e2e-token-"))
        const kubeconfig = join(dir, "kubeconfig")
        const original = readFileSync(apiserver.kubeconfig, "utf8")
        assert.match(original, /token: \S+/)
        writeFileSync(kubeconfig, original.replace(/token: \S+/, "token: not-the-right-token"))
        const port = await freePort()
        const ccm = spawnCcm("rejected", port, [
          "--controllers=-*",
          `--kubeconfig=${kubeconfig}`,
          "--plain-http",
          "--bind-address=127.0.0.1",
          `--secure-port=${port}`,
          // the per-check path is read without a SubjectAccessReview (which these credentials could not make)
          "--authorization-always-allow-paths=/healthz,/healthz/*",
          "--leader-elect-resource-namespace=default",
          "--leader-elect-resource-name=ccm-e2e-rejected",
          "--leader-elect-lease-duration=4s",
          "--leader-elect-renew-deadline=3s",
          "--leader-elect-retry-period=1s"
        ])
        const healthz = async (path: string) => {
          try {
            const res = await fetch(`http://127.0.0.1:${port}${path}`)
            return { status: res.status, body: await res.text() }
          } catch {
            return undefined
          }
        }
        try {
          const first = await waitFor("the health server", 30_000, () => healthz("/healthz"))
          assert.strictEqual(first.status, 200, "healthy until the lease duration passed")
          const failed = await waitFor("/healthz to fail", 15_000, async () => {
            const r = await healthz("/healthz")
            return r?.status === 500 ? r : undefined
          })
          assert.include(failed.body, "[-]leaderElection failed: no successful Kubernetes API call for")
          assert.include(failed.body, "get leases: Unauthorized (HTTP 401)")
          const one = await healthz("/healthz/leaderElection")
          assert.strictEqual(one?.status, 500)
          assert.match(one?.body ?? "", /^internal server error: no successful Kubernetes API call for/)
          await sleep(3_000) // a few more attempts (one per retry period): still one Error line
          const errors = ccm.stderr().split("\n").filter((l) => l.includes("\"logLevel\":\"ERROR\""))
          assert.strictEqual(errors.length, 1, ccm.stderr())
          assert.include(errors[0], "Kubernetes API server rejected the credentials (401 Unauthorized)")
          assert.include(errors[0], "service account token")
          assert.include(errors[0], "--kubeconfig")
          assert.notInclude(ccm.stderr(), "not-the-right-token")
        } finally {
          if (ccm.child.exitCode === null && ccm.child.signalCode === null) ccm.child.kill("SIGKILL")
          rmSync(dir, { recursive: true, force: true })
        }
      }),
    60_000
  )

  it.live("a configuration error exits 1 with one clear line on stderr", () =>
    Effect.promise(async () => {
      const ccm = spawnCcm("bad", 0, ["--controllers=-*", "--leader-elect=maybe", "--bogus"])
      assert.strictEqual(await ccm.exited, 1)
      const lines = ccm.stderr().trim().split("\n")
      assert.strictEqual(lines.length, 1, ccm.stderr())
      assert.match(lines[0] ?? "", /^invalid command line: /)
      assert.include(lines[0], "unknown flag: --bogus")
      assert.include(lines[0], "--leader-elect: invalid boolean \"maybe\"")
    }), 60_000)
})
