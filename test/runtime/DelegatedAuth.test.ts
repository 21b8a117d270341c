/**
 * The secure port's access guard over a stateful fake of the API server's reviews, on the
 * TestClock: who gets 401, 403, 500 or in; always-allow paths (exact and prefix) and
 * system:masters; answers cached for their TTLs (both ways), failed reviews retried and never
 * cached; the guard without an API server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted, Ref, TestClock } from "effect"
import { type AccessRequest, AccessReviewApi, UserInfo } from "../../src/kubernetes/AccessReviewApi.js"
import { KubeApiError } from "../../src/kubernetes/KubeError.js"
import * as DelegatedAuth from "../../src/runtime/DelegatedAuth.js"
import { alwaysAllowed, bearerToken } from "../../src/runtime/HttpAccess.js"

interface FakeState {
  readonly down: boolean
  readonly tokenReviews: number
  readonly accessReviews: number
}

/** Tokens: `reader` may get /metrics, `nobody` may nothing, `root` is in system:masters. */
const fake = Effect.gen(function*() {
  const state = yield* Ref.make<FakeState>({ down: false, tokenReviews: 0, accessReviews: 0 })
  const users: Record<string, UserInfo> = {
    reader: new UserInfo({ username: "reader", uid: "1", groups: ["system:authenticated"], extra: {} }),
    nobody: new UserInfo({ username: "nobody", uid: "2", groups: ["system:authenticated"], extra: {} }),
    root: new UserInfo({ username: "root", uid: "3", groups: ["system:masters", "system:authenticated"], extra: {} })
  }
  const unavailable = (resource: string) =>
    new KubeApiError({
      verb: "create",
      resource,
      reason: "Unavailable",
      status: 503,
      detail: "etcd is down"
    })
  const api = AccessReviewApi.of({
    reviewToken: (token) =>
      Effect.gen(function*() {
        const s = yield* Ref.updateAndGet(state, (x) => ({ ...x, tokenReviews: x.tokenReviews + 1 }))
        if (s.down) return yield* unavailable("tokenreviews")
        const user = users[Redacted.value(token)]
        return user === undefined
          ? { _tag: "Unauthenticated", error: "invalid token" } as const
          : { _tag: "Authenticated", user } as const
      }),
    reviewAccess: (request: AccessRequest) =>
      Effect.gen(function*() {
        const s = yield* Ref.updateAndGet(state, (x) => ({ ...x, accessReviews: x.accessReviews + 1 }))
        if (s.down) return yield* unavailable("subjectaccessreviews")
        return {
          allowed: request.user.username === "reader" && request.path === "/metrics" && request.verb === "get",
          reason: ""
        }
      })
  })
  return { state, layer: Layer.succeed(AccessReviewApi, api) }
})

const options: DelegatedAuth.DelegatedAuthOptions = {
  alwaysAllowPaths: ["/healthz", "/readyz", "/livez", "/debug/*"],
  tokenCacheTtl: "10 seconds",
  allowCacheTtl: "10 seconds",
  denyCacheTtl: "10 seconds"
}

const get = (path: string, token?: string): DelegatedAuth.RequestFacts => ({
  method: "GET",
  path,
  requestUri: path,
  authorization: token === undefined ? undefined : `Bearer ${token}`
})

const statusOf = (v: DelegatedAuth.Verdict) => (v._tag === "Allow" ? 200 : v.answer.status)

