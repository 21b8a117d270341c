/**
 * The Instances provider (InstancesV2 semantics): resolves Nodes to CloudStack VMs with ONE paginated
 * `listVirtualMachines` per round (never a call per node), confirming by id only providerIDs missing
 * from the listing. It knows nothing of Kubernetes I/O: plain node refs in, plain answers out.
 */
import { Chunk, Clock, Context, Deferred, Duration, Effect, Either, Layer, Option, Ref, Stream } from "effect"
import { CloudStackClient } from "../cloudstack/CloudStackClient.js"
import type { CloudStackError } from "../cloudstack/CloudStackError.js"
import { type InstanceVm, listInstanceVms } from "../cloudstack/commands/VirtualMachines.js"
import { VmId } from "../cloudstack/Ids.js"
import { CloudConfig } from "../config/CloudConfig.js"
import * as InstanceLookup from "./InstanceLookup.js"
import type { ProviderName } from "./ProviderId.js"

export type InstancesError = CloudStackError | InstanceLookup.NodeNotResolvedError

/** Where VMs come from: the full scoped listing and a by-id lookup (None = definitively absent). */
export interface VmSource {
  readonly listAll: Effect.Effect<ReadonlyArray<InstanceVm>, CloudStackError>
  readonly byId: (id: string) => Effect.Effect<Option.Option<InstanceVm>, CloudStackError>
}

export interface InstancesOptions {
  readonly providerName: ProviderName
  /** Configured zone name: name matches only consider VMs in this zone. */
  readonly zone: string | undefined
  /** Configured region label value; the VM's zone name when absent. */
  readonly region: string | undefined
}

export interface ResolveOptions {
  /**
   * Reuse the last complete listing when it is at most this old and it answers every node with a
   * VM. Node initialisation uses it so N nodes joining together cost about ceil(N/500) list calls;
   * existence checks (which may delete Nodes) always list afresh (the default, 0).
   */
  readonly maxAge?: Duration.DurationInput | undefined
}

export class Instances extends Context.Tag("cloudstack-ccm/provider/Instances")<Instances, {
  /**
   * Every node's lookup from one listing (paged, `listall`, `projectid`), plus one by-id call per
   * providerID absent from it. Fails only on CloudStack errors; per-node problems (ambiguous name,
   * foreign providerID) are lookups, turned into errors by the answers below.
   */
  readonly resolve: (
    nodes: ReadonlyArray<InstanceLookup.NodeRef>,
    options?: ResolveOptions
  ) => Effect.Effect<ReadonlyMap<string, InstanceLookup.Lookup>, CloudStackError>
  /**
   * Fetches the VM listing now unless one at most `maxAge` old is cached, so that resolves with that
   * `maxAge` soon after reuse it instead of waiting for a listing of their own (the node controller
   * lists VMs while its informer lists Nodes at start). Resolves with a `maxAge` that arrive while
   * it runs share its outcome: its listing, or its failure (not a second round of retries).
   */
  readonly prefetch: (maxAge: Duration.DurationInput) => Effect.Effect<void, CloudStackError>
  /** False only for a definitive no-such-VM or a Destroyed/Expunging VM; any API error is an error. */
  readonly instanceExists: (node: InstanceLookup.NodeRef) => Effect.Effect<boolean, InstancesError>
  /** True when the VM exists and is Stopped. */
  readonly instanceShutdown: (node: InstanceLookup.NodeRef) => Effect.Effect<boolean, InstancesError>
  /** providerID, instance type, zone, region and addresses of the node's live VM. */
  readonly instanceMetadata: (
    node: InstanceLookup.NodeRef
  ) => Effect.Effect<InstanceLookup.InstanceMetadata, InstancesError>
  readonly options: InstancesOptions
}>() {}

/** details=min,nics,servoff: NICs and the offering name, not the stats/volumes/ISO detail. */
const DETAILS = ["min", "nics", "servoff"] as const

/**
 * VmSource over the typed client. A by-id 431 (UUID resolution: "entity does not exist", classified
 * by errorcode, not text; a real one comes with HTTP status 431) and a well-formed empty answer (a
 * VM the caller cannot see) both mean absent. Anything else is an error, never "absent".
 */
