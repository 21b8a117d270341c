import { assert, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Clock, Context, Effect, Either, Exit, Fiber, Layer, Option, Ref, TestClock } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import type { RequestOptions } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KubeClient, layer } from "../../src/kubernetes/KubeClient.js"
import { inlineFiles, loadConfig } from "../../src/kubernetes/KubeConfigLoader.js"
import {
  BACKGROUND_MAX_WAIT_MS,
  type KubeLimiter,
  makeLimiter,
  makeLimiters,
  reserve,
  takeAvailable
} from "../../src/kubernetes/KubeRateLimiter.js"
import { call, limitedCall, listAll, toKubeApiError } from "../../src/kubernetes/KubeRequest.js"
import { watchErrorToKubeApiError } from "../../src/kubernetes/KubeWatch.js"
import { writeKubeconfig } from "../fakes/Kubeconfig.js"

const apiException = (code: number, message: string) =>
  new k8s.ApiException(code, "Unknown API Status Code!", JSON.stringify({ kind: "Status", code, message }), {})

const kubeconfig = (server: string) => writeKubeconfig(server)

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
    const expired = watchErrorToKubeApiError("nodes", {
      kind: "Status",
      code: 410,
      reason: "Expired",
      message: "too old"
    })
    assert.strictEqual(expired.reason, "Gone")
    assert.strictEqual(expired.detail, "too old")
    // no object name: the message names the resource only (not the error's class name)
    assert.strictEqual(expired.message, "Kubernetes watch nodes: Gone (HTTP 410): too old")
    assert.strictEqual(watchErrorToKubeApiError("nodes", { code: 500, message: "x" }).reason, "Unavailable")
  })

  it.effect("turns a rejected client-node promise into a typed failure", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(
        call("get", "nodes", "n1", () => Promise.reject(apiException(404, "nodes \"n1\" not found")))
      )
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

  it.effect("reads the CA and client certificate files once, not per request (client-go's way)", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "kubeclient-files-"))
      const file = (name: string, text: string) => {
        writeFileSync(join(dir, name), text)
        return join(dir, name)
      }
      const path = file(
        "config",
        [
          "apiVersion: v1",
          "kind: Config",
          "clusters:",
          `- name: c\n  cluster: {server: "https://127.0.0.1:6443", certificate-authority: ${
            file("ca.crt", "CA-PEM")
          }}`,
          `users:\n- name: u\n  user: {client-certificate: ${file("client.crt", "CERT-PEM")}, client-key: ${
            file("client.key", "KEY-PEM")
          }}`,
          "contexts:\n- name: x\n  context: {cluster: c, user: u}",
          "current-context: x"
        ].join("\n")
      )
      const inlined = yield* inlineFiles(yield* loadConfig({ kubeconfig: path }))
      rmSync(dir, { recursive: true })
      // What client-node builds for each request, with the files gone.
      const opts: RequestOptions = {}
      yield* Effect.promise(() => inlined.applyToHTTPSOptions(opts))
      assert.deepStrictEqual([String(opts.ca), String(opts.cert), String(opts.key)], ["CA-PEM", "CERT-PEM", "KEY-PEM"])
      assert.isUndefined(inlined.getCurrentCluster()?.caFile)
      const missing = yield* Effect.either(
        inlineFiles(
          yield* loadConfig({ kubeconfig: kubeconfig("https://127.0.0.1:6443") }).pipe(
            Effect.map((config) => {
              config.loadFromOptions({
                ...config,
                clusters: config.clusters.map((c) => ({ ...c, caFile: join(dir, "gone.crt") }))
              })
              return config
            })
          )
        )
      )
      assert.isTrue(Either.isLeft(missing) && missing.left._tag === "KubeConfigError")
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

  it.scoped("lets a burst through at once, then one request per 1/qps seconds (client-go's token bucket)", () =>
    Effect.gen(function*() {
      const limit = yield* makeLimiter({ qps: 10, burst: 3 })
      const limited = limitedCall(limit)
      const fiber = yield* Effect.forEach(
        Array.from({ length: 3 + 5 }, (_, i) => i),
        (i) =>
          limited("get", "nodes", `n${i}`, () => Promise.resolve(i)).pipe(Effect.zipRight(Clock.currentTimeMillis)),
        { concurrency: "unbounded" }
      ).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      const times = yield* Fiber.join(fiber)
      // 3 at once from the full bucket, the 5 others 100 ms apart: 8 requests take 500 ms at 10 qps.
      assert.deepStrictEqual([...times].sort((a, b) => a - b), [0, 0, 0, 100, 200, 300, 400, 500])
    }))

  it.scoped("a quiet client refills its bucket up to burst, not beyond", () =>
    Effect.gen(function*() {
      const limit = yield* makeLimiter({ qps: 2, burst: 2 })
      const stamp = limit(Clock.currentTimeMillis)
      const first = yield* Effect.fork(Effect.all([stamp, stamp, stamp], { concurrency: "unbounded" }))
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual([...(yield* Fiber.join(first))].sort((a, b) => a - b), [0, 0, 500])
      yield* TestClock.adjust("10 seconds")
      const second = yield* Effect.fork(Effect.all([stamp, stamp, stamp], { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual([...(yield* Fiber.join(second))].sort((a, b) => a - b), [10500, 10500, 11000])
    }))

  it("reserves tokens exactly: the n-th request past the burst is due (n - burst) / qps after the start", () => {
    const rate = { qps: 20, burst: 30 }
    let bucket: Parameters<typeof reserve>[0] = { tokens: rate.burst, at: undefined }
    const waits: Array<number> = []
    for (let i = 0; i < 900; i++) {
      const [wait, next] = reserve(bucket, 1_000, rate)
      waits.push(wait)
      bucket = next
    }
    assert.deepStrictEqual(waits.slice(0, 31), [...Array(30).fill(0), 50])
    assert.closeTo(waits.at(-1) ?? 0, 43_500, 1e-6)
    // Asked late, a request does not wait for tokens the bucket earned meanwhile (capped at burst).
    const [late] = reserve(bucket, 1_000 + 43_500 + 10_000, rate)
    assert.strictEqual(late, 0)
  })

  it("a background request takes a token only when one is there, and none while requests wait for one", () => {
    const rate = { qps: 2, burst: 2 }
    const full = { tokens: 2, at: undefined }
    const [now, afterOne] = takeAvailable(full, 0, rate)
    assert.strictEqual(now, 0)
    assert.strictEqual(afterOne.tokens, 1)
    // two requests reserved past the burst: 1.5 tokens owed at 0 ms
    const [, owing] = reserve({ tokens: 0.5, at: 0 }, 0, rate)
    const [wait, unchanged] = takeAvailable(owing, 0, rate)
    assert.strictEqual(wait, 750, "until the debt is paid and one token is there: (1 - -0.5) tokens at 2 qps")
    assert.strictEqual(unchanged, owing, "nothing taken, nothing reserved")
    const [later] = takeAvailable(owing, 1000, rate)
    assert.strictEqual(later, 0)
  })

  it.scoped("background requests (Events) wait while controller requests wait, and then go in turn", () =>
    Effect.gen(function*() {
      const { background, limit } = yield* makeLimiters({ qps: 1, burst: 1 })
      const stamp = (l: KubeLimiter) => l(Clock.currentTimeMillis)
      assert.strictEqual(yield* stamp(limit), 0)
      const events = yield* Effect.fork(
        Effect.all([stamp(background), stamp(background)], { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("100 millis")
      // a controller request asked after the Events is served first
      const write = yield* Effect.fork(stamp(limit))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(yield* Fiber.join(write), 1000)
      assert.deepStrictEqual([...(yield* Fiber.join(events))].sort((a, b) => a - b), [2000, 3000])
    }))

  it.scoped("a background request yields for at most BACKGROUND_MAX_WAIT_MS, then takes its place in line", () =>
    Effect.gen(function*() {
      const { background, limit } = yield* makeLimiters({ qps: 1, burst: 1 })
      // two controller loops keep a request waiting for the bucket all the time
      const writer = Effect.forever(limit(Effect.void))
      yield* Effect.forkScoped(writer)
      yield* Effect.forkScoped(writer)
      yield* TestClock.adjust("1 milli")
      const event = yield* Effect.fork(background(Clock.currentTimeMillis))
      yield* TestClock.adjust("60 seconds")
      const sent = yield* Fiber.poll(event)
      assert.isTrue(Option.isSome(sent), "the Event was not starved by the busy controllers")
      const at = Option.isSome(sent) && Exit.isSuccess(sent.value) ? sent.value.value : NaN
      // it yielded until its wait ran out, then waited in line behind the tokens already reserved (the
      // two loops', one of them two deep at that instant): seconds, at 1 qps
      assert.isAtLeast(at, 1 + BACKGROUND_MAX_WAIT_MS)
      assert.isAtMost(at, 1 + BACKGROUND_MAX_WAIT_MS + 3_000)
    }))

  it.scoped("an interrupted wait hands its token back", () =>
    Effect.gen(function*() {
      const limit = yield* makeLimiter({ qps: 1, burst: 1 })
      const stamp = limit(Clock.currentTimeMillis)
      assert.strictEqual(yield* stamp, 0)
      const waiting = yield* Effect.fork(stamp)
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(waiting)
      const next = yield* Effect.fork(stamp)
      yield* TestClock.adjust("1 second")
      // Due at 1,000 ms as if the interrupted request had never asked.
      assert.strictEqual(yield* Fiber.join(next), 1000)
    }))

  it.effect("takes one token per list page", () =>
    Effect.gen(function*() {
      const taken = yield* Ref.make(0)
      const counting: KubeLimiter = (request) => Effect.zipRight(Ref.update(taken, (n) => n + 1), request)
      const pages = [
        { items: [1, 2], metadata: { resourceVersion: "7", _continue: "a" } },
        { items: [3], metadata: { _continue: "b" } },
        { items: [4], metadata: {} }
      ]
      const result = yield* listAll(
        "nodes",
        (cont) => Promise.resolve(pages[cont === undefined ? 0 : cont === "a" ? 1 : 2]),
        (input) => Effect.succeed(input),
        counting
      )
      assert.deepStrictEqual(result.items, [1, 2, 3, 4])
      assert.strictEqual(result.resourceVersion, "7")
      assert.strictEqual(yield* Ref.get(taken), 3)
    }))

  it.scoped("the live layer applies the given rate to the client it provides", () =>
    Effect.gen(function*() {
      const built = yield* Layer.build(
        layer({ kubeconfig: kubeconfig("https://127.0.0.1:6443") }, { qps: 1, burst: 1 })
      )
      const client = Context.get(built, KubeClient)
      const stamp = client.limit(Clock.currentTimeMillis)
      const fiber = yield* Effect.fork(Effect.all([stamp, stamp], { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual([...(yield* Fiber.join(fiber))].sort((a, b) => a - b), [0, 1000])
    }))

  it.scoped("informers and leader election have buckets of their own (client-go: a clientset each)", () =>
    Effect.gen(function*() {
      const built = yield* Layer.build(
        layer({ kubeconfig: kubeconfig("https://127.0.0.1:6443") }, { qps: 1, burst: 1 })
      )
      const client = Context.get(built, KubeClient)
      const stamps = Effect.all(
        [client.limit, client.informerLimit, client.leaseLimit].map((limit) => limit(Clock.currentTimeMillis)),
        { concurrency: "unbounded" }
      )
      // Each bucket's one token is there at once; only the controllers' second request waits.
      assert.deepStrictEqual(yield* stamps, [0, 0, 0])
      const fiber = yield* Effect.fork(client.limit(Clock.currentTimeMillis))
      // Events share the controllers' bucket, behind their requests
      const event = yield* Effect.fork(client.eventLimit(Clock.currentTimeMillis))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 1000)
      assert.strictEqual(yield* Fiber.join(event), 2000)
    }))
})
