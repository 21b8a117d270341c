/**
 * The Kubernetes contract: one suite, parameterised by the layer that provides the Kubernetes
 * Tags, run against FakeKubernetes and against a real kube-apiserver, so the fake cannot drift
 * from the server's behaviour that controllers rely on.
 */
import { assert, layer } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Fiber, type Layer, Option, Random, Ref, Schedule, Stream } from "effect"
import { EndpointSliceApi } from "../../src/kubernetes/EndpointSliceApi.js"
import { EventApi } from "../../src/kubernetes/EventApi.js"
import * as EventRecorder from "../../src/kubernetes/EventRecorder.js"
import * as Informer from "../../src/kubernetes/Informer.js"
import type { KubeApiError } from "../../src/kubernetes/KubeError.js"
import { LeaseApi, microTime } from "../../src/kubernetes/LeaseApi.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import type { NodeView } from "../../src/kubernetes/NodeView.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import type { WatchEvent } from "../../src/kubernetes/WatchEvent.js"
import * as Metrics from "../../src/metrics/Metrics.js"

/** What each variant must offer beyond the API: forgetting history, and kubelet's status report. */
export class ContractHooks extends Context.Tag("test/contracts/ContractHooks")<ContractHooks, {
  /** Compacts the store to its current version: watches from any older version must get 410. */
  readonly compact: Effect.Effect<void>
  /** Writes the Node's Ready condition through nodes/status with a heartbeat, as kubelet does. */
  readonly setNodeReady: (name: string, status: "True" | "False" | "Unknown") => Effect.Effect<unknown, KubeApiError>
}>() {}

export type KubernetesServices = NodeApi | ServiceApi | EndpointSliceApi | EventApi | LeaseApi | ContractHooks

const FINALIZER = "service.kubernetes.io/load-balancer-cleanup"

/** Names unique per test, so the suite can share one real server. */
const unique = (prefix: string) => Effect.map(Random.nextIntBetween(0, 0xffffff), (n) => `${prefix}-${n.toString(36)}`)

const reasonOf = <A, E extends { readonly _tag: string }>(result: Either.Either<A, E>): string =>
  Either.match(result, {
    onLeft: (error) => "reason" in error && typeof error.reason === "string" ? error.reason : error._tag,
    onRight: () => "success"
  })

const someOrFail = <A>(option: Option.Option<A>, what: string): Effect.Effect<A> =>
  Option.match(option, { onNone: () => Effect.dieMessage(`${what} is missing`), onSome: Effect.succeed })

/** The first watch events about `name`, collected until `count` arrived (bounded by a timeout). */
const eventsFor = (stream: Stream.Stream<WatchEvent<NodeView>, KubeApiError>, name: string, count: number) =>
  stream.pipe(
    Stream.filter((event) => event._tag !== "Bookmark" && event.object.metadata.name === name),
    Stream.take(count),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`no ${count} watch events for ${name}`) })
  )

