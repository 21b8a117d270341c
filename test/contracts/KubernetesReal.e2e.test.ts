import { Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as EndpointSliceApi from "../../src/kubernetes/EndpointSliceApi.js"
import * as EventApi from "../../src/kubernetes/EventApi.js"
import * as KubeClient from "../../src/kubernetes/KubeClient.js"
import * as LeaseApi from "../../src/kubernetes/LeaseApi.js"
import * as NodeApi from "../../src/kubernetes/NodeApi.js"
import * as ServiceApi from "../../src/kubernetes/ServiceApi.js"
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
  Layer.mergeAll(
    NodeApi.layer,
    ServiceApi.layer,
    EndpointSliceApi.layer,
    EventApi.layer,
    LeaseApi.layer,
    Layer.succeed(ContractHooks, ContractHooks.of({ compact: Effect.sync(() => server?.compact()) }))
  ).pipe(Layer.provide(KubeClient.layer({ kubeconfig: server?.kubeconfig ?? "server-not-started" })))
)

kubernetesContract("real kube-apiserver v1.20", live)
