/**
 * The one place that talks to `@kubernetes/client-node` (1.x): loads the config (in-cluster,
 * kubeconfig, `--master`), builds the typed API clients, and maps every foreign failure
 * (ApiException, fetch/watch errors) to `KubeApiError` exactly once. Resource APIs build on `call`.
 */
import * as k8s from "@kubernetes/client-node"
import { Context, Data, Duration, Effect, Either, Layer, Option, ParseResult, Random, RateLimiter, type Scope, Stream } from "effect"
import { KubeApiError, reasonFromStatus } from "./KubeError.js"
import type { ListResult } from "./WatchEvent.js"
import { WatchEvent } from "./WatchEvent.js"

/** Where the API server is: neither field = in-cluster; `master` overrides the kubeconfig's server. */
export interface KubeConfigOptions {
  readonly kubeconfig?: string | undefined
  readonly master?: string | undefined
}

/** client-go's client-side throttle: `qps` requests per second on average, `burst` at once. */
export interface KubeRateLimit {
  readonly qps: number
  readonly burst: number
}

/** Delays an API request until the client's rate limit admits it. */
export type KubeLimiter = <A, E, R>(request: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** No client-side limit (the default of `layer` without a KubeRateLimit). */
export const unlimited: KubeLimiter = (request) => request

/**
 * A token bucket like client-go's flowcontrol.NewTokenBucketRateLimiter: `burst` tokens, full at
 * start, refilled one every 1/qps s. effect's bucket refills `limit` per `interval`, so that is
 * `burst` per `burst / qps` seconds.
 */
export const makeLimiter = (rate: KubeRateLimit): Effect.Effect<KubeLimiter, never, Scope.Scope> =>
  RateLimiter.make({
    limit: rate.burst,
    interval: Duration.millis(rate.burst * 1000 / rate.qps),
    algorithm: "token-bucket"
  })

export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Kubernetes client configuration: ${this.detail}`
  }
}

export class KubeClient extends Context.Tag("cloudstack-ccm/kubernetes/KubeClient")<KubeClient, {
  readonly config: k8s.KubeConfig
  readonly core: k8s.CoreV1Api
  readonly coordination: k8s.CoordinationV1Api
  /** Generic group/version/plural access, for discovery.k8s.io (v1 or v1beta1 depending on the server). */
  readonly custom: k8s.CustomObjectsApi
  /** The client-side rate limit every request (a list page, a watch's opening) goes through. */
  readonly limit: KubeLimiter
}>() {}

const statusOf = (cause: unknown): number | undefined => {
  if (cause instanceof k8s.ApiException) return cause.code
  // client-node's Watch rejects with an Error carrying `statusCode` for non-200 answers.
  if (cause instanceof Error && "statusCode" in cause && typeof cause.statusCode === "number") return cause.statusCode
  return undefined
}

const detailOf = (cause: unknown): string => {
  if (cause instanceof k8s.ApiException) {
    const body: unknown = cause.body
    if (typeof body === "string") {
      const parsed = Option.liftThrowable((text: string): unknown => JSON.parse(text))(body)
      if (Option.isSome(parsed) && typeof parsed.value === "object" && parsed.value !== null && "message" in parsed.value) {
        return String(parsed.value.message)
      }
      return body.slice(0, 300)
    }
  }
  return cause instanceof Error ? cause.message : String(cause)
}

/** Maps any failure of a client-node call to a KubeApiError, by HTTP status only. */
export const toKubeApiError =
  (verb: KubeApiError["verb"], resource: string, name?: string) => (cause: unknown): KubeApiError => {
    const status = statusOf(cause)
    return new KubeApiError({
      verb,
      resource,
      name,
      reason: status === undefined ? "Transport" : reasonFromStatus(status, verb),
      status,
      detail: detailOf(cause),
      cause
    })
  }

/** Runs one client-node call as a typed, interruptible, spanned effect. */
export const call = <A>(
  verb: KubeApiError["verb"],
  resource: string,
  name: string | undefined,
  f: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, KubeApiError> =>
  Effect.tryPromise({ try: f, catch: toKubeApiError(verb, resource, name) }).pipe(
    Effect.withSpan(`Kubernetes.${verb}`, { attributes: { resource, ...(name === undefined ? {} : { name }) } })
  )

/** `call` through a rate limiter: what resource APIs use, with their client's `limit`. */
export const limitedCall = (limit: KubeLimiter) =>
<A>(
  verb: KubeApiError["verb"],
  resource: string,
  name: string | undefined,
  f: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, KubeApiError> => limit(call(verb, resource, name, f))

/** Reads one object: None when it does not exist, else the decoded view. */
export const readOptional = <A>(
  read: Effect.Effect<unknown, KubeApiError>,
  decode: (input: unknown) => Effect.Effect<A, KubeApiError>
): Effect.Effect<Option.Option<A>, KubeApiError> =>
  read.pipe(
    Effect.flatMap(decode),
    Effect.map(Option.some),
    Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(Option.none<A>()))
  )

/** A watch `ERROR` event carries a Status; its `code` classifies it (410 = Gone). */
export const watchErrorToKubeApiError = (resource: string, status: unknown): KubeApiError => {
  const code = typeof status === "object" && status !== null && "code" in status && typeof status.code === "number"
    ? status.code
    : undefined
  const detail = typeof status === "object" && status !== null && "message" in status ? String(status.message) : "watch error"
  return new KubeApiError({
    verb: "watch",
    resource,
    reason: code === undefined ? "Unknown" : reasonFromStatus(code, "watch"),
    status: code,
    detail
  })
}

/** Loads the client configuration the way client-go's BuildConfigFromFlags does. */
export const loadConfig = (options: KubeConfigOptions): Effect.Effect<k8s.KubeConfig, KubeConfigError> => {
  const master = options.master ?? ""
  const kubeconfig = options.kubeconfig ?? ""
  // client-node refuses plain http unless TLS verification is marked as skipped.
  const plainHttp = master.startsWith("http:")
  const foreign = (f: (config: k8s.KubeConfig) => void) =>
    Effect.try({
      try: () => {
        const config = new k8s.KubeConfig()
        f(config)
        return config
      },
      catch: (cause) => new KubeConfigError({ detail: cause instanceof Error ? cause.message : String(cause), cause })
    })
  if (kubeconfig === "" && master !== "") {
    return foreign((config) =>
      config.loadFromClusterAndUser({ name: "master", server: master, skipTLSVerify: plainHttp }, { name: "anonymous" })
    )
  }
  if (kubeconfig === "" && (process.env["KUBERNETES_SERVICE_HOST"] ?? "") === "") {
    return Effect.fail(
      new KubeConfigError({
        detail: "no API server: pass --kubeconfig or --master, or run in a cluster (KUBERNETES_SERVICE_HOST)"
      })
    )
  }
  const loaded = foreign((config) => kubeconfig === "" ? config.loadFromCluster() : config.loadFromFile(kubeconfig))
  if (master === "") return loaded
  return Effect.flatMap(loaded, (config) => {
    const current = config.getCurrentCluster()
    if (current === null) return Effect.fail(new KubeConfigError({ detail: "the kubeconfig has no current cluster" }))
    return foreign((overridden) =>
      overridden.loadFromOptions({
        clusters: config.clusters.map((cluster) =>
          cluster.name === current.name
            ? { ...cluster, server: master, skipTLSVerify: cluster.skipTLSVerify || plainHttp }
            : cluster
        ),
        users: config.users,
        contexts: config.contexts,
        currentContext: config.currentContext
      })
    )
  })
}

/**
 * client-node 1.x builds a new https.Agent for every call, i.e. a new TLS connection per request.
 * This decorator lets the KubeConfig authenticate each call (tokens may rotate) but reuses the
 * first agent, so calls share keep-alive connections. The agent is per client, never global.
 */
const sharedAgentAuth = (config: k8s.KubeConfig): k8s.SecurityAuthentication => {
  const agents: Array<NonNullable<ReturnType<k8s.RequestContext["getAgent"]>>> = []
  return {
    getName: () => "default",
    applySecurityAuthentication: async (context) => {
      await config.applySecurityAuthentication(context)
      const fresh = context.getAgent()
      const shared = agents[0]
      if (shared !== undefined) context.setAgent(shared)
      else if (fresh !== undefined) agents.push(fresh)
    }
  }
}

const apiClient = <T>(
  server: string,
  auth: k8s.SecurityAuthentication,
  Api: new(configuration: k8s.Configuration) => T
): T =>
  new Api(
    k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(server, {}), authMethods: { default: auth } })
  )

/** A typed client-node API over a loaded configuration (per-call auth, its own keep-alive agent). */
export const typedApi = <T>(
  config: k8s.KubeConfig,
  Api: new(configuration: k8s.Configuration) => T
): Effect.Effect<T, KubeConfigError> => {
  const server = config.getCurrentCluster()?.server
  return server === undefined
    ? Effect.fail(new KubeConfigError({ detail: "the configuration has no current cluster" }))
    : Effect.succeed(apiClient(server, sharedAgentAuth(config), Api))
}

export const make = (
  options: KubeConfigOptions,
  limit: KubeLimiter = unlimited
): Effect.Effect<KubeClient["Type"], KubeConfigError> =>
  Effect.flatMap(loadConfig(options), (config) => {
    const server = config.getCurrentCluster()?.server
    if (server === undefined) return Effect.fail(new KubeConfigError({ detail: "the configuration has no current cluster" }))
    const auth = sharedAgentAuth(config)
    return Effect.succeed(KubeClient.of({
      config,
      core: apiClient(server, auth, k8s.CoreV1Api),
      coordination: apiClient(server, auth, k8s.CoordinationV1Api),
      custom: apiClient(server, auth, k8s.CustomObjectsApi),
      limit
    }))
  })

/** The live client; with `rate`, every request waits for a token of one shared bucket (`--kube-api-qps/-burst`). */
export const layer = (options: KubeConfigOptions, rate?: KubeRateLimit): Layer.Layer<KubeClient, KubeConfigError> =>
  Layer.scoped(
    KubeClient,
    Effect.flatMap(rate === undefined ? Effect.succeed(unlimited) : makeLimiter(rate), (limit) => make(options, limit))
  )

/** Turns a Schema decode failure of a server answer into a KubeApiError (reason Decode). */
export const decodeWith = <A>(
  verb: KubeApiError["verb"],
  resource: string,
  decode: (input: unknown) => Effect.Effect<A, ParseResult.ParseError>
) =>
(input: unknown): Effect.Effect<A, KubeApiError> =>
  Effect.mapError(decode(input), (error) =>
    new KubeApiError({
      verb,
      resource,
      reason: "Decode",
      detail: ParseResult.TreeFormatter.formatErrorSync(error),
      cause: error
    }))

/** A list page as client-node returns it (typed list or raw JSON from CustomObjectsApi). */
interface ListPage {
  readonly items: ReadonlyArray<unknown>
  readonly metadata?: { readonly resourceVersion?: string | undefined; readonly _continue?: string | undefined } | undefined
}

const pageOf = (value: unknown): ListPage | undefined => {
  if (typeof value !== "object" || value === null || !("items" in value) || !Array.isArray(value.items)) return undefined
  const items: ReadonlyArray<unknown> = value.items
  const meta: unknown = "metadata" in value ? value.metadata : undefined
  if (typeof meta !== "object" || meta === null) return { items }
  const resourceVersion = "resourceVersion" in meta && typeof meta.resourceVersion === "string"
    ? meta.resourceVersion
    : undefined
  // Typed lists name it `_continue`, raw JSON `continue`.
  const cont = "_continue" in meta && typeof meta._continue === "string"
    ? meta._continue
    : "continue" in meta && typeof meta.continue === "string"
    ? meta.continue
    : undefined
  return { items, metadata: { resourceVersion, _continue: cont } }
}

/**
 * Objects per list page: bounds the memory of one answer (5,000 Nodes come in 50 pages). A page of
 * kubelet Nodes is ~5 KiB each as JSON, parsed and then copied again by client-node's serializer;
 * 500 per page put the process's peak at ~133 MiB, 100 at ~113 (bench/Memory.bench.ts).
 */
export const LIST_PAGE_SIZE = 100

/**
 * Lists every object, page by page, decoding each page before fetching the next so raw objects
 * never pile up. The snapshot's resourceVersion is the first page's (pages share one snapshot).
 */
export const listAll = <A>(
  resource: string,
  fetchPage: (cont: string | undefined, signal: AbortSignal) => Promise<unknown>,
  decode: (input: unknown) => Effect.Effect<A, ParseResult.ParseError>,
  limit: KubeLimiter = unlimited
): Effect.Effect<ListResult<A>, KubeApiError> =>
  Effect.gen(function*() {
    const items: Array<A> = []
    let resourceVersion = ""
    let cont: string | undefined = undefined
    do {
      const token: string | undefined = cont
      const raw = yield* limit(call("list", resource, undefined, (signal) => fetchPage(token, signal)))
      const page = pageOf(raw)
      if (page === undefined) {
        return yield* new KubeApiError({ verb: "list", resource, reason: "Decode", detail: "the answer is not a list" })
      }
      if (resourceVersion === "") resourceVersion = page.metadata?.resourceVersion ?? ""
      for (const item of page.items) items.push(yield* decodeWith("list", resource, decode)(item))
      cont = page.metadata?._continue === "" ? undefined : page.metadata?._continue
    } while (cont !== undefined)
    return { items, resourceVersion }
  })

const bookmarkVersion = (object: unknown): string =>
  typeof object === "object" && object !== null && "metadata" in object && typeof object.metadata === "object" &&
    object.metadata !== null && "resourceVersion" in object.metadata && typeof object.metadata.resourceVersion === "string"
    ? object.metadata.resourceVersion
    : ""

/**
 * Watches `path` from `resourceVersion` with bookmarks. The stream ends when the server closes the
 * watch (its timeout), fails with reason Gone when the version is too old, and aborts the HTTP
 * request when the consumer stops. Only the request that opens the watch waits for `limit`; its
 * events are never throttled (client-go does the same).
 */
export const watchPath = <A>(
  config: k8s.KubeConfig,
  resource: string,
  path: string,
  resourceVersion: string,
  decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>,
  limit: KubeLimiter = unlimited
): Stream.Stream<WatchEvent<A>, KubeApiError> =>
  // Spread reconnections of many watchers, as client-go does (5 to 10 minutes).
  Stream.unwrap(Effect.map(Random.nextIntBetween(300, 600), (timeoutSeconds) =>
    watchOnce(config, resource, path, resourceVersion, decode, timeoutSeconds, limit).pipe(
      // The server ends a healthy watch after timeoutSeconds (and sends bookmarks meanwhile); silence
      // well beyond that means a dead connection nobody closed.
      Stream.timeoutFail(
        () =>
          new KubeApiError({ verb: "watch", resource, reason: "Transport", detail: "watch silent past its timeout" }),
        Duration.seconds(timeoutSeconds + 60)
      )
    )))

const watchOnce = <A>(
  config: k8s.KubeConfig,
  resource: string,
  path: string,
  resourceVersion: string,
  decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>,
  timeoutSeconds: number,
  limit: KubeLimiter
): Stream.Stream<WatchEvent<A>, KubeApiError> =>
  Stream.asyncScoped<WatchEvent<A>, KubeApiError>((emit) =>
    Effect.gen(function*() {
      const onEvent = (phase: string, object: unknown): void => {
        if (phase === "BOOKMARK") {
          void emit.single(WatchEvent.Bookmark({ resourceVersion: bookmarkVersion(object) }))
          return
        }
        if (phase === "ERROR") {
          void emit.fail(watchErrorToKubeApiError(resource, object))
          return
        }
        const decoded = decode(object)
        if (Either.isLeft(decoded)) {
          void emit.fail(
            new KubeApiError({
              verb: "watch",
              resource,
              reason: "Decode",
              detail: ParseResult.TreeFormatter.formatErrorSync(decoded.left),
              cause: decoded.left
            })
          )
          return
        }
        const event = phase === "ADDED"
          ? WatchEvent.Added({ object: decoded.right })
          : phase === "MODIFIED"
          ? WatchEvent.Modified({ object: decoded.right })
          : WatchEvent.Deleted({ object: decoded.right })
        void emit.single(event)
      }
      const onDone = (error: unknown): void => {
        void (error === null || error === undefined ? emit.end() : emit.fail(toKubeApiError("watch", resource)(error)))
      }
      // The token is taken before the (uninterruptible) acquire, so waiting for it stays interruptible.
      yield* limit(Effect.void)
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () =>
            new k8s.Watch(config).watch(
              path,
              { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
              onEvent,
              onDone
            ),
          catch: toKubeApiError("watch", resource)
        }),
        (controller) => Effect.sync(() => controller.abort())
      )
    }), "unbounded")
