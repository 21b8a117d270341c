/**
 * What stands between one CCM process and the outside worlds in the chaos suite: its link (up,
 * paused: every call waits until the pause ends, as a frozen process or a partition; dead: every
 * call fails at once, so nothing a killed process still runs reaches the world) and the faults of
 * the network and the servers in between, drawn from a seeded Random: CloudStack error answers of
 * every class (refused before they ran), connections refused, resets after the server ran the
 * request, timeouts before or after it ran; Kubernetes 503s and writes whose answer is lost.
 */
import { Clock, Context, Data, Duration, Effect, Layer, Option, Random, Ref, Stream } from "effect"
import { CloudStackTransportError } from "../../src/cloudstack/CloudStackError.js"
import { CloudStackTransport } from "../../src/cloudstack/CloudStackTransport.js"
import { EndpointSliceApi } from "../../src/kubernetes/EndpointSliceApi.js"
import { EventApi } from "../../src/kubernetes/EventApi.js"
import { KubeApiError } from "../../src/kubernetes/KubeError.js"
import { LeaseApi } from "../../src/kubernetes/LeaseApi.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import { injectedError, toRawResponse } from "../../src/simulation/cloudstack/Simulator.js"

export type Link = Data.TaggedEnum<{ Up: {}; Paused: { readonly until: number }; Dead: {} }>
export const Link = Data.taggedEnum<Link>()

/** One CCM process as the outside sees it. */
export interface ProcessLink {
  readonly name: string
  readonly link: Ref.Ref<Link>
  /** Its leader-election identity, learnt from the first Lease it writes. */
  readonly identity: Ref.Ref<Option.Option<string>>
}

export const makeProcessLink = (name: string) =>
  Effect.map(
    Effect.all([Ref.make<Link>(Link.Up()), Ref.make(Option.none<string>())]),
    ([link, identity]) => ({ name, link, identity })
  )

/** Per-call probabilities of the faults between the CCM and its servers. */
export interface LinkFaults {
  /** CloudStack error answers refused before the command ran: code, rate, which commands. */
  readonly apiErrors: ReadonlyArray<
    { readonly code: number; readonly rate: number; readonly commands: "all" | "mutations" | ReadonlyArray<string> }
  >
  /** No connection (the request never reached the server). */
  readonly connect: number
  /** The server ran the request; the connection was reset before the answer. */
  readonly resetAfter: number
  /** No answer within the client's request timeout; the request never ran. */
  readonly timeoutBefore: number
  /** No answer within the client's request timeout; the request ran. */
  readonly timeoutAfter: number
  /** Kubernetes: a 503 before the call ran. */
  readonly kubeUnavailable: number
  /** Kubernetes: a write that happened, whose answer was lost (503). */
  readonly kubeLostWrite: number
}

export const noFaults: LinkFaults = {
  apiErrors: [],
  connect: 0,
  resetAfter: 0,
  timeoutBefore: 0,
  timeoutAfter: 0,
  kubeUnavailable: 0,
  kubeLostWrite: 0
}

/** The harness's knobs, shared by every process's links. */
export interface Network {
  readonly faults: Ref.Ref<LinkFaults>
  /** Seeded: the draws happen in the (deterministic) order of the calls. */
  readonly random: Random.Random
  readonly requestTimeout: Duration.Duration
}

class Dead extends Data.TaggedError("Dead") {}

/** Waits while the link is paused; fails once the process is dead. */
const pass = (process: ProcessLink): Effect.Effect<void, Dead> =>
  Effect.gen(function*() {
    while (true) {
      const link = yield* Ref.get(process.link)
      if (link._tag === "Up") return
      if (link._tag === "Dead") return yield* new Dead()
      const now = yield* Clock.currentTimeMillis
      if (now >= link.until) return
      yield* Effect.sleep(Duration.millis(link.until - now))
    }
  })

