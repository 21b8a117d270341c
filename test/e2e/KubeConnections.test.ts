/**
 * Connections to the REAL kube-apiserver, counted by a TCP proxy in front of it: every request of
 * every API (Nodes, their status, Events, paged lists) over one kept-alive connection, Leases over
 * one of their own (a renewal never waits behind the controllers' requests), plus one for the
 * informer's watch. client-node alone opens a connection per request.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Effect, Layer, Option, Schedule } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type CountingProxy, kubeconfigVia, serverOf, startCountingProxy } from "../../bench/CountingProxy.js"
import { EventApi } from "../../src/kubernetes/EventApi.js"
import * as EventRecorder from "../../src/kubernetes/EventRecorder.js"
import * as Informer from "../../src/kubernetes/Informer.js"
import * as KubernetesLive from "../../src/kubernetes/KubernetesLive.js"
import { LeaseApi } from "../../src/kubernetes/LeaseApi.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import { type RunningApiServer, startRealApiServer } from "../contracts/RealApiServer.js"

let apiserver: RunningApiServer
let proxy: CountingProxy
let dir = ""

beforeAll(async () => {
  apiserver = startRealApiServer()
  proxy = await startCountingProxy(serverOf(apiserver.kubeconfig))
  dir = mkdtempSync(join(tmpdir(), "ccm-e2e-connections-"))
}, 120_000)

afterAll(async () => {
  await proxy?.close()
  apiserver?.stop()
  if (dir !== "") rmSync(dir, { recursive: true, force: true })
})

const NODES = 120

describe("connections to the real kube-apiserver", () => {
  it.live(
    "one kept-alive connection for all requests, one for the Leases, one for the watch",
    () =>
      Effect.gen(function*() {
        const before = proxy.connections()
        const kubeconfig = kubeconfigVia(apiserver.kubeconfig, proxy, join(dir, "kubeconfig"))
        const live = Layer.merge(KubernetesLive.layer({ kubeconfig }, { qps: 1000, burst: 1000 }), Metrics.layer)
        yield* Effect.gen(function*() {
          const nodes = yield* NodeApi
          const leases = yield* LeaseApi
          const events = yield* EventApi
          const recorder = yield* EventRecorder.make("connections-test")
          const informer = yield* Informer.make("nodes", nodes)
          yield* informer.awaitSynced
          const names = Array.from({ length: NODES }, (_, i) => `conn-${i}`)
          // Concurrent requests queue on the one connection instead of opening more.
          yield* Effect.forEach(names, (name) => nodes.create({ name }), { concurrency: 8, discard: true })
          for (const name of names.slice(0, 20)) {
            const node = yield* nodes.get(name)
            if (Option.isNone(node)) return assert.fail(`${name} missing`)
            const updated = yield* nodes.update({
              name,
              resourceVersion: node.value.metadata.resourceVersion,
              labels: { "x/y": "z" }
            })
            yield* nodes.patchStatusAddresses(updated.metadata.name, [{ type: "InternalIP", address: "10.0.0.1" }])
            yield* recorder.record(
              { kind: "Node", namespace: "", name, uid: node.value.metadata.uid },
              "Normal",
              "Synced",
              "ok"
            )
          }
          yield* recorder.flush
          // Two pages of 100 and the Events list, over the same connection.
          assert.isAtLeast((yield* nodes.list).items.length, NODES)
          assert.isAtLeast((yield* events.list("default")).length, 20)
          const spec = {
            holderIdentity: "a",
            leaseDurationSeconds: 15,
            acquireTime: undefined,
            renewTime: undefined,
            leaseTransitions: 0
          }
          const lease = yield* leases.create({ namespace: "kube-system", name: "conn-test", resourceVersion: "", spec })
          yield* leases.update({ ...lease, spec: { ...spec, holderIdentity: "b" } })
          // The informer saw the writes through its watch.
          const sawWrites = Effect.map(
            informer.get("conn-19"),
            Option.exists((node) => node.metadata.labels["x/y"] === "z")
          )
          yield* sawWrites.pipe(
            Effect.repeat({ until: (seen) => seen, schedule: Schedule.spaced("100 millis") }),
            Effect.timeoutFail({
              duration: "20 seconds",
              onTimeout: () => new Error("the watch did not deliver the writes")
            })
          )
          assert.strictEqual(
            proxy.connections() - before,
            3,
            "one for the requests, one for the Lease requests (leader election), one for the watch"
          )
          assert.strictEqual(proxy.open(), 3)
        }).pipe(Effect.scoped, Effect.provide(live))
      }),
    120_000
  )

  it.live(
    "for comparison, client-node's own agent: a new connection for each request",
    () =>
      Effect.promise(async () => {
        const before = proxy.connections()
        const config = new k8s.KubeConfig()
        config.loadFromFile(kubeconfigVia(apiserver.kubeconfig, proxy, join(dir, "kubeconfig-plain")))
        const core = config.makeApiClient(k8s.CoreV1Api)
        for (let i = 0; i < 5; i++) await core.readNode({ name: `conn-${i}` })
        assert.strictEqual(proxy.connections() - before, 5)
      }),
    60_000
  )
})
