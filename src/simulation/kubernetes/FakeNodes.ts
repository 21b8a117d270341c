/**
 * Nodes of FakeKubernetes: NodeApi over the shared store (the TaintNodesByCondition not-ready taint
 * on create, 422 on changing a set providerID, status/spec separation, finalizers) and the parts of
 * kubelet and kube-controller-manager the CCM depends on: the Ready condition and its taints.
 */
import { Effect, FiberRef, HashMap, Option, Ref, Schema } from "effect"
import { listPageObserver, NodeApi, type NodeCreate, type NodeUpdate } from "../../kubernetes/NodeApi.js"
import type { NodeAddress, NodeCondition, NodeView, Taint } from "../../kubernetes/NodeView.js"
import { newMeta } from "../../kubernetes/ObjectMeta.js"
import { WatchEvent } from "../../kubernetes/WatchEvent.js"
import { conflict, fail, type FakeStore, labelProblem, mergeMap, notFound, sameJson, withVersion } from "./FakeStore.js"

/** A Node condition's status. */
export type ConditionStatus = "True" | "False" | "Unknown"

/**
 * The Ready condition as kubelet writes it. The fake stores these fields, as the real server does;
 * NodeView keeps only type and status (all the controllers read), so decoded caches stay small.
 */
export const ReportedCondition = Schema.Struct({
  type: Schema.String,
  status: Schema.String,
  reason: Schema.String,
  /** When kubelet last posted the condition. */
  lastHeartbeatTime: Schema.String,
  /** When `status` last changed. */
  lastTransitionTime: Schema.String
})
export type ReportedCondition = typeof ReportedCondition.Type

/** A stored Node's Ready condition with kubelet's reason and times; None before any report. */
export const reportedReady = (node: NodeView): Option.Option<ReportedCondition> =>
  Option.flatMap(
    Option.fromNullable(node.status.conditions.find((c) => c.type === "Ready")),
    Schema.decodeUnknownOption(ReportedCondition)
  )

/** The TaintNodesByCondition admission plugin taints every new Node not-ready until kubelet reports. */
const withNotReadyTaint = (taints: ReadonlyArray<Taint>): ReadonlyArray<Taint> =>
  taints.some((taint) => taint.key === "node.kubernetes.io/not-ready")
    ? taints
    : [...taints, { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }]

const TAINT_NOT_READY = "node.kubernetes.io/not-ready"
const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"

/** kube-controller-manager's NoSchedule taint for a Ready status (doNoScheduleTaintingPass); others kept. */
const conditionTaints = (taints: ReadonlyArray<Taint>, ready: ConditionStatus): ReadonlyArray<Taint> => {
  const wanted = ready === "False" ? TAINT_NOT_READY : ready === "Unknown" ? TAINT_UNREACHABLE : undefined
  const others = taints.filter((t) =>
    !((t.key === TAINT_NOT_READY || t.key === TAINT_UNREACHABLE) && t.effect === "NoSchedule")
  )
  const kept = taints.filter((t) => t.key === wanted && t.effect === "NoSchedule")
  return wanted === undefined ? others : kept.length > 0 ? taints : [...others, { key: wanted, effect: "NoSchedule" }]
}

/** The reason kubelet (True/False) or kube-controller-manager (Unknown) gives a Ready condition. */
const READY_REASON: Record<ConditionStatus, string> = {
  True: "KubeletReady",
  False: "KubeletNotReady",
  Unknown: "NodeStatusUnknown"
}

