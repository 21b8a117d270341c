/**
 * Leases for leader-election tests: FakeKubernetes's in-memory LeaseApi (resourceVersions, Conflict on a
 * stale resourceVersion, AlreadyExists on a second create) seen through per-caller fault hooks, so one
 * candidate's calls can fail while another's succeed (FakeKubernetes's own `failNext` is global).
 */
import { Context, Effect, Layer, Option, type Scope } from "effect"
import { KubeApiError } from "../../src/kubernetes/KubeError.js"
import { type Lease, LeaseApi } from "../../src/kubernetes/LeaseApi.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"

export interface InMemoryLeases {
  /** The shared LeaseApi seen by one candidate: every call first runs `fault` (fail it to cut that candidate off). */
  readonly client: (fault?: Effect.Effect<void, KubeApiError>) => LeaseApi["Type"]
  readonly read: (namespace: string, name: string) => Effect.Effect<Option.Option<Lease>>
}

export const unavailable = (verb: KubeApiError["verb"]) =>
  new KubeApiError({ verb, resource: "leases", reason: "Unavailable", status: 503, detail: "injected fault" })

/** Lives as long as the calling scope (the fake Kubernetes with it). */
export const make: Effect.Effect<InMemoryLeases, never, Scope.Scope> = Effect.gen(function*() {
  const context = yield* Layer.build(FakeKubernetes.layer())
  const api = Context.get(context, LeaseApi)
  const fake = Context.get(context, FakeKubernetes.FakeKubernetes)
  const client = (fault: Effect.Effect<void, KubeApiError> = Effect.void): LeaseApi["Type"] => ({
    get: (namespace, name) => Effect.zipRight(fault, api.get(namespace, name)),
    create: (lease) => Effect.zipRight(fault, api.create(lease)),
    update: (lease) => Effect.zipRight(fault, api.update(lease))
  })
  const read = (namespace: string, name: string) =>
    Effect.map(fake.leases, (all) => Option.fromNullable(all.find((l) => l.namespace === namespace && l.name === name)))
  return { client, read }
})
