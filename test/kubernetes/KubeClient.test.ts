import { assert, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect, Either } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { call, loadConfig, toKubeApiError, watchErrorToKubeApiError } from "../../src/kubernetes/KubeClient.js"

const apiException = (code: number, message: string) =>
  new k8s.ApiException(code, "Unknown API Status Code!", JSON.stringify({ kind: "Status", code, message }), {})

const kubeconfig = (server: string) => {
  const dir = mkdtempSync(join(tmpdir(), "kubeclient-test-"))
  const path = join(dir, "config")
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: c",
      "  cluster:",
      `    server: ${server}`,
      "users:",
      "- name: u",
      "  user:",
      "    token: t",
      "contexts:",
      "- name: x",
      "  context: {cluster: c, user: u}",
      "current-context: x"
    ].join("\n")
  )
  return path
}

describe("KubeClient", () => {
  it("classifies client-node failures by HTTP status, once", () => {
    const cases: ReadonlyArray<readonly [number, "create" | "patch" | "get" | "watch", string]> = [
      [404, "get", "NotFound"],
      [409, "create", "AlreadyExists"],
      [409, "patch", "Conflict"],
      [410, "watch", "Gone"],
      [422, "patch", "Invalid"],
      [403, "get", "Forbidden"],
      [401, "get", "Unauthorized"],
      [429, "get", "Unavailable"],
      [503, "get", "Unavailable"],
      [418, "get", "Unknown"]
    ]
    for (const [code, verb, reason] of cases) {
      const error = toKubeApiError(verb, "nodes", "n1")(apiException(code, `boom ${code}`))
      assert.strictEqual(error.reason, reason, `HTTP ${code} on ${verb}`)
      assert.strictEqual(error.status, code)
      assert.strictEqual(error.detail, `boom ${code}`)
    }
  })

  it("classifies failures without an HTTP answer as Transport, and watch errors by their status", () => {
    const refused = toKubeApiError("list", "nodes")(new Error("connect ECONNREFUSED 127.0.0.1:1"))
    assert.strictEqual(refused.reason, "Transport")
    assert.isUndefined(refused.status)
    // client-node's Watch rejects non-200 answers with an Error carrying statusCode.
    const watchReject = toKubeApiError("watch", "nodes")(Object.assign(new Error("Gone"), { statusCode: 410 }))
    assert.strictEqual(watchReject.reason, "Gone")
    const expired = watchErrorToKubeApiError("nodes", { kind: "Status", code: 410, reason: "Expired", message: "too old" })
    assert.strictEqual(expired.reason, "Gone")
    assert.strictEqual(expired.detail, "too old")
    assert.strictEqual(watchErrorToKubeApiError("nodes", { code: 500, message: "x" }).reason, "Unavailable")
  })

  it.effect("turns a rejected client-node promise into a typed failure", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(call("get", "nodes", "n1", () => Promise.reject(apiException(404, "nodes \"n1\" not found"))))
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left._tag, "KubeApiError")
        assert.strictEqual(result.left.reason, "NotFound")
        assert.include(result.left.message, "Kubernetes get nodes n1: NotFound (HTTP 404)")
      }
    }))

  it.effect("loads a kubeconfig, and lets --master override its server", () =>
    Effect.gen(function*() {
      const path = kubeconfig("https://127.0.0.1:6443")
      const plain = yield* loadConfig({ kubeconfig: path })
      assert.strictEqual(plain.getCurrentCluster()?.server, "https://127.0.0.1:6443")
      assert.strictEqual(plain.getCurrentUser()?.token, "t")
      const overridden = yield* loadConfig({ kubeconfig: path, master: "https://127.0.0.1:7443" })
      assert.strictEqual(overridden.getCurrentCluster()?.server, "https://127.0.0.1:7443")
      assert.strictEqual(overridden.getCurrentUser()?.token, "t")
      const masterOnly = yield* loadConfig({ master: "http://127.0.0.1:8080" })
      assert.strictEqual(masterOnly.getCurrentCluster()?.server, "http://127.0.0.1:8080")
    }))

  it.effect("fails with one clear KubeConfigError when no server can be found", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.either(loadConfig({ kubeconfig: "/nonexistent/kubeconfig" }))
      assert.isTrue(Either.isLeft(missing))
      if (Either.isLeft(missing)) assert.strictEqual(missing.left._tag, "KubeConfigError")
      const saved = process.env["KUBERNETES_SERVICE_HOST"]
      delete process.env["KUBERNETES_SERVICE_HOST"]
      const none = yield* Effect.either(loadConfig({}))
      if (saved !== undefined) process.env["KUBERNETES_SERVICE_HOST"] = saved
      assert.isTrue(Either.isLeft(none))
      if (Either.isLeft(none)) assert.include(none.left.message, "--kubeconfig or --master")
    }))
})