export const kubernetesContract = <E>(name: string, services: Layer.Layer<KubernetesServices, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`Kubernetes contract: ${name}`, (it) => {
    it.effect("creates, reads, lists, updates and deletes a Node", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const nodeName = yield* unique("crud")
        const created = yield* nodes.create({
          name: nodeName,
          labels: { role: "worker" },
          taints: [{ key: "node.cloudprovider.kubernetes.io/uninitialized", value: "true", effect: "NoSchedule" }]
        })
        assert.strictEqual(created.metadata.name, nodeName)
        assert.notStrictEqual(created.metadata.uid, "")
        assert.notStrictEqual(created.metadata.resourceVersion, "")
        assert.strictEqual(created.spec.providerID, "")
        assert.strictEqual(reasonOf(yield* Effect.either(nodes.create({ name: nodeName }))), "AlreadyExists")

        const read = yield* someOrFail(yield* nodes.get(nodeName), "the created Node")
        assert.deepStrictEqual(read.metadata.labels["role"], "worker")
        // The server may add its own taints on create (TaintNodesByCondition adds not-ready).
        assert.isTrue(read.spec.taints.some((t) => t.key === "node.cloudprovider.kubernetes.io/uninitialized"))
        const listed = yield* nodes.list
        assert.isTrue(listed.items.some((node) => node.metadata.name === nodeName))
        assert.notStrictEqual(listed.resourceVersion, "")

        const updated = yield* nodes.update({
          name: nodeName,
          resourceVersion: read.metadata.resourceVersion,
          providerID: "cloudstack:///0b4c0a43-0c8f-4d32-9a1e-9d3f6c1b2a00",
          labels: { role: null, "node.kubernetes.io/instance-type": "Medium" },
          taints: []
        })
        assert.strictEqual(updated.spec.providerID, "cloudstack:///0b4c0a43-0c8f-4d32-9a1e-9d3f6c1b2a00")
        assert.deepStrictEqual(updated.metadata.labels["node.kubernetes.io/instance-type"], "Medium")
        assert.isUndefined(updated.metadata.labels["role"])
        assert.deepStrictEqual(updated.spec.taints, [])
        assert.notStrictEqual(updated.metadata.resourceVersion, read.metadata.resourceVersion)

        assert.strictEqual(
          reasonOf(yield* Effect.either(nodes.delete(nodeName, "00000000-0000-0000-0000-000000000000"))),
          "Conflict"
        )
        assert.isTrue(Option.isSome(yield* nodes.get(nodeName)))
        yield* nodes.delete(nodeName, created.metadata.uid)
        assert.isTrue(Option.isNone(yield* nodes.get(nodeName)))
        assert.strictEqual(reasonOf(yield* Effect.either(nodes.delete(nodeName, created.metadata.uid))), "NotFound")
      }))

    it.effect("rejects a write computed from a stale resourceVersion with Conflict (409)", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const nodeName = yield* unique("occ")
        const created = yield* nodes.create({ name: nodeName })
        const first = yield* nodes.update({
          name: nodeName,
          resourceVersion: created.metadata.resourceVersion,
          labels: { a: "1" }
        })
        const stale = yield* Effect.either(
          nodes.update({ name: nodeName, resourceVersion: created.metadata.resourceVersion, labels: { a: "2" } })
        )
        assert.strictEqual(reasonOf(stale), "Conflict")
        const current = yield* someOrFail(yield* nodes.get(nodeName), "the Node")
        assert.strictEqual(current.metadata.labels["a"], "1")
        const second = yield* nodes.update({
          name: nodeName,
          resourceVersion: first.metadata.resourceVersion,
          labels: { a: "2" }
        })
        assert.strictEqual(second.metadata.labels["a"], "2")
        yield* nodes.delete(nodeName, created.metadata.uid)
      }))

    it.effect("keeps a set providerID immutable (Invalid, 422)", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const nodeName = yield* unique("pid")
        const created = yield* nodes.create({ name: nodeName })
        const set = yield* nodes.update({
          name: nodeName,
          resourceVersion: created.metadata.resourceVersion,
          providerID: "cloudstack:///vm-a"
        })
        const change = yield* Effect.either(
          nodes.update({
            name: nodeName,
            resourceVersion: set.metadata.resourceVersion,
            providerID: "cloudstack:///vm-b"
          })
        )
        assert.strictEqual(reasonOf(change), "Invalid")
        Either.match(change, {
          onLeft: (error) => assert.strictEqual(error.status, 422),
          onRight: () => assert.fail("accepted")
        })
        const same = yield* nodes.update({
          name: nodeName,
          resourceVersion: set.metadata.resourceVersion,
          providerID: "cloudstack:///vm-a"
        })
        assert.strictEqual(same.spec.providerID, "cloudstack:///vm-a")
        yield* nodes.delete(nodeName, created.metadata.uid)
      }))

    it.effect("validates label keys and values (Invalid, 422)", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const nodeName = yield* unique("labels")
        const spaced = yield* Effect.either(
          nodes.create({ name: nodeName, labels: { "node.kubernetes.io/instance-type": "Medium Instance" } })
        )
        assert.strictEqual(reasonOf(spaced), "Invalid")
        const created = yield* nodes.create({
          name: nodeName,
          labels: { "node.kubernetes.io/instance-type": "Medium_Instance-1.0" }
        })
        const tooLong = yield* Effect.either(
          nodes.update({
            name: nodeName,
            resourceVersion: created.metadata.resourceVersion,
            labels: { zone: "z".repeat(64) }
          })
        )
        assert.strictEqual(reasonOf(tooLong), "Invalid")
        const badKey = yield* Effect.either(
          nodes.update({
            name: nodeName,
            resourceVersion: created.metadata.resourceVersion,
            labels: { "Bad_Prefix/zone": "a" }
          })
        )
        assert.strictEqual(reasonOf(badKey), "Invalid")
        const empty = yield* nodes.update({
          name: nodeName,
          resourceVersion: created.metadata.resourceVersion,
          labels: { "example.com/empty": "" }
        })
        assert.strictEqual(empty.metadata.labels["example.com/empty"], "")
        yield* nodes.delete(nodeName, created.metadata.uid)
      }))

    it.effect("separates Node status from spec", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const nodeName = yield* unique("status")
        const created = yield* nodes.create({ name: nodeName, addresses: [{ type: "Hostname", address: nodeName }] })
        const addresses = [{ type: "InternalIP", address: "10.1.1.7" }, { type: "ExternalIP", address: "203.0.113.7" }]
        const patched = yield* nodes.patchStatusAddresses(nodeName, addresses)
        assert.deepStrictEqual(patched.status.addresses, addresses)
        assert.strictEqual(patched.spec.providerID, "")
        // A spec write leaves the status alone.
        const updated = yield* nodes.update({
          name: nodeName,
          resourceVersion: patched.metadata.resourceVersion,
          providerID: "cloudstack:///vm-s"
        })
        assert.deepStrictEqual(updated.status.addresses, addresses)
        // A smaller list replaces the old one (no stale addresses kept by a merge).
        const shrunk = yield* nodes.patchStatusAddresses(nodeName, [{ type: "InternalIP", address: "10.1.1.8" }])
        assert.deepStrictEqual(shrunk.status.addresses, [{ type: "InternalIP", address: "10.1.1.8" }])
        assert.strictEqual(shrunk.spec.providerID, "cloudstack:///vm-s")
        assert.strictEqual(
          reasonOf(yield* Effect.either(nodes.patchStatusAddresses(`${nodeName}-absent`, addresses))),
          "NotFound"
        )
        yield* nodes.delete(nodeName, created.metadata.uid)
      }))

    it.effect("takes kubelet's Ready condition through the status subresource, spec untouched", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const hooks = yield* ContractHooks
        const nodeName = yield* unique("ready")
        const created = yield* nodes.create({
          name: nodeName,
          labels: { role: "worker" },
          taints: [{ key: "node.cloudprovider.kubernetes.io/uninitialized", value: "true", effect: "NoSchedule" }]
        })
        assert.deepStrictEqual(created.status.conditions, [])
        yield* hooks.setNodeReady(nodeName, "True")
        // The status write is one Modified event with a newer version, the spec as it was.
        const [event] = yield* eventsFor(nodes.watch(created.metadata.resourceVersion), nodeName, 1)
        if (event?._tag !== "Modified") return assert.fail(`expected Modified, got ${event?._tag}`)
        assert.isAbove(Number(event.object.metadata.resourceVersion), Number(created.metadata.resourceVersion))
        assert.deepStrictEqual(event.object.spec, created.spec)
        assert.deepStrictEqual(event.object.metadata.labels, created.metadata.labels)
        const ready = event.object.status.conditions.filter((c) => c.type === "Ready")
        assert.deepStrictEqual(ready.map((c) => c.status), ["True"])
        // A later report replaces the Ready condition (merged by type), never adds a second one.
        yield* hooks.setNodeReady(nodeName, "False")
        const after = yield* someOrFail(yield* nodes.get(nodeName), nodeName)
        assert.deepStrictEqual(after.status.conditions.filter((c) => c.type === "Ready").map((c) => c.status), [
          "False"
        ])
        assert.strictEqual(after.spec.providerID, "")
        assert.strictEqual(reasonOf(yield* Effect.either(hooks.setNodeReady(`${nodeName}-absent`, "True"))), "NotFound")
        yield* nodes.delete(nodeName, created.metadata.uid)
      }))

    it.effect("writes Service status through the status subresource, and annotations", () =>
      Effect.gen(function*() {
        const services = yield* ServiceApi
        const name = yield* unique("web")
        const created = yield* services.create({
          namespace: "default",
          name,
          type: "LoadBalancer",
          ports: [{ name: "http", port: 80 }, { name: "https", port: 443, protocol: "TCP" }],
          loadBalancerSourceRanges: ["192.0.2.0/24"]
        })
        assert.strictEqual(created.spec.type, "LoadBalancer")
        assert.deepStrictEqual(created.spec.ports.map((p) => [p.name, p.protocol, p.port]), [["http", "TCP", 80], [
          "https",
          "TCP",
          443
        ]])
        assert.isTrue(created.spec.ports.every((p) => p.nodePort >= 30000 && p.nodePort <= 32767))
        assert.deepStrictEqual(created.spec.loadBalancerSourceRanges, ["192.0.2.0/24"])
        assert.deepStrictEqual(created.status.loadBalancer.ingress, [])

        const withStatus = yield* services.patchStatus("default", name, [{ ip: "203.0.113.10" }])
        assert.deepStrictEqual(withStatus.status.loadBalancer.ingress.map((i) => i.ip), ["203.0.113.10"])
        assert.deepStrictEqual(withStatus.spec.ports, created.spec.ports)
        const annotated = yield* services.patchAnnotations("default", name, {
          "example.com/a": "1",
          "example.com/b": "2"
        })
        assert.strictEqual(annotated.metadata.annotations["example.com/a"], "1")
        const pruned = yield* services.patchAnnotations("default", name, { "example.com/a": null })
        assert.isUndefined(pruned.metadata.annotations["example.com/a"])
        assert.strictEqual(pruned.metadata.annotations["example.com/b"], "2")
        // An annotation write leaves the status alone.
        assert.deepStrictEqual(pruned.status.loadBalancer.ingress.map((i) => i.ip), ["203.0.113.10"])
        const cleared = yield* services.patchStatus("default", name, [])
        assert.deepStrictEqual(cleared.status.loadBalancer.ingress, [])
        yield* services.delete("default", name)
        assert.isTrue(Option.isNone(yield* services.get("default", name)))
      }))

    it.effect("changes a Service's spec: ports keep their node ports, a new port gets one, a ClusterIP has none", () =>
      Effect.gen(function*() {
        const services = yield* ServiceApi
        const name = yield* unique("spec")
        const created = yield* services.create({
          namespace: "default",
          name,
          type: "LoadBalancer",
          ports: [{ name: "http", port: 80 }]
        })
        const nodePort = created.spec.ports[0]?.nodePort ?? 0
        const changed = yield* services.update("default", name, {
          ports: [{ name: "http", port: 80 }, { name: "alt", port: 8080 }],
          loadBalancerIP: "203.0.113.77",
          sessionAffinity: "ClientIP",
          externalTrafficPolicy: "Local"
        })
        assert.deepStrictEqual(changed.spec.ports.map((p) => [p.name, p.protocol, p.port]), [["http", "TCP", 80], [
          "alt",
          "TCP",
          8080
        ]])
        assert.strictEqual(changed.spec.ports[0]?.nodePort, nodePort)
        assert.isTrue((changed.spec.ports[1]?.nodePort ?? 0) >= 30000)
        assert.strictEqual(changed.spec.loadBalancerIP, "203.0.113.77")
        assert.strictEqual(changed.spec.sessionAffinity, "ClientIP")
        assert.strictEqual(changed.spec.externalTrafficPolicy, "Local")
        assert.isTrue(changed.metadata.resourceVersion !== created.metadata.resourceVersion)
        const unset = yield* services.update("default", name, {
          loadBalancerIP: null,
          externalTrafficPolicy: "Cluster"
        })
        assert.isUndefined(unset.spec.loadBalancerIP)
        const clusterIp = yield* services.update("default", name, { type: "ClusterIP" })
        assert.strictEqual(clusterIp.spec.type, "ClusterIP")
        assert.isTrue(clusterIp.spec.ports.every((p) => p.nodePort === 0))
        const missing = yield* Effect.either(services.update("default", `${name}-absent`, { sessionAffinity: "None" }))
        assert.strictEqual(reasonOf(missing), "NotFound")
        yield* services.delete("default", name)
      }))

    it.effect("holds a Service with a finalizer in deletion until the finalizer is removed", () =>
      Effect.gen(function*() {
        const services = yield* ServiceApi
        const name = yield* unique("fin")
        yield* services.create({ namespace: "default", name, type: "LoadBalancer", ports: [{ port: 443 }] })
        const added = yield* someOrFail(yield* services.setFinalizer("default", name, FINALIZER, true), "the Service")
        assert.deepStrictEqual(added.metadata.finalizers, [FINALIZER])
        // Idempotent.
        const again = yield* someOrFail(yield* services.setFinalizer("default", name, FINALIZER, true), "the Service")
        assert.deepStrictEqual(again.metadata.finalizers, [FINALIZER])

        yield* services.delete("default", name)
        const deleting = yield* someOrFail(yield* services.get("default", name), "the deleting Service")
        assert.isDefined(deleting.metadata.deletionTimestamp)
        assert.deepStrictEqual(deleting.metadata.finalizers, [FINALIZER])
        const refused = yield* Effect.either(services.setFinalizer("default", name, "example.com/other", true))
        assert.strictEqual(reasonOf(refused), "Invalid")

        const removed = yield* services.setFinalizer("default", name, FINALIZER, false)
        assert.isTrue(Option.isNone(removed))
        assert.isTrue(Option.isNone(yield* services.get("default", name)))
        assert.isTrue(Option.isNone(yield* services.setFinalizer("default", name, FINALIZER, false)))
      }))

    it.effect("watches Node changes from a list's resourceVersion", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const nodeName = yield* unique("watch")
        const listed = yield* nodes.list
        const created = yield* nodes.create({ name: nodeName })
        const labelled = yield* nodes.update({
          name: nodeName,
          resourceVersion: created.metadata.resourceVersion,
          labels: { w: "1" }
        })
        yield* nodes.delete(nodeName, created.metadata.uid)
        // Everything after the list replays, in order, with increasing versions.
        const events = yield* eventsFor(nodes.watch(listed.resourceVersion), nodeName, 3)
        assert.deepStrictEqual(events.map((e) => e._tag), ["Added", "Modified", "Deleted"])
        const versions = events.flatMap((e) => e._tag === "Bookmark" ? [] : [Number(e.object.metadata.resourceVersion)])
        assert.isTrue(versions.every((v, i) => i === 0 || v > (versions[i - 1] ?? 0)))
        const modified = events[1]
        if (modified?._tag === "Modified") {
          assert.strictEqual(modified.object.metadata.resourceVersion, labelled.metadata.resourceVersion)
        }
      }))

    it.effect("answers Gone (410) to a watch from a compacted resourceVersion, and an informer relists", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const hooks = yield* ContractHooks
        const nodeName = yield* unique("gone")
        const before = yield* nodes.list
        const created = yield* nodes.create({ name: nodeName })
        const first = yield* nodes.update({
          name: nodeName,
          resourceVersion: created.metadata.resourceVersion,
          labels: { g: "1" }
        })
        yield* nodes.update({ name: nodeName, resourceVersion: first.metadata.resourceVersion, labels: { g: "2" } })
        yield* hooks.compact
        const tooOld = yield* Effect.either(
          nodes.watch(before.resourceVersion).pipe(Stream.take(1), Stream.runDrain, Effect.timeout("20 seconds"))
        )
        assert.strictEqual(reasonOf(tooOld), "Gone")

        // An informer whose first list hands out that compacted version must relist and catch up.
        const lists = yield* Ref.make(0)
        const staleFirst: Informer.ListWatch<NodeView> = {
          list: Effect.flatMap(
            Ref.getAndUpdate(lists, (n) => n + 1),
            (n) =>
              Effect.map(
                nodes.list,
                (listed) => n === 0 ? { ...listed, resourceVersion: before.resourceVersion } : listed
              )
          ),
          watch: nodes.watch
        }
        const informer = yield* Informer.make("nodes", staleFirst, {
          backoff: Schedule.spaced("50 millis")
        })
        yield* informer.awaitSynced
        const changes = yield* informer.subscribe
        const seen = yield* changes.pipe(
          Stream.filter((change) => change.object.metadata.name === nodeName && change._tag === "Updated"),
          Stream.take(1),
          Stream.runCollect,
          Effect.fork
        )
        yield* nodes.update({
          name: nodeName,
          resourceVersion: (yield* someOrFail(yield* nodes.get(nodeName), "the Node")).metadata.resourceVersion,
          labels: { g: "3" }
        })
        const updated = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout("20 seconds")))
        assert.strictEqual(updated[0]?.object.metadata.labels["g"], "3")
        assert.isAtLeast(yield* Ref.get(lists), 2)
        yield* nodes.delete(nodeName, created.metadata.uid)
      }).pipe(Effect.scoped))

    it.effect("keeps an informer's cache in step with the server", () =>
      Effect.gen(function*() {
        const nodes = yield* NodeApi
        const nodeName = yield* unique("inf")
        const informer = yield* Informer.make("nodes", nodes)
        yield* informer.awaitSynced.pipe(Effect.timeout("20 seconds"))
        const subscription = yield* informer.subscribe
        const seen = yield* subscription.pipe(
          Stream.filter((change) => change.object.metadata.name === nodeName),
          Stream.take(3),
          Stream.runCollect,
          Effect.fork
        )
        const created = yield* nodes.create({ name: nodeName })
        yield* nodes.update({ name: nodeName, resourceVersion: created.metadata.resourceVersion, labels: { i: "1" } })
        yield* nodes.delete(nodeName, created.metadata.uid)
        const changes = Chunk.toReadonlyArray(yield* Fiber.join(seen).pipe(Effect.timeout("20 seconds")))
        assert.deepStrictEqual(changes.map((c) => c._tag), ["Added", "Updated", "Deleted"])
        assert.isTrue(Option.isNone(yield* informer.get(nodeName)))
      }).pipe(Effect.scoped))

    it.effect("creates, reads and updates Leases with optimistic concurrency", () =>
      Effect.gen(function*() {
        const leases = yield* LeaseApi
        const name = yield* unique("lease")
        assert.isTrue(Option.isNone(yield* leases.get("kube-system", name)))
        const spec = {
          holderIdentity: "host-a_1",
          leaseDurationSeconds: 15,
          acquireTime: microTime(1_790_000_000_123),
          renewTime: microTime(1_790_000_000_123),
          leaseTransitions: 0
        }
        const created = yield* leases.create({ namespace: "kube-system", name, resourceVersion: "", spec })
        assert.strictEqual(created.spec.holderIdentity, "host-a_1")
        assert.strictEqual(created.spec.leaseDurationSeconds, 15)
        assert.strictEqual(
          Date.parse(created.spec.renewTime ?? ""),
          1_790_000_000_123
        )
        const duplicate = yield* Effect.either(
          leases.create({ namespace: "kube-system", name, resourceVersion: "", spec })
        )
        assert.strictEqual(reasonOf(duplicate), "AlreadyExists")

        const renewed = yield* leases.update({ ...created, spec: { ...spec, renewTime: microTime(1_790_000_002_000) } })
        assert.notStrictEqual(renewed.resourceVersion, created.resourceVersion)
        assert.strictEqual(Date.parse(renewed.spec.renewTime ?? ""), 1_790_000_002_000)
        const stale = yield* Effect.either(leases.update({ ...created, spec: { ...spec, holderIdentity: "host-b_2" } }))
        assert.strictEqual(reasonOf(stale), "Conflict")
        const read = yield* someOrFail(yield* leases.get("kube-system", name), "the Lease")
        assert.strictEqual(read.spec.holderIdentity, "host-a_1")
        assert.strictEqual(read.resourceVersion, renewed.resourceVersion)
      }))

    it.scoped("aggregates repeated Events into one with a count", () =>
      Effect.gen(function*() {
        const events = yield* EventApi
        const recorder = yield* EventRecorder.make("contract-test").pipe(Effect.provide(Metrics.layer))
        const name = yield* unique("evt")
        const ref = {
          kind: "Service",
          namespace: "default",
          name,
          uid: "5e1c0de0-0000-4000-a000-000000000001",
          apiVersion: "v1"
        }
        yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no capacity")
        yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no capacity")
        yield* recorder.record(ref, "Warning", "SyncLoadBalancerFailed", "no capacity")
        yield* recorder.record(ref, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
        yield* recorder.flush
        const mine = (yield* events.list("default")).filter((event) => event.involvedObject.name === name)
        const byReason = new Map(mine.map((event) => [event.reason, event]))
        assert.strictEqual(mine.length, 2)
        assert.strictEqual(byReason.get("SyncLoadBalancerFailed")?.count, 3)
        assert.strictEqual(byReason.get("SyncLoadBalancerFailed")?.type, "Warning")
        assert.strictEqual(byReason.get("SyncLoadBalancerFailed")?.source.component, "contract-test")
        assert.strictEqual(byReason.get("EnsuredLoadBalancer")?.count, 1)
        // Node Events live in `default`.
        const nodeRef = { kind: "Node", namespace: "", name: `${name}-node`, uid: "" }
        yield* recorder.record(nodeRef, "Normal", "Synced", "Node synced")
        yield* recorder.flush
        const nodeEvents = (yield* events.list("default")).filter((event) =>
          event.involvedObject.name === `${name}-node`
        )
        assert.deepStrictEqual(nodeEvents.map((e) => [e.involvedObject.kind, e.count]), [["Node", 1]])
      }))

    it.effect("lists EndpointSlices", () =>
      Effect.gen(function*() {
        const slices = yield* EndpointSliceApi
        const listed = yield* slices.list
        assert.notStrictEqual(listed.resourceVersion, "")
        assert.isTrue(listed.items.every((slice) => slice.metadata.name !== ""))
      }))
  })
