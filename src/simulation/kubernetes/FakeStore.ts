/**
 * The one store behind every resource of FakeKubernetes: the objects, the global resourceVersion
 * counter, the lock that orders writes and watch subscriptions, the watch feeds, injected failures
 * and the API server's errors and validations the resources share. The resources (FakeNodes,
 * FakeServices, ...) own their verbs; this module owns nothing resource-specific.
 */
import { DateTime, Effect, HashMap, Option, Random, Ref, Stream } from "effect"
import type { EndpointSliceView } from "../../kubernetes/EndpointSliceView.js"
import type { EventView } from "../../kubernetes/EventView.js"
import { KubeApiError } from "../../kubernetes/KubeError.js"
import type { Lease } from "../../kubernetes/LeaseApi.js"
import type { NodeView } from "../../kubernetes/NodeView.js"
import type { ObjectMeta } from "../../kubernetes/ObjectMeta.js"
import type { ServiceView } from "../../kubernetes/ServiceView.js"
import * as WatchChannel from "./WatchChannel.js"

export type Verb = KubeApiError["verb"]

/** A failure to inject: the next `times` calls of `verb` on `resource` fail with `reason`. */
export interface InjectedFailure {
  readonly verb: Verb
  readonly resource: "nodes" | "services" | "endpointslices" | "events" | "leases"
  readonly reason: KubeApiError["reason"]
  readonly times?: number
}

export type Resource = InjectedFailure["resource"]

export interface State {
  readonly version: number
  readonly nodes: HashMap.HashMap<string, NodeView>
  readonly services: HashMap.HashMap<string, ServiceView>
  readonly slices: HashMap.HashMap<string, EndpointSliceView>
  readonly events: HashMap.HashMap<string, EventView>
  readonly leases: HashMap.HashMap<string, Lease>
  readonly nextNodePort: number
  readonly failures: ReadonlyArray<InjectedFailure>
}

/** The first resourceVersion handed out; watching from below it is Gone, as on a long-lived server. */
const FIRST_VERSION = 1000

export const fail = (
  verb: Verb,
  resource: string,
  name: string,
  reason: KubeApiError["reason"],
  status: number,
  detail: string
) => new KubeApiError({ verb, resource, name, reason, status, detail })

export const notFound = (verb: Verb, resource: string, name: string) =>
  fail(verb, resource, name, "NotFound", 404, `${resource} "${name}" not found`)

export const conflict = (verb: Verb, resource: string, name: string) =>
  fail(
    verb,
    resource,
    name,
    "Conflict",
    409,
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`
  )

const STATUS_OF_REASON: Partial<Record<KubeApiError["reason"], number>> = {
  NotFound: 404,
  Conflict: 409,
  AlreadyExists: 409,
  Invalid: 422,
  Gone: 410,
  Forbidden: 403,
  Unauthorized: 401,
  Unavailable: 503
}

/** A write that changes nothing is not a write: the version stays. */
export const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** A merge patch of a string map: a `null` value removes the key. */
export const mergeMap = (
  current: Readonly<Record<string, string>>,
  patch: Readonly<Record<string, string | null>>
): Record<string, string> => {
  const next: Record<string, string> = { ...current }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key]
    else next[key] = value
  }
  return next
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** The API server's label validation (metav1validation.ValidateLabels): the first problem, if any. */
export const labelProblem = (labels: Readonly<Record<string, string | null>>): string | undefined => {
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf("/")
    const prefix = slash === -1 ? "" : key.slice(0, slash)
    const name = slash === -1 ? key : key.slice(slash + 1)
    if (
      name.length === 0 || name.length > 63 || !LABEL_NAME.test(name) ||
      (slash !== -1 && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    ) {
      return `metadata.labels: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.'`
    }
    if (value !== null && value !== "" && (value.length > 63 || !LABEL_NAME.test(value))) {
      return `metadata.labels: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`
    }
  }
  return undefined
}

