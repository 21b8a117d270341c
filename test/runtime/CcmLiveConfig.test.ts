/**
 * The live backends read the client configuration once: the controllers' client and the secure
 * port's TokenReviews and SubjectAccessReviews share one loaded kubeconfig (counted as reads of the
 * file), unless `--authentication-kubeconfig` / `--authorization-kubeconfig` name their own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Schedule } from "effect"
import fs from "node:fs"
import { afterEach, vi } from "vitest"
import * as Ccm from "../../src/runtime/Ccm.js"
import { writeKubeconfig } from "../fakes/Kubeconfig.js"
import { freePort } from "../fakes/Ports.js"

afterEach(() => {
  vi.restoreAllMocks()
})

/** Runs the CCM (no controllers, plain-HTTP secure port) until its /healthz answers; the kubeconfig reads by path. */
const readsAtStart = (connection: (kubeconfig: string) => Ccm.LiveConnection) =>
  Effect.gen(function*() {
    const kubeconfig = writeKubeconfig("https://127.0.0.1:1", { token: "t" })
    const reads = vi.spyOn(fs, "readFileSync")
    const port = yield* Effect.promise(freePort)
    const running = yield* Effect.fork(Ccm.run({
      cloudConfig: Option.none(),
      backends: Ccm.liveBackends(connection(kubeconfig)),
      settings: {
        controllers: [],
        leaderElection: { ...Ccm.defaults.leaderElection, enabled: false },
        securePort: port,
        bindAddress: "127.0.0.1",
        plainHttp: true
      }
    }))
    yield* Effect.tryPromise(() => fetch(`http://127.0.0.1:${port}/healthz`)).pipe(
      Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo("20 seconds")))
    )
    yield* Fiber.interrupt(running)
    const byPath = new Map<string, number>()
    for (const [path] of reads.mock.calls) byPath.set(String(path), (byPath.get(String(path)) ?? 0) + 1)
    return { kubeconfig, byPath }
  })

describe("Ccm live backends", () => {
  it.live("the kubeconfig is read once for the controllers' client and the secure port's reviews", () =>
    Effect.gen(function*() {
      const { byPath, kubeconfig } = yield* readsAtStart((kubeconfig) => ({ kubeconfig }))
      assert.strictEqual(byPath.get(kubeconfig), 1)
    }))

  it.live("a review kubeconfig of its own is read for it, the main one still once", () =>
    Effect.gen(function*() {
      const own = writeKubeconfig("https://127.0.0.1:2", { token: "r" })
      const { byPath, kubeconfig } = yield* readsAtStart((kubeconfig) => ({
        kubeconfig,
        authenticationKubeconfig: own
      }))
      assert.strictEqual(byPath.get(kubeconfig), 1)
      assert.strictEqual(byPath.get(own), 1)
    }))
})
