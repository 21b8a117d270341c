import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, LogLevel } from "effect"
import { drainTimeout, logLevelOf, runWithTokens } from "../../src/cli/RunCommand.js"
import { parse } from "../../src/cli/RunFlags.js"

describe("RunCommand", () => {
  it("maps klog verbosity to log levels", () => {
    assert.deepStrictEqual([0, 2, 3, 4, 5, 6, 9].map((v) => logLevelOf(v)._tag), [
      LogLevel.Info._tag,
      LogLevel.Info._tag,
      LogLevel.Info._tag,
      LogLevel.Debug._tag,
      LogLevel.Debug._tag,
      LogLevel.Trace._tag,
      LogLevel.Trace._tag
    ])
  })

  it("the drain on stop fits between the renew deadline and the lease expiry", () => {
    const drain = (tokens: ReadonlyArray<string>) => {
      const parsed = parse(["--controllers=-*", ...tokens])
      if (Either.isLeft(parsed)) return assert.fail(parsed.left.message)
      return Duration.toMillis(drainTimeout(parsed.right.flags))
    }
    assert.strictEqual(drain([]), 2000)
    assert.strictEqual(
      drain(["--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s"]),
      500
    )
    assert.strictEqual(drain(["--leader-elect=false"]), 2000)
  })

  it.effect("bad flags fail with RunFlagsError before anything starts", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runWithTokens(["--cloud-config=/c", "--secure-port=x"]))
      assert.strictEqual(error._tag, "RunFlagsError")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("the cloud-config is validated before Kubernetes is contacted", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        runWithTokens(["--cloud-config=/nonexistent/cloud-config", "--kubeconfig=/nonexistent/kubeconfig"])
      )
      assert.strictEqual(error._tag, "CloudConfigError")
      assert.include(error.message, "/nonexistent/cloud-config")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("an unusable kubeconfig is one typed error naming the problem", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        runWithTokens(["--controllers=-*", "--secure-port=0", "--kubeconfig=/nonexistent/kubeconfig"])
      )
      assert.strictEqual(error._tag, "KubeConfigError")
      assert.include(error.message, "/nonexistent/kubeconfig")
    }).pipe(Effect.provide(NodeContext.layer)))
})
