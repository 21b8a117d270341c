/** Leases of FakeKubernetes: LeaseApi (get, create, update with a resourceVersion check) over the shared store. */
import { Effect, HashMap, Option, Ref } from "effect"
import { type Lease, LeaseApi } from "../../kubernetes/LeaseApi.js"
import { conflict, fail, type FakeStore, notFound } from "./FakeStore.js"

export const make = (store: FakeStore) => {
  const { state, locked, nextVersion, injected, get } = store

  const leaseKey = (lease: { readonly namespace: string; readonly name: string }) => `${lease.namespace}/${lease.name}`
  const storeLease = (lease: Lease) =>
    Effect.gen(function*() {
      const version = yield* nextVersion
      const stored: Lease = { ...lease, resourceVersion: String(version) }
      yield* Ref.update(state, (s) => ({ ...s, leases: HashMap.set(s.leases, leaseKey(stored), stored) }))
      return stored
    })
  const leaseApi = LeaseApi.of({
    get: (namespace, name) =>
      Effect.zipRight(injected("get", "leases", name), get((s) => s.leases, `${namespace}/${name}`)),
    create: (lease) =>
      locked(Effect.gen(function*() {
        yield* injected("create", "leases", lease.name)
        if (Option.isSome(yield* get((s) => s.leases, leaseKey(lease)))) {
          return yield* fail(
            "create",
            "leases",
            lease.name,
            "AlreadyExists",
            409,
            `leases.coordination.k8s.io "${lease.name}" already exists`
          )
        }
        return yield* storeLease(lease)
      })),
    update: (lease) =>
      locked(Effect.gen(function*() {
        yield* injected("update", "leases", lease.name)
        const found = yield* get((s) => s.leases, leaseKey(lease))
        if (Option.isNone(found)) return yield* notFound("update", "leases", lease.name)
        if (found.value.resourceVersion !== lease.resourceVersion) {
          return yield* conflict("update", "leases.coordination.k8s.io", lease.name)
        }
        return yield* storeLease(lease)
      }))
  })

  return leaseApi
}