export const withVersion = (meta: ObjectMeta, version: number): ObjectMeta => ({
  ...meta,
  resourceVersion: String(version)
})

export const make = (historyLimit: number) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({
      version: FIRST_VERSION,
      nodes: HashMap.empty(),
      services: HashMap.empty(),
      slices: HashMap.empty(),
      events: HashMap.empty(),
      leases: HashMap.empty(),
      nextNodePort: 30000,
      failures: []
    })
    // One lock orders every write and watch subscription, so versions are published in order.
    const lock = yield* Effect.makeSemaphore(1)
    const nodeFeed = yield* WatchChannel.make<NodeView>("nodes", FIRST_VERSION, historyLimit)
    const serviceFeed = yield* WatchChannel.make<ServiceView>("services", FIRST_VERSION, historyLimit)
    const sliceFeed = yield* WatchChannel.make<EndpointSliceView>("endpointslices", FIRST_VERSION, historyLimit)

    const locked = <A, E, R>(effect: Effect.Effect<A, E, R>) => lock.withPermits(1)(effect)

    const nextVersion = Ref.modify(state, (s) => [s.version + 1, { ...s, version: s.version + 1 }] as const)
    const uid = Effect.gen(function*() {
      const hex = (n: number) => n.toString(16).padStart(8, "0")
      const parts = yield* Effect.all([0, 1, 2, 3].map(() => Random.nextIntBetween(0, 0x7fffffff)))
      const [a = 0, b = 0, c = 0, d = 0] = parts
      const h = `${hex(a)}${hex(b)}${hex(c)}${hex(d)}`
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
    })
    // Kubernetes Time has second precision.
    const timestamp = Effect.map(DateTime.now, (now) => `${DateTime.formatIso(now).slice(0, 19)}Z`)

    /** Consumes an injected failure for (verb, resource), if any. */
    const injected = (verb: Verb, resource: Resource, name: string) =>
      Effect.flatMap(
        Ref.modify(state, (s): readonly [Option.Option<InjectedFailure>, State] => {
          const index = s.failures.findIndex((f) => f.verb === verb && f.resource === resource)
          const found = s.failures[index]
          if (found === undefined) return [Option.none(), s]
          const times = (found.times ?? 1) - 1
          const failures = times <= 0
            ? s.failures.filter((_, i) => i !== index)
            : s.failures.map((f, i) => i === index ? { ...f, times } : f)
          return [Option.some(found), { ...s, failures }]
        }),
        Option.match({
          onNone: () => Effect.void,
          onSome: (f) =>
            Effect.fail(
              new KubeApiError({
                verb,
                resource,
                name,
                reason: f.reason,
                status: STATUS_OF_REASON[f.reason],
                detail: "injected failure"
              })
            )
        })
      )

    const get = <A>(select: (s: State) => HashMap.HashMap<string, A>, key: string) =>
      Effect.map(Ref.get(state), (s) => HashMap.get(select(s), key))

    const watchOf = <A>(feed: WatchChannel.WatchChannel<A>, resource: Resource) => (resourceVersion: string) =>
      Stream.unwrapScoped(
        Effect.zipRight(
          injected("watch", resource, ""),
          locked(Effect.flatMap(Ref.get(state), (s) => feed.subscribe(resourceVersion, s.version)))
        )
      )

    const listOf = <A>(select: (s: State) => HashMap.HashMap<string, A>, resource: Resource) =>
      Effect.zipRight(
        injected("list", resource, ""),
        Effect.map(Ref.get(state), (s) => ({
          items: Array.from(HashMap.values(select(s))),
          resourceVersion: String(s.version)
        }))
      )

    return {
      state,
      locked,
      nextVersion,
      uid,
      timestamp,
      injected,
      get,
      watchOf,
      listOf,
      nodeFeed,
      serviceFeed,
      sliceFeed
    }
  })

/** The store as the resources see it. */
export type FakeStore = Effect.Effect.Success<ReturnType<typeof make>>