export const make = (store: FakeStore) => {
  const { state, locked, nextVersion, uid, timestamp, injected, get, watchOf, listOf, nodeFeed } = store

  const storeNode = (node: NodeView, kind: "Added" | "Modified") =>
    Effect.gen(function*() {
      const version = yield* nextVersion
      const stored: NodeView = { ...node, metadata: withVersion(node.metadata, version) }
      yield* Ref.update(state, (s) => ({ ...s, nodes: HashMap.set(s.nodes, stored.metadata.name, stored) }))
      yield* nodeFeed.publish(
        version,
        kind === "Added" ? WatchEvent.Added({ object: stored }) : WatchEvent.Modified({ object: stored })
      )
      return stored
    })

  const removeNode = (node: NodeView) =>
    Effect.gen(function*() {
      const version = yield* nextVersion
      const gone: NodeView = { ...node, metadata: withVersion(node.metadata, version) }
      yield* Ref.update(state, (s) => ({ ...s, nodes: HashMap.remove(s.nodes, node.metadata.name) }))
      yield* nodeFeed.publish(version, WatchEvent.Deleted({ object: gone }))
    })

  const nodeApi = NodeApi.of({
    list: Effect.tap(
      listOf((s) => s.nodes, "nodes"),
      (listed) => Effect.flatMap(FiberRef.get(listPageObserver), (onPage) => onPage(listed.items))
    ),
    watch: watchOf(nodeFeed, "nodes"),
    get: (name) => Effect.zipRight(injected("get", "nodes", name), get((s) => s.nodes, name)),
    create: (input: NodeCreate) =>
      locked(Effect.gen(function*() {
        yield* injected("create", "nodes", input.name)
        if (Option.isSome(yield* get((s) => s.nodes, input.name))) {
          return yield* fail(
            "create",
            "nodes",
            input.name,
            "AlreadyExists",
            409,
            `nodes "${input.name}" already exists`
          )
        }
        const invalid = labelProblem(input.labels ?? {})
        if (invalid !== undefined) {
          return yield* fail(
            "create",
            "nodes",
            input.name,
            "Invalid",
            422,
            `Node "${input.name}" is invalid: ${invalid}`
          )
        }
        const node: NodeView = {
          metadata: {
            ...newMeta({ name: input.name, labels: input.labels ?? {}, annotations: input.annotations ?? {} }),
            uid: yield* uid,
            creationTimestamp: yield* timestamp
          },
          spec: { providerID: input.providerID ?? "", taints: withNotReadyTaint(input.taints ?? []) },
          // Nodes, unlike most objects, keep the status given on create (kubelet registers that way).
          status: { addresses: input.addresses ?? [], conditions: [] }
        }
        return yield* storeNode(node, "Added")
      })),
    update: (change: NodeUpdate) =>
      locked(Effect.gen(function*() {
        yield* injected("patch", "nodes", change.name)
        const found = yield* get((s) => s.nodes, change.name)
        if (Option.isNone(found)) return yield* notFound("patch", "nodes", change.name)
        const node = found.value
        if (node.metadata.resourceVersion !== change.resourceVersion) {
          return yield* conflict("patch", "nodes", change.name)
        }
        const invalid = labelProblem(change.labels ?? {})
        if (invalid !== undefined) {
          return yield* fail(
            "patch",
            "nodes",
            change.name,
            "Invalid",
            422,
            `Node "${change.name}" is invalid: ${invalid}`
          )
        }
        if (
          change.providerID !== undefined && node.spec.providerID !== "" && change.providerID !== node.spec.providerID
        ) {
          return yield* fail(
            "patch",
            "nodes",
            change.name,
            "Invalid",
            422,
            `Node "${change.name}" is invalid: spec.providerID: Forbidden: node updates may not change providerID except from "" to valid`
          )
        }
        const next: NodeView = {
          ...node,
          metadata: change.labels === undefined
            ? node.metadata
            : { ...node.metadata, labels: mergeMap(node.metadata.labels, change.labels) },
          spec: {
            providerID: change.providerID ?? node.spec.providerID,
            taints: change.taints ?? node.spec.taints
          }
        }
        // A patch that changes nothing is not a write: the version stays.
        return sameJson(next, node) ? node : yield* storeNode(next, "Modified")
      })),
    patchStatusAddresses: (name: string, addresses: ReadonlyArray<NodeAddress>) =>
      locked(Effect.gen(function*() {
        yield* injected("patch", "nodes", name)
        const found = yield* get((s) => s.nodes, name)
        if (Option.isNone(found)) return yield* notFound("patch", "nodes/status", name)
        const node = found.value
        const next: NodeView = { ...node, status: { ...node.status, addresses } }
        return sameJson(next, node) ? node : yield* storeNode(next, "Modified")
      })),
    delete: (name: string, expectedUid: string) =>
      locked(Effect.gen(function*() {
        yield* injected("delete", "nodes", name)
        const found = yield* get((s) => s.nodes, name)
        if (Option.isNone(found)) return yield* notFound("delete", "nodes", name)
        const node = found.value
        if (node.metadata.uid !== expectedUid) {
          return yield* fail(
            "delete",
            "nodes",
            name,
            "Conflict",
            409,
            `Precondition failed: UID in precondition: ${expectedUid}, UID in object meta: ${node.metadata.uid}`
          )
        }
        if (node.metadata.finalizers.length > 0) {
          if (node.metadata.deletionTimestamp === undefined) {
            yield* storeNode(
              { ...node, metadata: { ...node.metadata, deletionTimestamp: yield* timestamp } },
              "Modified"
            )
          }
          return
        }
        yield* removeNode(node)
      }))
  })

  const setNodeReady = (name: string, status: ConditionStatus) =>
    locked(Effect.gen(function*() {
      const found = yield* get((s) => s.nodes, name)
      if (Option.isNone(found)) return yield* notFound("patch", "nodes/status", name)
      const node = found.value
      const now = yield* timestamp
      const previous = Option.getOrUndefined(reportedReady(node))
      const ready: ReportedCondition = {
        type: "Ready",
        status,
        reason: READY_REASON[status],
        // "Unknown" is written because heartbeats stopped: the last one stays.
        lastHeartbeatTime: status === "Unknown" ? previous?.lastHeartbeatTime ?? now : now,
        lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : now
      }
      const conditions: ReadonlyArray<NodeCondition> = node.status.conditions.some((c) => c.type === "Ready")
        ? node.status.conditions.map((c) => c.type === "Ready" ? ready : c)
        : [...node.status.conditions, ready]
      const reported = yield* storeNode({ ...node, status: { ...node.status, conditions } }, "Modified")
      const taints = conditionTaints(reported.spec.taints, status)
      return sameJson(taints, reported.spec.taints)
        ? reported
        : yield* storeNode({ ...reported, spec: { ...reported.spec, taints } }, "Modified")
    }))

  return { nodeApi, setNodeReady }
}