export const vmSourceFromClient = (client: CloudStackClient["Type"]): VmSource => ({
  // Each page compacted as it comes: the whole listing of decoded VMs is never alive at once.
  listAll: Effect.suspend(() => {
    const compact = InstanceLookup.compactor()
    return Effect.map(
      Stream.runCollect(Stream.map(client.stream(listInstanceVms, { details: DETAILS }), compact)),
      Chunk.toReadonlyArray
    )
  }),
  byId: (id) =>
    client.list(listInstanceVms, { id: VmId.make(id), details: DETAILS }).pipe(
      Effect.map((vms) => Option.fromNullable(vms.find((vm) => vm.id === id))),
      Effect.catchIf(
        (error) => error._tag === "CloudStackApiError" && error.errorCode === 431 && error.httpStatus === 431,
        () => Effect.succeed(Option.none<InstanceVm>())
      )
    )
})

interface Listing {
  readonly at: number
  readonly index: InstanceLookup.VmIndex
}

/** The last answer that needed no by-id call: the same nodes against the same listing get it again. */
interface Answered {
  readonly index: InstanceLookup.VmIndex
  readonly nodes: ReadonlyArray<InstanceLookup.NodeRef>
  readonly lookups: ReadonlyMap<string, InstanceLookup.Lookup>
  /** Every lookup `Found`: the listing may answer these nodes again without matching them again. */
  readonly allFound: boolean
}

const sameNodes = (a: ReadonlyArray<InstanceLookup.NodeRef>, b: ReadonlyArray<InstanceLookup.NodeRef>): boolean =>
  a === b || (a.length === b.length && a.every((node, i) => node === b[i]))

