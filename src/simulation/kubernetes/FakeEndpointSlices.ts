/**
 * EndpointSlices of FakeKubernetes: EndpointSliceApi (list, watch) over the shared store, and the
 * put/delete the endpoint-slice controller would do in a real cluster.
 */
import { Effect, HashMap, Option, Ref } from "effect"
import { EndpointSliceApi } from "../../kubernetes/EndpointSliceApi.js"
import type { EndpointSliceView } from "../../kubernetes/EndpointSliceView.js"
import { objectKey } from "../../kubernetes/ObjectMeta.js"
import { WatchEvent } from "../../kubernetes/WatchEvent.js"
import { type FakeStore, withVersion } from "./FakeStore.js"

export const make = (store: FakeStore) => {
  const { state, locked, nextVersion, get, watchOf, listOf, sliceFeed } = store

  const endpointSliceApi = EndpointSliceApi.of({
    list: listOf((s) => s.slices, "endpointslices"),
    watch: watchOf(sliceFeed, "endpointslices")
  })

  const putEndpointSlice = (slice: EndpointSliceView) =>
    locked(Effect.gen(function*() {
      const key = objectKey(slice)
      const existing = yield* get((s) => s.slices, key)
      const version = yield* nextVersion
      const stored: EndpointSliceView = {
        ...slice,
        metadata: {
          ...withVersion(slice.metadata, version),
          uid: Option.match(existing, { onNone: () => slice.metadata.uid, onSome: (e) => e.metadata.uid })
        }
      }
      yield* Ref.update(state, (s) => ({ ...s, slices: HashMap.set(s.slices, key, stored) }))
      yield* sliceFeed.publish(
        version,
        Option.isNone(existing) ? WatchEvent.Added({ object: stored }) : WatchEvent.Modified({ object: stored })
      )
      return stored
    }))

  const deleteEndpointSlice = (namespace: string, name: string) =>
    locked(Effect.gen(function*() {
      const key = `${namespace}/${name}`
      const existing = yield* get((s) => s.slices, key)
      if (Option.isNone(existing)) return
      const version = yield* nextVersion
      yield* Ref.update(state, (s) => ({ ...s, slices: HashMap.remove(s.slices, key) }))
      yield* sliceFeed.publish(
        version,
        WatchEvent.Deleted({ object: { ...existing.value, metadata: withVersion(existing.value.metadata, version) } })
      )
    }))

  return { endpointSliceApi, putEndpointSlice, deleteEndpointSlice }
}