const matches = (commands: LinkFaults["apiErrors"][number]["commands"], command: string, method: "GET" | "POST") =>
  commands === "all" || (commands === "mutations" ? method === "POST" : commands.includes(command))

type Draw =
  | { readonly _tag: "Pass" }
  | { readonly _tag: "Api"; readonly code: number }
  | { readonly _tag: "Connect" | "ResetAfter" | "TimeoutBefore" | "TimeoutAfter" }

/** One draw per call; the classes are exclusive, in a fixed order. */
const drawCloudStack = (network: Network, command: string, method: "GET" | "POST") =>
  Effect.gen(function*() {
    const f = yield* Ref.get(network.faults)
    let x = yield* network.random.next
    const take = (rate: number) => {
      if (x < rate) return true
      x -= rate
      return false
    }
    for (const e of f.apiErrors) {
      if (matches(e.commands, command, method) && take(e.rate)) return { _tag: "Api", code: e.code } satisfies Draw
    }
    if (take(f.connect)) return { _tag: "Connect" } satisfies Draw
    if (take(f.resetAfter)) return { _tag: "ResetAfter" } satisfies Draw
    if (take(f.timeoutBefore)) return { _tag: "TimeoutBefore" } satisfies Draw
    if (take(f.timeoutAfter)) return { _tag: "TimeoutAfter" } satisfies Draw
    return { _tag: "Pass" } satisfies Draw
  })

/** The CloudStack transport of one process: its link and the network's faults around `inner`. */
export const cloudStackTransport = (
  inner: CloudStackTransport["Type"],
  process: ProcessLink,
  network: Network
): CloudStackTransport["Type"] =>
  CloudStackTransport.of({
    send: (request) =>
      Effect.gen(function*() {
        const { command } = request
        const refused = new CloudStackTransportError({
          command,
          reason: "Connect",
          detail: "connection refused (chaos)"
        })
        yield* Effect.mapError(pass(process), () => refused)
        const draw = yield* drawCloudStack(network, command, request.method)
        const timeout = Effect.zipRight(
          Effect.sleep(network.requestTimeout),
          Effect.fail(new CloudStackTransportError({ command, reason: "Timeout", detail: "no answer (chaos)" }))
        )
        switch (draw._tag) {
          case "Api":
            return yield* toRawResponse(command, injectedError(command, draw.code))
          case "Connect":
            return yield* Effect.fail(refused)
          case "TimeoutBefore":
            return yield* timeout
          default:
            break
        }
        const answer = yield* inner.send(request)
        if (draw._tag === "ResetAfter") {
          return yield* Effect.fail(
            new CloudStackTransportError({
              command,
              reason: "Reset",
              detail: "connection reset after the request (chaos)"
            })
          )
        }
        if (draw._tag === "TimeoutAfter") return yield* timeout
        return answer
      })
  })

