/**
 * EndpointSlices (discovery.k8s.io), read-only: which nodes back a Service (externalTrafficPolicy
 * Local). Speaks v1, falling back to v1beta1 on servers older than 1.21 (the contract server is 1.20).
 */
import { Context, Effect, Layer, Option, Ref, Schema, Stream } from "effect"
import { decodeEndpointSlice, EndpointSliceView } from "./EndpointSliceView.js"
import { KubeClient } from "./KubeClient.js"
import type { KubeApiError } from "./KubeError.js"
import { LIST_PAGE_SIZE, listAll } from "./KubeRequest.js"
import { watchPath } from "./KubeWatch.js"
import type { ListResult, WatchEvent } from "./WatchEvent.js"

export class EndpointSliceApi extends Context.Tag("cloudstack-ccm/kubernetes/EndpointSliceApi")<EndpointSliceApi, {
  /** All EndpointSlices of all namespaces (paged) and the snapshot's resourceVersion. */
  readonly list: Effect.Effect<ListResult<EndpointSliceView>, KubeApiError>
  /** Changes after `resourceVersion`; fails with reason Gone when that version is too old. */
  readonly watch: (resourceVersion: string) => Stream.Stream<WatchEvent<EndpointSliceView>, KubeApiError>
}>() {}

const group = "discovery.k8s.io"

export const make = Effect.gen(function*() {
  const client = yield* KubeClient
  const version = yield* Ref.make(Option.none<"v1" | "v1beta1">())

  const listVersion = (v: "v1" | "v1beta1") =>
    listAll(
      "endpointslices",
      (cont) =>
        client.custom.listClusterCustomObject({
          group,
          version: v,
          plural: "endpointslices",
          limit: LIST_PAGE_SIZE,
          ...(cont === undefined ? {} : { _continue: cont })
        }),
      decodeEndpointSlice,
      client.informerLimit
    )

  const list = Effect.gen(function*() {
    const known = yield* Ref.get(version)
    if (Option.isSome(known)) return yield* listVersion(known.value)
    const result = yield* listVersion("v1").pipe(
      Effect.tap(() => Ref.set(version, Option.some("v1" as const))),
      Effect.catchIf(
        (error) => error.reason === "NotFound",
        () => listVersion("v1beta1").pipe(Effect.tap(() => Ref.set(version, Option.some("v1beta1" as const))))
      )
    )
    return result
  }).pipe(Effect.withSpan("EndpointSliceApi.list"))

  const watch = (resourceVersion: string) =>
    Stream.unwrap(
      Effect.map(Ref.get(version), (known) =>
        watchPath(
          client.config,
          "endpointslices",
          `/apis/${group}/${Option.getOrElse(known, () => "v1" as const)}/endpointslices`,
          resourceVersion,
          Schema.decodeUnknownEither(EndpointSliceView),
          client.informerLimit
        ))
    )

  return EndpointSliceApi.of({ list, watch })
})

export const layer: Layer.Layer<EndpointSliceApi, never, KubeClient> = Layer.effect(EndpointSliceApi, make)
