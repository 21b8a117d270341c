/**
 * Nodes (core/v1): what the cloud-node and node-lifecycle controllers do to them. Writes that
 * change the spec carry the resourceVersion read (optimistic concurrency); status is written only
 * through the status subresource. The live layer sits here; FakeKubernetes provides the same Tag.
 */
import * as k8s from "@kubernetes/client-node"
import { Context, Effect, FiberRef, Layer, type Option, Schema, type Stream } from "effect"
import { KubeClient } from "./KubeClient.js"
import type { KubeApiError } from "./KubeError.js"
import { decodeWith, limitedCall, LIST_PAGE_SIZE, listAll, readOptional } from "./KubeRequest.js"
import { watchPath } from "./KubeWatch.js"
import { decodeNode, type NodeAddress, NodeView, type Taint } from "./NodeView.js"
import type { ListResult, WatchEvent } from "./WatchEvent.js"

/** A Node to create (tests, demo cluster): kubelet's job in a real cluster. */
export interface NodeCreate {
  readonly name: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  readonly providerID?: string
  readonly taints?: ReadonlyArray<Taint>
  readonly addresses?: ReadonlyArray<NodeAddress>
}

/** A spec/metadata change, applied only if the Node still has `resourceVersion`. */
export interface NodeUpdate {
  readonly name: string
  /** The version the change was computed from; a newer Node makes the update fail with Conflict. */
  readonly resourceVersion: string
  /** Set once: changing an already-set providerID fails with Invalid (HTTP 422). */
  readonly providerID?: string
  /** Labels to set; `null` removes the label. Labels not named are kept. */
  readonly labels?: Readonly<Record<string, string | null>>
  /** Replaces the whole taint list. */
  readonly taints?: ReadonlyArray<Taint>
}

export class NodeApi extends Context.Tag("cloudstack-ccm/kubernetes/NodeApi")<NodeApi, {
  /** All Nodes (paged under the hood) and the snapshot's resourceVersion. */
  readonly list: Effect.Effect<ListResult<NodeView>, KubeApiError>
  /** Changes after `resourceVersion`; fails with reason Gone when that version is too old. */
  readonly watch: (resourceVersion: string) => Stream.Stream<WatchEvent<NodeView>, KubeApiError>
  /** None when the Node does not exist. */
  readonly get: (name: string) => Effect.Effect<Option.Option<NodeView>, KubeApiError>
  /** Fails with AlreadyExists if the name is taken. */
  readonly create: (node: NodeCreate) => Effect.Effect<NodeView, KubeApiError>
  /** Conflict on a stale resourceVersion, Invalid on a providerID change, NotFound if gone. */
  readonly update: (update: NodeUpdate) => Effect.Effect<NodeView, KubeApiError>
  /** Replaces `status.addresses` through the status subresource; the spec is untouched. */
  readonly patchStatusAddresses: (
    name: string,
    addresses: ReadonlyArray<NodeAddress>
  ) => Effect.Effect<NodeView, KubeApiError>
  /** Deletes the Node only if it still has `uid` (else Conflict): never a re-registered namesake. */
  readonly delete: (name: string, uid: string) => Effect.Effect<void, KubeApiError>
}>() {}

/**
 * Sees each page of Nodes a `list` of this fiber decodes, as it arrives (FakeKubernetes: the one
 * page): a caller sets it around its list (`Effect.locally`) to act before the whole list is in, as
 * the node controller starts its VM listing once a page shows an uninitialised Node.
 */
export const listPageObserver = FiberRef.unsafeMake<(nodes: ReadonlyArray<NodeView>) => Effect.Effect<void>>(
  () => Effect.void
)

/**
 * What a `list` of this fiber keeps of each Node, applied as each page is decoded (default: all of
 * it): an informer whose cache keeps part of each Node sets it around its list, so the whole list
 * of full Nodes is never alive at once.
 */
