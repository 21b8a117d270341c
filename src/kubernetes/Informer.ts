/**
 * A client-go style informer: list, then watch from the list's resourceVersion (with bookmarks),
 * relisting with backoff when the watch fails (410 Gone or a broken connection). Keeps a cache of
 * decoded views keyed `namespace/name`, a change stream for handlers, and a has-synced signal.
 */
import { Data, Deferred, Effect, Option, PubSub, Ref, Schedule, type Scope, Stream } from "effect"
import * as AccessReporter from "./AccessReporter.js"
import { brief, type KubeApiError } from "./KubeError.js"
import { type KubeObject, objectKey } from "./ObjectMeta.js"
import type { ListResult, WatchEvent } from "./WatchEvent.js"

/** Anything that can list and watch one resource: NodeApi, ServiceApi, EndpointSliceApi qualify. */
export interface ListWatch<A> {
  readonly list: Effect.Effect<ListResult<A>, KubeApiError>
  readonly watch: (resourceVersion: string) => Stream.Stream<WatchEvent<A>, KubeApiError>
}

/** What handlers see. A relist that finds an object changed yields Updated, gone yields Deleted. */
export type Change<A> = Data.TaggedEnum<{
  Added: { readonly object: A }
  Updated: { readonly previous: A; readonly object: A }
  Deleted: { readonly object: A }
}>
interface ChangeDefinition extends Data.TaggedEnum.WithGenerics<1> {
  readonly taggedEnum: Change<this["A"]>
}
export const Change = Data.taggedEnum<ChangeDefinition>()

export interface Informer<A> {
  /** By cache key: `namespace/name`, or `name` for cluster-scoped objects. */
  readonly get: (key: string) => Effect.Effect<Option.Option<A>>
  /** Every cached object; while the cache is unchanged, the same array. */
  readonly list: Effect.Effect<ReadonlyArray<A>>
  /** Completes once the first list is in the cache (client-go's WaitForCacheSync). */
  readonly awaitSynced: Effect.Effect<void>
  readonly isSynced: Effect.Effect<boolean>
  /** The failure of the last list or watch, None once one succeeded since (health checks). */
  readonly lastError: Effect.Effect<Option.Option<KubeApiError>>
  /**
   * Every object already cached as Added, then each change as it happens: a late subscriber
   * misses nothing (client-go's AddEventHandler). Runs until its consumer stops.
   */
  readonly changes: Stream.Stream<Change<A>>
  /** Like `changes`, but registered when this effect completes (not when the stream starts). */
  readonly subscribe: Effect.Effect<Stream.Stream<Change<A>>, never, Scope.Scope>
  /** The resourceVersion the next watch resumes from (diagnostics and tests). */
  readonly resourceVersion: Effect.Effect<string>
}

export interface InformerOptions<A> {
  /** Delay between failed cycles (list + watch). Default: 1 s doubling to 30 s, jittered, reset after 2 min of health. */
  readonly backoff?: Schedule.Schedule<unknown, KubeApiError>
  /**
   * What the cache keeps of each listed or watched object (default: all of it). The cache holds
   * every object for the life of the process: its users keep only what they read. Handlers and
   * readers see the kept objects.
   */
  readonly keep?: (object: A) => A
}

/** The default relist backoff. */
export const defaultBackoff: Schedule.Schedule<unknown, KubeApiError> = Schedule.exponential("1 second").pipe(
  Schedule.union(Schedule.spaced("30 seconds")),
  Schedule.jittered,
  Schedule.resetAfter("2 minutes")
)

/** The change a relist implies for one key. Pure. */
const relistChanges = <A extends KubeObject>(
  before: ReadonlyMap<string, A>,
  after: ReadonlyMap<string, A>
): ReadonlyArray<Change<A>> => {
  const changes: Array<Change<A>> = []
  for (const [key, object] of after) {
    const previous = before.get(key)
    if (previous === undefined) changes.push(Change.Added({ object }))
    else if (previous.metadata.resourceVersion !== object.metadata.resourceVersion) {
      changes.push(Change.Updated({ previous, object }))
    }
  }
  for (const [key, object] of before) {
    if (!after.has(key)) changes.push(Change.Deleted({ object }))
  }
  return changes
}

/**
 * Starts an informer in the current scope; closing the scope stops its watch. `name` labels logs.
 */