/** The Kubernetes APIs of one process: its link, 503s, lost write answers; watches hold events while paused. */
export const kubernetes = (
  inner: Context.Context<NodeApi | ServiceApi | EndpointSliceApi | EventApi | LeaseApi>,
  process: ProcessLink,
  network: Network,
  /** Called before a Node delete the process sends goes through (the harness checks the VM then). */
  onNodeDelete: (name: string, uid: string) => Effect.Effect<void>
): Layer.Layer<NodeApi | ServiceApi | EndpointSliceApi | EventApi | LeaseApi> => {
  const unreachable = (verb: KubeApiError["verb"], resource: string) =>
    new KubeApiError({ verb, resource, reason: "Transport", detail: "connection refused (chaos)" })
  const unavailable = (verb: KubeApiError["verb"], resource: string) =>
    new KubeApiError({ verb, resource, reason: "Unavailable", status: 503, detail: "service unavailable (chaos)" })
  const call = <A>(
    verb: KubeApiError["verb"],
    resource: string,
    effect: Effect.Effect<A, KubeApiError>,
    write: boolean
  ) =>
    Effect.gen(function*() {
      yield* Effect.mapError(pass(process), () => unreachable(verb, resource))
      const f = yield* Ref.get(network.faults)
      const x = yield* network.random.next
      if (x < f.kubeUnavailable) return yield* Effect.fail(unavailable(verb, resource))
      const result = yield* effect
      if (write && x < f.kubeUnavailable + f.kubeLostWrite) return yield* Effect.fail(unavailable(verb, resource))
      return result
    })
  const read = <A>(verb: KubeApiError["verb"], resource: string, effect: Effect.Effect<A, KubeApiError>) =>
    call(verb, resource, effect, false)
  const write = <A>(verb: KubeApiError["verb"], resource: string, effect: Effect.Effect<A, KubeApiError>) =>
    call(verb, resource, effect, true)
  const watch = <A>(resource: string, stream: Stream.Stream<A, KubeApiError>) =>
    Stream.unwrap(Effect.as(Effect.mapError(pass(process), () => unreachable("watch", resource)), stream)).pipe(
      Stream.tap(() => Effect.mapError(pass(process), () => unreachable("watch", resource)))
    )
  const learn = (holder: string | undefined) =>
    holder === undefined
      ? Effect.void
      : Ref.update(process.identity, (id) => (Option.isSome(id) ? id : Option.some(holder)))

  const nodes = Context.get(inner, NodeApi)
  const services = Context.get(inner, ServiceApi)
  const slices = Context.get(inner, EndpointSliceApi)
  const events = Context.get(inner, EventApi)
  const leases = Context.get(inner, LeaseApi)
  return Layer.succeedContext(
    Context.make(NodeApi, {
      list: read("list", "nodes", nodes.list),
      watch: (rv) => watch("nodes", nodes.watch(rv)),
      get: (name) => read("get", "nodes", nodes.get(name)),
      create: (node) => write("create", "nodes", nodes.create(node)),
      update: (u) => write("patch", "nodes", nodes.update(u)),
      patchStatusAddresses: (name, addresses) => write("patch", "nodes", nodes.patchStatusAddresses(name, addresses)),
      delete: (name, uid) => write("delete", "nodes", Effect.zipRight(onNodeDelete(name, uid), nodes.delete(name, uid)))
    }).pipe(
      Context.add(ServiceApi, {
        list: read("list", "services", services.list),
        watch: (rv) => watch("services", services.watch(rv)),
        get: (ns, name) => read("get", "services", services.get(ns, name)),
        create: (s) => write("create", "services", services.create(s)),
        delete: (ns, name) => write("delete", "services", services.delete(ns, name)),
        patchStatus: (ns, name, ingress) => write("patch", "services", services.patchStatus(ns, name, ingress)),
        setFinalizer: (ns, name, finalizer, present) =>
          write("patch", "services", services.setFinalizer(ns, name, finalizer, present)),
        update: (ns, name, change) => write("patch", "services", services.update(ns, name, change)),
        patchAnnotations: (ns, name, annotations) =>
          write("patch", "services", services.patchAnnotations(ns, name, annotations))
      }),
      Context.add(EndpointSliceApi, {
        list: read("list", "endpointslices", slices.list),
        watch: (rv) => watch("endpointslices", slices.watch(rv))
      }),
      Context.add(EventApi, {
        create: (e) => write("create", "events", events.create(e)),
        bump: (ns, name, count, last) => write("patch", "events", events.bump(ns, name, count, last)),
        list: (ns) => read("list", "events", events.list(ns))
      }),
      Context.add(LeaseApi, {
        get: (ns, name) => read("get", "leases", leases.get(ns, name)),
        create: (lease) =>
          Effect.zipRight(learn(lease.spec.holderIdentity), write("create", "leases", leases.create(lease))),
        update: (lease) =>
          Effect.zipRight(learn(lease.spec.holderIdentity), write("update", "leases", leases.update(lease)))
      })
    )
  )
}
