import { Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as KubernetesLive from "../../src/kubernetes/KubernetesLive.js"
import { ContractHooks, kubernetesContract } from "./KubernetesContract.js"
import { type RunningApiServer, startRealApiServer } from "./RealApiServer.js"

let server: RunningApiServer | undefined

beforeAll(() => {
  server = startRealApiServer()
}, 120_000)

afterAll(() => {
  server?.stop()
}, 60_000)

// Built lazily: the kubeconfig exists only once beforeAll started the server.
const live = Layer.suspend(() =>
  Layer.merge(
    KubernetesLive.layer({ kubeconfig: server?.kubeconfig ?? "server-not-started" }),
    Layer.succeed(ContractHooks, ContractHooks.of({ compact: Effect.sync(() => server?.compact()) }))
  )
)

kubernetesContract("real kube-apiserver v1.20", live)
