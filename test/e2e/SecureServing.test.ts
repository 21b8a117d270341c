/**
 * The secure port of real `cloudstack-ccm` processes against a real kube-apiserver enforcing RBAC:
 * delegated authentication (TokenReview) and authorization (SubjectAccessReview) as the k8s CCM.
 * The CCM runs as a user bound only to system:auth-delegator (what deploy/base/rbac.yaml grants), a
 * Prometheus-like user may `get /metrics`, another user may nothing.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Agent, request } from "undici"
import { bin, repo } from "../cli/CliBundle.js"
import { type RunningApiServer, startRealApiServer, TOKENS } from "../contracts/RealApiServer.js"
import { freePort } from "../fakes/Ports.js"

const viteNode = join(repo, "node_modules", "vite-node", "vite-node.mjs")
/** The CCM serves a self-signed certificate. */
const insecure = new Agent({ connect: { rejectUnauthorized: false } })

interface Ccm {
  readonly port: number
  readonly child: ChildProcess
  readonly stderr: () => string
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Reply {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const get = async (ccm: Ccm, path: string, token?: string): Promise<Reply> => {
  const res = await request(`https://127.0.0.1:${ccm.port}${path}`, {
    dispatcher: insecure,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` }
  })
  return { status: res.statusCode, contentType: String(res.headers["content-type"] ?? ""), body: await res.body.text() }
}

let apiserver: RunningApiServer
let dir: string
const running: Array<Ccm> = []

/** The admin kubeconfig with another user's token. */
const kubeconfigAs = (name: string, token: string): string => {
  const file = join(dir, `${name}.kubeconfig`)
  writeFileSync(file, readFileSync(apiserver.kubeconfig, "utf8").replace(TOKENS.admin, token))
  return file
}

/** `cloudstack-ccm` with no controller and no leader election: only the secure port. */
const startCcm = async (args: ReadonlyArray<string>): Promise<Ccm> => {
  const port = await freePort()
  const child = spawn(process.execPath, [
    viteNode,
    bin,
    "--controllers=-*",
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    ...args
  ], {
    cwd: repo,
    stdio: ["ignore", "ignore", "pipe"]
  })
  let err = ""
  child.stderr?.setEncoding("utf8")
  child.stderr?.on("data", (chunk: string) => (err += chunk))
  const ccm = { port, child, stderr: () => err }
  running.push(ccm)
  const until = Date.now() + 40_000
  while (Date.now() < until) {
    const up = await get(ccm, "/healthz").then((r) => r.status === 200, () => false)
    if (up) return ccm
    if (child.exitCode !== null) throw new Error(`cloudstack-ccm exited ${child.exitCode}: ${err}`)
    await sleep(200)
  }
  throw new Error(`cloudstack-ccm did not serve /healthz: ${err}`)
}

const stopCcm = async (ccm: Ccm) => {
  if (ccm.child.exitCode !== null) return
  const exited = new Promise((resolve) => ccm.child.once("exit", resolve))
  ccm.child.kill("SIGTERM")
  await exited
}

beforeAll(async () => {
  apiserver = startRealApiServer({ authorization: "RBAC" })
  dir = mkdtempSync(join(tmpdir(), "ccm-secure-serving-"))
  const config = new k8s.KubeConfig()
  config.loadFromFile(apiserver.kubeconfig)
  const rbac = config.makeApiClient(k8s.RbacAuthorizationV1Api)
  await rbac.createClusterRole({
    body: { metadata: { name: "e2e-metrics-reader" }, rules: [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }] }
  })
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: "e2e-metrics-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "e2e-metrics-reader" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "metrics-reader" }]
    }
  })
  // What deploy/base/rbac.yaml grants the CCM's ServiceAccount for its secure port.
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: "e2e-ccm-auth-delegator" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "ccm" }]
    }
  })
}, 180_000)

afterAll(async () => {
  await Promise.all(running.map(stopCcm))
  apiserver?.stop()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe("secure port with delegated authn/authz (real kube-apiserver, RBAC)", () => {
  it.live("no token: /healthz open, /metrics 403; a bad token 401; a token without get /metrics 403; with it the metrics", () =>
    Effect.promise(async () => {
      const ccm = await startCcm([`--kubeconfig=${kubeconfigAs("ccm", TOKENS.ccm)}`])
      const healthz = await get(ccm, "/healthz")
      assert.deepStrictEqual([healthz.status, healthz.body], [200, "ok"])

      const anonymous = await get(ccm, "/metrics")
      assert.strictEqual(anonymous.status, 403)
      assert.strictEqual(
        JSON.parse(anonymous.body).message,
        `forbidden: User "system:anonymous" cannot get path "/metrics"`
      )

      const forged = await get(ccm, "/metrics", "not-a-token")
      assert.deepStrictEqual([forged.status, JSON.parse(forged.body).reason], [401, "Unauthorized"])

      const nobody = await get(ccm, "/metrics", TOKENS.nobody)
      assert.strictEqual(nobody.status, 403)
      assert.strictEqual(JSON.parse(nobody.body).message, `forbidden: User "nobody" cannot get path "/metrics"`)

      const reader = await get(ccm, "/metrics", TOKENS.metricsReader)
      assert.strictEqual(reader.status, 200)
      assert.include(reader.contentType, "text/plain; version=0.0.4")
      assert.include(reader.body, "cloudstack_ccm_")

      // system:masters needs no review; the reader may not see a per-check path (always-allow is exact)
      assert.strictEqual((await get(ccm, "/metrics", TOKENS.admin)).status, 200)
      assert.strictEqual((await get(ccm, "/healthz/leaderElection", TOKENS.metricsReader)).status, 403)
      assert.notInclude(ccm.stderr(), TOKENS.metricsReader)
    }))

  it.live("--authentication/authorization-kubeconfig: the reviews use them, not the main client (which may not create reviews)", () =>
    Effect.promise(async () => {
      const nobody = kubeconfigAs("nobody", TOKENS.nobody)
      const without = await startCcm([`--kubeconfig=${nobody}`])
      // the main client may not create TokenReviews: 401, and one Error naming the ClusterRole to bind
      assert.strictEqual((await get(without, "/metrics", TOKENS.metricsReader)).status, 401)
      assert.include(without.stderr(), "system:auth-delegator")
      const reviewer = kubeconfigAs("ccm", TOKENS.ccm)
      const withFlags = await startCcm([
        `--kubeconfig=${nobody}`,
        `--authentication-kubeconfig=${reviewer}`,
        `--authorization-kubeconfig=${reviewer}`
      ])
      assert.strictEqual((await get(withFlags, "/metrics", TOKENS.metricsReader)).status, 200)
      assert.strictEqual((await get(withFlags, "/metrics", TOKENS.nobody)).status, 403)
      await Promise.all([stopCcm(without), stopCcm(withFlags)])
    }))

  it.live("--authorization-always-allow-paths=/healthz,/metrics serves /metrics to anyone; the API server down: tokens 401, reviews 500", () =>
    Effect.promise(async () => {
      const ccm = await startCcm([
        `--kubeconfig=${kubeconfigAs("ccm", TOKENS.ccm)}`,
        "--authorization-always-allow-paths=/healthz,/metrics"
      ])
      assert.strictEqual((await get(ccm, "/metrics")).status, 200)
      assert.strictEqual((await get(ccm, "/healthz/leaderElection")).status, 403)
      apiserver.stop()
      // nothing cached for these: the token cannot be reviewed (401), the access cannot (500)
      const token = await get(ccm, "/healthz", "never-seen-token")
      assert.strictEqual(token.status, 401)
      const access = await get(ccm, "/healthz/ping")
      assert.strictEqual(access.status, 500)
      assert.match(
        access.body,
        /^Internal Server Error: "\/healthz\/ping": Kubernetes create subjectaccessreviews: Transport/
      )
      assert.strictEqual((await get(ccm, "/metrics")).status, 200, "always-allow paths need no review")
    }))
})
