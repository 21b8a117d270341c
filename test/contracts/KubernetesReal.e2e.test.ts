import * as k8s from "@kubernetes/client-node"
import { DateTime, Effect, Layer } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as KubeClient from "../../src/kubernetes/KubeClient.js"
import * as KubeRequest from "../../src/kubernetes/KubeRequest.js"
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

const READY_REASON = { True: "KubeletReady", False: "KubeletNotReady", Unknown: "NodeStatusUnknown" } as const
const strategicMerge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch)

/** kubelet's status report: a strategic merge patch of nodes/status (conditions merge by type). */
const hooks = Layer.effect(
  ContractHooks,
  Effect.map(KubeClient.KubeClient, (client) =>
    ContractHooks.of({
      compact: Effect.sync(() => server?.compact()),
      setNodeReady: (name, status) =>
        Effect.flatMap(DateTime.now, (now) => {
          const time = DateTime.toDateUtc(now)
          const condition = {
            type: "Ready",
            status,
            reason: READY_REASON[status],
            lastHeartbeatTime: time,
            lastTransitionTime: time
          }
          return KubeRequest.call(
            "patch",
            "nodes/status",
            name,
            () => client.core.patchNodeStatus({ name, body: { status: { conditions: [condition] } } }, strategicMerge)
          )
        })
    }))
)

// Built lazily: the kubeconfig exists only once beforeAll started the server.
const live = Layer.suspend(() => {
  const options = { kubeconfig: server?.kubeconfig ?? "server-not-started" }
  return Layer.merge(KubernetesLive.layer(options), Layer.provide(hooks, KubeClient.layer(options)))
})

kubernetesContract("real kube-apiserver v1.20", live)