/** Builds the provider on any VmSource (the live client, a simulator, a test double). */
export const makeWith = (source: VmSource, options: InstancesOptions) =>
  Effect.gen(function*() {
    const cache = yield* Ref.make<Option.Option<Listing>>(Option.none())
    // Serialises listings: callers arriving during a fetch wait for it and reuse its result.
    const lock = yield* Effect.makeSemaphore(1)
    const answered = yield* Ref.make<Option.Option<Answered>>(Option.none())
    // The prefetch in flight, if any: resolves for initialisation wait for its outcome.
    const prefetching = yield* Ref.make<Option.Option<Deferred.Deferred<void, CloudStackError>>>(Option.none())
    const matchOptions = { zone: options.zone }

    const fetch = Effect.gen(function*() {
      const vms = yield* source.listAll
      const at = yield* Clock.currentTimeMillis
      const listing: Listing = { at, index: InstanceLookup.index(vms, matchOptions) }
      yield* Effect.logDebug("VM listing fetched").pipe(Effect.annotateLogs({ vms: vms.length }))
      return listing
    })

    const allFound = (nodes: ReadonlyArray<InstanceLookup.NodeRef>, index: InstanceLookup.VmIndex) =>
      nodes.every((node) => InstanceLookup.match(node, index)._tag === "Found")

    /** The last answer, if it was for these nodes against `index`. */
    const answeredFor = (nodes: ReadonlyArray<InstanceLookup.NodeRef>, index: InstanceLookup.VmIndex) =>
      Effect.map(Ref.get(answered), Option.filter((last) => last.index === index && sameNodes(last.nodes, nodes)))

    /**
     * The cached index when it may answer `nodes`: at most `maxAge` old and a VM for each. Known from
     * the last answer when it was for the same nodes against it: the drift pass resolves every Node
     * once per Service, and matching them all each time was most of its CPU.
     */
    const reusable = (nodes: ReadonlyArray<InstanceLookup.NodeRef>, maxAge: number) =>
      Effect.gen(function*() {
        const cached = yield* Ref.get(cache)
        const now = yield* Clock.currentTimeMillis
        if (Option.isNone(cached) || maxAge <= 0 || now - cached.value.at > maxAge) return Option.none()
        const index = cached.value.index
        const last = yield* answeredFor(nodes, index)
        const found = Option.match(last, { onNone: () => allFound(nodes, index), onSome: (a) => a.allFound })
        return found ? Option.some(index) : Option.none()
      })

    // The previous listing is let go before the next is fetched: two listings of 5,000 VMs alive at
    // once (and the pages of the new one) were the process's memory peak every minute.
    const refetch = Ref.set(cache, Option.none()).pipe(
      Effect.zipRight(Ref.set(answered, Option.none())),
      Effect.zipRight(fetch),
      Effect.tap((fresh) => Ref.set(cache, Option.some(fresh))),
      Effect.map((fresh) => fresh.index)
    )

    const listing = (nodes: ReadonlyArray<InstanceLookup.NodeRef>, maxAge: number) =>
      lock.withPermits(1)(
        Effect.flatMap(reusable(nodes, maxAge), Option.match({ onSome: Effect.succeed, onNone: () => refetch }))
      )

    const confirm = (match: InstanceLookup.Match): Effect.Effect<InstanceLookup.Lookup, CloudStackError> =>
      match._tag === "Unlisted"
        ? Effect.map(source.byId(match.vmId), (vm) =>
          Option.match(vm, {
            onNone: () => InstanceLookup.Match.Missing(),
            onSome: (found) => InstanceLookup.Match.Found({ vm: found, by: "providerID" })
          }))
        : Effect.succeed(match)

    const resolve = Effect.fn("Instances.resolve")(function*(
      nodes: ReadonlyArray<InstanceLookup.NodeRef>,
      resolveOptions?: ResolveOptions
    ) {
      const result = new Map<string, InstanceLookup.Lookup>()
      if (nodes.length === 0) return result
      const maxAge = Duration.toMillis(Duration.decode(resolveOptions?.maxAge ?? 0))
      if (maxAge > 0) {
        const running = yield* Ref.get(prefetching)
        if (Option.isSome(running)) yield* Deferred.await(running.value)
      }
      const index = yield* listing(nodes, maxAge)
      // The service controller's workers each resolve every Node (the same refs, in the same order):
      // one shared answer instead of a map of thousands of lookups per worker.
      const shared = yield* answeredFor(nodes, index)
      if (Option.isSome(shared)) return shared.value.lookups
      // An answer from an older listing would keep that listing alive.
      if (Option.exists(yield* Ref.get(answered), (last) => last.index !== index)) {
        yield* Ref.set(answered, Option.none())
      }
      // Matched in a plain loop; only unlisted providerIDs need a call each. An effect per Node would
      // cost every caller thousands of objects while it runs (each service worker resolves every Node).
      const unlisted: Array<readonly [string, InstanceLookup.Match]> = []
      for (const node of nodes) {
        const match = InstanceLookup.match(node, index)
        if (match._tag === "Unlisted") unlisted.push([node.name, match])
        else result.set(node.name, match)
      }
      const confirmed = yield* Effect.forEach(unlisted, ([name, match]) =>
        Effect.map(confirm(match), (lookup) => [name, lookup] as const), {
        concurrency: 4
      })
      for (const [name, lookup] of confirmed) {
        result.set(name, lookup)
      }
      if (unlisted.length === 0) {
        const found = [...result.values()].every((lookup) =>
          lookup._tag === "Found"
        )
        yield* Ref.set(answered, Option.some({ index, nodes, lookups: result, allFound: found }))
      }
      yield* Effect.annotateCurrentSpan({ nodes: nodes.length })
      return result
    })

    const one = <A>(
      node: InstanceLookup.NodeRef,
      answer: (name: string, lookup: InstanceLookup.Lookup) => Either.Either<A, InstanceLookup.NodeNotResolvedError>
    ): Effect.Effect<A, InstancesError> =>
      Effect.flatMap(resolve([node]), (lookups) => {
        const lookup = lookups.get(node.name) ?? InstanceLookup.Match.Missing()
        return Either.match(answer(node.name, lookup), { onLeft: Effect.fail, onRight: Effect.succeed })
      })

    return Instances.of({
      resolve,
      prefetch: (maxAge) =>
        Effect.gen(function*() {
          const done = yield* Deferred.make<void, CloudStackError>()
          yield* Ref.set(prefetching, Option.some(done))
          const fetched = yield* Effect.exit(Effect.asVoid(listing([], Duration.toMillis(Duration.decode(maxAge)))))
          yield* Ref.set(prefetching, Option.none())
          yield* Deferred.done(done, fetched)
          return yield* fetched
        }).pipe(Effect.withSpan("Instances.prefetch")),
      instanceExists: (node) => one(node, InstanceLookup.exists).pipe(Effect.withSpan("Instances.instanceExists")),
      instanceShutdown: (node) =>
        one(node, InstanceLookup.shutdown).pipe(Effect.withSpan("Instances.instanceShutdown")),
      instanceMetadata: (node) =>
        one(node, (name, lookup) => InstanceLookup.metadata(name, lookup, options)).pipe(
          Effect.withSpan("Instances.instanceMetadata")
        ),
      options
    })
  })

/** The live provider: the typed client for VMs, zone and region from the cloud-config. */
export const layer = (providerName: ProviderName): Layer.Layer<Instances, never, CloudStackClient | CloudConfig> =>
  Layer.effect(
    Instances,
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const config = yield* CloudConfig
      return yield* makeWith(vmSourceFromClient(client), {
        providerName,
        zone: Option.getOrUndefined(config.zone),
        region: Option.getOrUndefined(config.region)
      })
    })
  )
