/**
 * A Ref-backed LeaseApi for leader-election tests: resourceVersions from a global counter, Conflict on a
 * stale resourceVersion, AlreadyExists on a second create, and a per-caller fault hook so one elector's
 * calls can fail while the other's succeed. Narrow test double; FakeKubernetes is the full twin.
 */
import { Effect, HashMap, Layer, Option, Ref } from "effect"
import { KubeApiError } from "../../src/kubernetes/KubeError.js"
import { type Lease, LeaseApi } from "../../src/kubernetes/LeaseApi.js"

export interface InMemoryLeases {
  readonly store: Ref.Ref<HashMap.HashMap<string, Lease>>
  /** A LeaseApi over the shared store whose calls first run `fault` (fail it to simulate an unreachable apiserver). */
  readonly client: (fault?: Effect.Effect<void, KubeApiError>) => LeaseApi["Type"]
  readonly read: (namespace: string, name: string) => Effect.Effect<Option.Option<Lease>>
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`

export const unavailable = (verb: KubeApiError["verb"]) =>
  new KubeApiError({ verb, resource: "leases", reason: "Unavailable", status: 503, detail: "injected fault" })

export const make: Effect.Effect<InMemoryLeases> = Effect.gen(function*() {
  const store = yield* Ref.make(HashMap.empty<string, Lease>())
  const version = yield* Ref.make(0)
  const nextVersion = Ref.updateAndGet(version, (n) => n + 1).pipe(Effect.map(String))

  const client = (fault: Effect.Effect<void, KubeApiError> = Effect.void): LeaseApi["Type"] => ({
    get: (namespace, name) => fault.pipe(Effect.zipRight(Effect.map(Ref.get(store), HashMap.get(keyOf(namespace, name))))),
    create: (lease) =>
      fault.pipe(
        Effect.zipRight(nextVersion),
        Effect.flatMap((rv) =>
          Ref.modify(store, (m): [Option.Option<Lease>, HashMap.HashMap<string, Lease>] => {
            const key = keyOf(lease.namespace, lease.name)
            if (HashMap.has(m, key)) return [Option.none(), m]
            const stored = { ...lease, resourceVersion: rv }
            return [Option.some(stored), HashMap.set(m, key, stored)]
          })
        ),
        Effect.flatMap(Option.match({
          onNone: () =>
            Effect.fail(new KubeApiError({ verb: "create", resource: "leases", name: lease.name, reason: "AlreadyExists", status: 409, detail: "exists" })),
          onSome: Effect.succeed
        }))
      ),
    update: (lease) =>
      fault.pipe(
        Effect.zipRight(nextVersion),
        Effect.flatMap((rv) =>
          Ref.modify(store, (m): [Option.Option<Lease> | "missing", HashMap.HashMap<string, Lease>] => {
            const key = keyOf(lease.namespace, lease.name)
            const current = HashMap.get(m, key)
            if (Option.isNone(current)) return ["missing", m]
            if (current.value.resourceVersion !== lease.resourceVersion) return [Option.none(), m]
            const stored = { ...lease, resourceVersion: rv }
            return [Option.some(stored), HashMap.set(m, key, stored)]
          })
        ),
        Effect.flatMap((result) =>
          result === "missing"
            ? Effect.fail(new KubeApiError({ verb: "update", resource: "leases", name: lease.name, reason: "NotFound", status: 404, detail: "not found" }))
            : Option.match(result, {
              onNone: () =>
                Effect.fail(new KubeApiError({ verb: "update", resource: "leases", name: lease.name, reason: "Conflict", status: 409, detail: "stale resourceVersion" })),
              onSome: Effect.succeed
            })
        )
      )
  })

  return { store, client, read: (namespace, name) => Effect.map(Ref.get(store), HashMap.get(keyOf(namespace, name))) }
})

/** A LeaseApi layer over a fresh store, for tests that need a single elector. */
export const layer = Layer.effect(LeaseApi, Effect.map(make, (leases) => LeaseApi.of(leases.client())))