describe("DelegatedAuth", () => {
  it.effect("no token: anonymous; always-allow paths pass, others are forbidden by the review", () =>
    Effect.gen(function*() {
      const f = yield* fake
      const guard = yield* DelegatedAuth.make(options).pipe(Effect.provide(f.layer))
      assert.deepStrictEqual(yield* guard.check(get("/healthz")), { _tag: "Allow", username: "system:anonymous" })
      assert.strictEqual(statusOf(yield* guard.check(get("/debug/pprof"))), 200)
      const metrics = yield* guard.check(get("/metrics"))
      assert.deepStrictEqual(metrics._tag === "Deny" ? JSON.parse(metrics.answer.body) : undefined, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `forbidden: User "system:anonymous" cannot get path "/metrics"`,
        reason: "Forbidden",
        details: {},
        code: 403
      })
      // `/healthz` does not cover `/healthz/leaderElection` (k8s matches exactly)
      assert.strictEqual(statusOf(yield* guard.check(get("/healthz/leaderElection"))), 403)
      assert.strictEqual((yield* Ref.get(f.state)).tokenReviews, 0)
    }))

  it.effect("tokens: invalid 401 (even on /healthz), without the permission 403, with it 200, system:masters without a review", () =>
    Effect.gen(function*() {
      const f = yield* fake
      const guard = yield* DelegatedAuth.make(options).pipe(Effect.provide(f.layer))
      const bad = yield* guard.check(get("/healthz", "forged"))
      assert.deepStrictEqual(bad._tag === "Deny" ? [bad.answer.status, JSON.parse(bad.answer.body).message] : [], [
        401,
        "Unauthorized"
      ])
      assert.strictEqual(statusOf(yield* guard.check(get("/metrics", "nobody"))), 403)
      assert.deepStrictEqual(yield* guard.check(get("/metrics", "reader")), { _tag: "Allow", username: "reader" })
      assert.strictEqual(statusOf(yield* guard.check({ ...get("/metrics", "reader"), method: "POST" })), 403)
      const before = (yield* Ref.get(f.state)).accessReviews
      assert.deepStrictEqual(yield* guard.check(get("/anything", "root")), { _tag: "Allow", username: "root" })
      assert.strictEqual((yield* Ref.get(f.state)).accessReviews, before)
    }))

  it.effect("answers are reused for 10 s, then asked again; a denial too", () =>
    Effect.gen(function*() {
      const f = yield* fake
      const guard = yield* DelegatedAuth.make(options).pipe(Effect.provide(f.layer))
      for (let i = 0; i < 5; i++) {
        yield* guard.check(get("/metrics", "reader"))
        yield* guard.check(get("/metrics", "nobody"))
        yield* TestClock.adjust("1 second")
      }
      assert.deepStrictEqual(yield* Ref.get(f.state), { down: false, tokenReviews: 2, accessReviews: 2 })
      yield* TestClock.adjust("6 seconds")
      yield* guard.check(get("/metrics", "reader"))
      yield* guard.check(get("/metrics", "nobody"))
      assert.deepStrictEqual(yield* Ref.get(f.state), { down: false, tokenReviews: 4, accessReviews: 4 })
    }))

  it.effect("the API server down: a token gets 401, an access question 500, after retries; failures are not cached", () =>
    Effect.gen(function*() {
      const f = yield* fake
      const guard = yield* DelegatedAuth.make(options).pipe(Effect.provide(f.layer))
      yield* Ref.update(f.state, (s) => ({ ...s, down: true }))
      const token = yield* Effect.fork(guard.check(get("/metrics", "reader")))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(statusOf(yield* Fiber.join(token)), 401)
      assert.strictEqual((yield* Ref.get(f.state)).tokenReviews, 5, "the first attempt and 4 retries")
      const anonymous = yield* Effect.fork(guard.check(get("/metrics")))
      yield* TestClock.adjust("1 minute")
      const answer = yield* Fiber.join(anonymous)
      assert.deepStrictEqual(answer._tag === "Deny" ? [answer.answer.status, answer.answer.contentType] : [], [
        500,
        "text/plain; charset=utf-8"
      ])
      assert.match(
        answer._tag === "Deny" ? answer.answer.body : "",
        /^Internal Server Error: "\/metrics": Kubernetes create subjectaccessreviews: Unavailable \(HTTP 503\): etcd is down\n$/
      )
      yield* Ref.update(f.state, (s) => ({ ...s, down: false }))
      assert.strictEqual(statusOf(yield* guard.check(get("/metrics", "reader"))), 200, "no failure was cached")
    }))

  it.effect("without an API server: tokens 401, anonymous only on always-allow paths", () =>
    Effect.gen(function*() {
      const guard = DelegatedAuth.pathsOnly(["/healthz"])
      assert.strictEqual(statusOf(yield* guard.check(get("/healthz"))), 200)
      assert.strictEqual(statusOf(yield* guard.check(get("/metrics"))), 403)
      assert.strictEqual(statusOf(yield* guard.check(get("/healthz", "any"))), 401)
    }))

  it("bearer tokens and path matching as the apiserver's", () => {
    assert.deepStrictEqual(bearerToken("Bearer abc"), bearerToken("bearer abc"))
    assert.strictEqual(bearerToken("Basic abc")._tag, "None")
    assert.strictEqual(bearerToken("Bearer ")._tag, "None")
    assert.strictEqual(bearerToken(undefined)._tag, "None")
    const allowed = alwaysAllowed(["/healthz", "livez", "/debug/*", "/"])
    assert.isTrue(allowed("/healthz"))
    assert.isTrue(allowed("/livez"))
    assert.isTrue(allowed("/debug/x/y"))
    assert.isTrue(allowed("/"))
    assert.isFalse(allowed("/healthz/ping"))
    assert.isFalse(allowed("/metrics"))
  })
})