export const listKeep = FiberRef.unsafeMake<(node: NodeView) => NodeView>((node) => node)

/** The merge patch of a NodeUpdate (exported for FakeKubernetes, which applies the same body). */
export const nodeUpdatePatch = (update: NodeUpdate) => ({
  metadata: {
    resourceVersion: update.resourceVersion,
    ...(update.labels === undefined ? {} : { labels: update.labels })
  },
  spec: {
    ...(update.providerID === undefined ? {} : { providerID: update.providerID }),
    ...(update.taints === undefined ? {} : { taints: update.taints })
  }
})

const taintToWire = (taint: Taint): k8s.V1Taint =>
  taint.value === undefined
    ? { key: taint.key, effect: taint.effect }
    : { key: taint.key, value: taint.value, effect: taint.effect }

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)

export const make = Effect.gen(function*() {
  const client = yield* KubeClient
  const call = limitedCall(client.limit)
  const decode = (verb: KubeApiError["verb"], name?: string) => (input: unknown) =>
    decodeWith(verb, name === undefined ? "nodes" : `nodes/${name}`, decodeNode)(input)

  const list = Effect.flatMap(
    Effect.zip(FiberRef.get(listPageObserver), FiberRef.get(listKeep)),
    ([onPage, keep]) =>
      listAll(
        "nodes",
        (cont) => client.core.listNode({ limit: LIST_PAGE_SIZE, ...(cont === undefined ? {} : { _continue: cont }) }),
        decodeNode,
        client.informerLimit,
        onPage,
        keep
      )
  ).pipe(Effect.withSpan("NodeApi.list"))

  const watch = (resourceVersion: string) =>
    watchPath(
      client.config,
      "nodes",
      "/api/v1/nodes",
      resourceVersion,
      Schema.decodeUnknownEither(NodeView),
      client.informerLimit
    )

  const get = Effect.fn("NodeApi.get")((name: string) =>
    readOptional(call("get", "nodes", name, () => client.core.readNode({ name })), decode("get", name))
  )

  const create = Effect.fn("NodeApi.create")(function*(node: NodeCreate) {
    const body: k8s.V1Node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: node.name, labels: { ...node.labels }, annotations: { ...node.annotations } },
      spec: {
        ...(node.providerID === undefined ? {} : { providerID: node.providerID }),
        ...(node.taints === undefined ? {} : { taints: node.taints.map(taintToWire) })
      },
      status: { addresses: (node.addresses ?? []).map((address) => ({ ...address })) }
    }
    const created = yield* call("create", "nodes", node.name, () => client.core.createNode({ body }))
    return yield* decode("create", node.name)(created)
  })

  const update = Effect.fn("NodeApi.update")(function*(change: NodeUpdate) {
    const patched = yield* call(
      "patch",
      "nodes",
      change.name,
      () => client.core.patchNode({ name: change.name, body: nodeUpdatePatch(change) }, mergePatch)
    )
    return yield* decode("patch", change.name)(patched)
  })

  const patchStatusAddresses = Effect.fn("NodeApi.patchStatusAddresses")(
    function*(name: string, addresses: ReadonlyArray<NodeAddress>) {
      // A merge patch replaces the list; a strategic merge would merge by `type` and keep stale IPs.
      const body = { status: { addresses } }
      const patched = yield* call(
        "patch",
        "nodes/status",
        name,
        () => client.core.patchNodeStatus({ name, body }, mergePatch)
      )
      return yield* decode("patch", name)(patched)
    }
  )

  const remove = Effect.fn("NodeApi.delete")(function*(name: string, uid: string) {
    yield* call("delete", "nodes", name, () => client.core.deleteNode({ name, body: { preconditions: { uid } } }))
  })

  return NodeApi.of({ list, watch, get, create, update, patchStatusAddresses, delete: remove })
})

export const layer: Layer.Layer<NodeApi, never, KubeClient> = Layer.effect(NodeApi, make)
