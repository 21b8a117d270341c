import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, LogLevel } from "effect"
import { logLevelOf, runWithTokens } from "../../src/cli/RunCommand.js"

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

  it.effect("bad flags fail with RunFlagsError before anything starts", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runWithTokens(["--cloud-config=/c", "--secure-port=x"]))
      assert.strictEqual(error._tag, "RunFlagsError")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("the cloud-config is validated before Kubernetes is contacted", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runWithTokens(["--cloud-config=/nonexistent/cloud-config", "--kubeconfig=/nonexistent/kubeconfig"]))
      assert.strictEqual(error._tag, "CloudConfigError")
      assert.include(error.message, "/nonexistent/cloud-config")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("an unusable kubeconfig is one typed error naming the problem", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runWithTokens(["--controllers=-*", "--secure-port=0", "--kubeconfig=/nonexistent/kubeconfig"]))
      assert.strictEqual(error._tag, "KubeConfigError")
      assert.include(error.message, "/nonexistent/kubeconfig")
    }).pipe(Effect.provide(NodeContext.layer)))
})