export const make = <A extends KubeObject>(
  name: string,
  source: ListWatch<A>,
  options: InformerOptions<A> = {}
): Effect.Effect<Informer<A>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const keep = options.keep ?? ((object: A) => object)
    // A plain Map, changed in place under the lock (a persistent map costs several times as much per
    // object, for every Node of the cluster); `version` counts its changes.
    const cache = yield* Ref.make(new Map<string, A>())
    const version = yield* Ref.make(0)
    const changed = Ref.update(version, (n) => n + 1)
    const lastVersion = yield* Ref.make("")
    const synced = yield* Deferred.make<void>()
    const lastError = yield* Ref.make(Option.none<KubeApiError>())
    const access = yield* AccessReporter.make(`Informer ${name}`)
    const changes = yield* Effect.acquireRelease(PubSub.unbounded<Change<A>>(), PubSub.shutdown)
    // Cache updates and publications are one step, so a subscriber's snapshot never misses a change.
    const lock = yield* Effect.makeSemaphore(1)

    const replace = (items: ReadonlyArray<A>, resourceVersion: string) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const after = new Map(items.map((item) => [objectKey(item), keep(item)] as const))
        const before = yield* Ref.getAndSet(cache, after)
        yield* changed
        yield* Ref.set(lastVersion, resourceVersion)
        yield* PubSub.publishAll(changes, relistChanges(before, after))
      }))

    const apply = (event: WatchEvent<A>) =>
      lock.withPermits(1)(Effect.gen(function*() {
        if (event._tag === "Bookmark") {
          if (event.resourceVersion !== "") yield* Ref.set(lastVersion, event.resourceVersion)
          return
        }
        const object = keep(event.object)
        const key = objectKey(object)
        yield* Ref.set(lastVersion, object.metadata.resourceVersion)
        const map = yield* Ref.get(cache)
        const previous = map.get(key)
        if (event._tag === "Deleted") {
          yield* Effect.sync(() => map.delete(key))
          yield* changed
          yield* PubSub.publish(changes, Change.Deleted({ object }))
          return
        }
        yield* Effect.sync(() => map.set(key, object))
        yield* changed
        if (previous === undefined) yield* PubSub.publish(changes, Change.Added({ object }))
        else if (previous.metadata.resourceVersion !== object.metadata.resourceVersion) {
          yield* PubSub.publish(changes, Change.Updated({ previous, object }))
        }
      }))

    // A watch that ends normally (server-side timeout) resumes from the last version seen.
    const watchForever = Effect.flatMap(Ref.get(lastVersion), (resourceVersion) =>
      Stream.runForEach(source.watch(resourceVersion), apply)).pipe(Effect.forever)

    const relist = Effect.gen(function*() {
      const listed = yield* source.list
      yield* Ref.set(lastError, Option.none())
      yield* access.succeeded
      yield* replace(listed.items, listed.resourceVersion)
      yield* Deferred.succeed(synced, undefined)
      yield* Effect.logDebug("informer synced").pipe(Effect.annotateLogs({ objects: listed.items.length }))
    })

    // Not one generator: a suspended generator keeps all its locals, so the listed page (every
    // object as first listed: 5,000 Nodes) would live as long as the watch after it.
    const cycle = Effect.zipRight(relist, watchForever).pipe(
      Effect.tapError((error) =>
        Effect.gen(function*() {
          yield* Ref.set(lastError, Option.some(error))
          // 401/403: at Error once per cause (what to check), not a warning per retry.
          const denied = yield* access.failed(error)
          const retry = error.reason === "Gone" || denied
            ? Effect.logDebug(error.reason === "Gone" ? "watch expired, relisting" : "list/watch denied, retrying")
            : Effect.logWarning("watch failed, relisting")
          yield* retry.pipe(Effect.annotateLogs({ error: error.message }))
        })
      )
    )

    yield* cycle.pipe(
      Effect.retry(options.backoff ?? defaultBackoff),
      Effect.annotateLogs({ module: "Informer", informer: name }),
      Effect.forkScoped
    )

    const subscribe = lock.withPermits(1)(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(changes)
      // Copied under the lock: the map changes in place after it is released.
      const snapshot = Array.from((yield* Ref.get(cache)).values())
      return Stream.concat(
        Stream.fromIterable(snapshot).pipe(Stream.map((object) =>
          Change.Added({ object })
        )),
        Stream.fromQueue(subscription)
      )
    }))

    // Readers of an unchanged cache share one array (the service controller's workers each list
    // every Node for each sync). Held weakly: a replaced cache's objects are not kept by it.
    const listed = yield* Ref.make(
      Option.none<{ readonly version: number; readonly items: WeakRef<ReadonlyArray<A>> }>()
    )
    // The version is read first: a change in between only makes the next list build its array again.
    const list = Effect.flatMap(Effect.zip(Ref.get(version), Ref.get(cache)), ([now, map]) =>
      Ref.modify(listed, (last) => {
        const shared = Option.isSome(last) && last.value.version === now ? last.value.items.deref() : undefined
        if (shared !== undefined) {
          return [shared, last] as const
        }
        const items: ReadonlyArray<A> = Array.from(map.values())
        return [items, Option.some({ version: now, items: new WeakRef(items) })] as const
      }))

    return {
      get: (key: string) =>
        Effect.map(Ref.get(cache), (map) =>
          Option.fromNullable(map.get(key))),
      list,
      awaitSynced: Deferred.await(synced),
      isSynced: Deferred.isDone(synced),
      lastError: Ref.get(lastError),
      changes: Stream.unwrapScoped(subscribe),
      subscribe,
      resourceVersion: Ref.get(lastVersion)
    } satisfies Informer<A>
  })

/** Whether a controller's informer has listed once, and if not, why (for its health check). */
export interface SyncStatus {
  readonly synced: boolean
  /** The last list/watch failure, without the server's text. */
  readonly problem: Option.Option<string>
}

/**
 * Tracks the informer a controller obtains inside its `run`: not synced until it was started.
 * `status` never starts an informer itself.
 */
export const makeSyncProbe = Effect.map(
  Ref.make(Option.none<Pick<Informer<unknown>, "isSynced" | "lastError">>()),
  (tracked) => ({
    track: (informer: Pick<Informer<unknown>, "isSynced" | "lastError">) => Ref.set(tracked, Option.some(informer)),
    status: Effect.flatMap(
      Ref.get(tracked),
      Option.match({
        onNone: () => Effect.succeed<SyncStatus>({ synced: false, problem: Option.none() }),
        onSome: (informer) =>
          Effect.zipWith(
            informer.isSynced,
            informer.lastError,
            (synced, error): SyncStatus => ({ synced, problem: Option.map(error, brief) })
          )
      })
    )
  })
)
