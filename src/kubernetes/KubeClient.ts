/**
 * The one place that talks to `@kubernetes/client-node` (1.x): loads the config (in-cluster,
 * kubeconfig, `--master`), builds the typed API clients (all requests over one keep-alive
 * connection, KubeAgent), and maps every foreign failure (ApiException, fetch/watch errors) to
 * `KubeApiError` exactly once. Resource APIs build on `call`; watches live in KubeWatch.
 */
import * as k8s from "@kubernetes/client-node"
import { readFileSync } from "node:fs"
import { Cause, Clock, Context, Data, Effect, Exit, Layer, Option, ParseResult } from "effect"
import { keepAliveAuth } from "./KubeAgent.js"
import { KubeApiError, reasonFromStatus } from "./KubeError.js"
import { type KubeLimiter, type KubeRateLimit, makeLimiter, unlimited } from "./KubeRateLimiter.js"
import type { ListResult } from "./WatchEvent.js"

/** Where the API server is: neither field = in-cluster; `master` overrides the kubeconfig's server. */
export interface KubeConfigOptions {
  readonly kubeconfig?: string | undefined
  readonly master?: string | undefined
}

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
  /** The rate limit of the controllers' requests (gets, writes, Events). */
  readonly limit: KubeLimiter
  /** The rate limit of the informers' list pages and watch openings. */
  readonly informerLimit: KubeLimiter
  /** The rate limit of leader election's Lease requests. */
  readonly leaseLimit: KubeLimiter
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

/**
 * Logs one request at Trace (`-v=6`, as klog logs each API call): verb, resource, name, status
 * ("ok", the HTTP code, or "transport"), duration. Never headers, so never a token.
 */
const traced = (verb: KubeApiError["verb"], resource: string, name: string | undefined) =>
<A>(request: Effect.Effect<A, KubeApiError>): Effect.Effect<A, KubeApiError> =>
  Effect.flatMap(Clock.currentTimeMillis, (started) =>
    Effect.onExit(request, (exit) =>
      Effect.flatMap(Clock.currentTimeMillis, (ended) =>
        Effect.logTrace("kubernetes request").pipe(
          Effect.annotateLogs({
            verb,
            resource,
            ...(name === undefined ? {} : { name }),
            status: Exit.match(exit, {
              onSuccess: () => "ok",
              onFailure: (cause) =>
                Option.match(Cause.failureOption(cause), {
                  onNone: () => "interrupted",
                  onSome: (error) => error.status === undefined ? error.reason.toLowerCase() : String(error.status)
                })
            }),
            durationMs: ended - started
          })
        ))))

/** Runs one client-node call as a typed, interruptible, spanned effect, logged at Trace. */
export const call = <A>(
  verb: KubeApiError["verb"],
  resource: string,
  name: string | undefined,
  f: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, KubeApiError> =>
  Effect.tryPromise({ try: f, catch: toKubeApiError(verb, resource, name) }).pipe(
    traced(verb, resource, name),
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
 * client-node reads the CA, client certificate and key files again for every request (a sync file
 * read each time); client-go reads them once. A copy of the configuration with those files inlined
 * as data; a file that cannot be read fails here, once, instead of every request later.
 */
export const inlineFiles = (config: k8s.KubeConfig): Effect.Effect<k8s.KubeConfig, KubeConfigError> =>
  Effect.try({
    try: () => {
      const data = (file: string) => readFileSync(file).toString("base64")
      const inlined = new k8s.KubeConfig()
      inlined.loadFromOptions({
        clusters: config.clusters.map(({ caFile, ...cluster }) =>
          caFile === undefined || caFile === "" ? cluster : { ...cluster, caData: data(caFile) }
        ),
        users: config.users.map(({ certFile, keyFile, ...user }) => ({
          ...user,
          ...(certFile === undefined || certFile === "" ? {} : { certData: data(certFile) }),
          ...(keyFile === undefined || keyFile === "" ? {} : { keyData: data(keyFile) })
        })),
        contexts: config.contexts,
        currentContext: config.currentContext
      })
      return inlined
    },
    catch: (cause) => new KubeConfigError({ detail: cause instanceof Error ? cause.message : String(cause), cause })
  })

const apiClient = <T>(
  server: string,
  auth: k8s.SecurityAuthentication,
  Api: new(configuration: k8s.Configuration) => T
): T =>
  new Api(
    k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(server, {}), authMethods: { default: auth } })
  )

/** A typed client-node API over a loaded configuration (per-call auth, its own keep-alive connection; files inlined). */
export const typedApi = <T>(
  config: k8s.KubeConfig,
  Api: new(configuration: k8s.Configuration) => T
): Effect.Effect<T, KubeConfigError> => {
  const server = config.getCurrentCluster()?.server
  return server === undefined
    ? Effect.fail(new KubeConfigError({ detail: "the configuration has no current cluster" }))
    : Effect.map(inlineFiles(config), (inlined) => apiClient(server, keepAliveAuth(inlined), Api))
}

/** The rate limits of a client, one bucket per kind of caller (client-go: one per clientset). */
export interface KubeLimiters {
  readonly limit: KubeLimiter
  readonly informerLimit: KubeLimiter
  readonly leaseLimit: KubeLimiter
}

const noLimits: KubeLimiters = { limit: unlimited, informerLimit: unlimited, leaseLimit: unlimited }

/**
 * The client: every request (not watches) of every API goes through one keep-alive connection.
 */
export const make = (
  options: KubeConfigOptions,
  limits: KubeLimiters = noLimits
): Effect.Effect<KubeClient["Type"], KubeConfigError> =>
  Effect.flatMap(Effect.flatMap(loadConfig(options), inlineFiles), (config) => {
    const server = config.getCurrentCluster()?.server
    if (server === undefined) return Effect.fail(new KubeConfigError({ detail: "the configuration has no current cluster" }))
    const auth = keepAliveAuth(config)
    return Effect.succeed(KubeClient.of({
      config,
      core: apiClient(server, auth, k8s.CoreV1Api),
      coordination: apiClient(server, auth, k8s.CoordinationV1Api),
      custom: apiClient(server, auth, k8s.CustomObjectsApi),
      ...limits
    }))
  })

/**
 * The live client. With `rate` (`--kube-api-qps/-burst`), each kind of caller gets its own bucket of
 * that rate, as the Go CCM gives each controller, the shared informers and leader election their
 * own clientset: the controllers' requests (Events included), the informers' lists and watch
 * openings, the leader election's Lease requests.
 */
export const layer = (options: KubeConfigOptions, rate?: KubeRateLimit): Layer.Layer<KubeClient, KubeConfigError> =>
  Layer.effect(
    KubeClient,
    Effect.flatMap(
      rate === undefined
        ? Effect.succeed(noLimits)
        : Effect.all({ limit: makeLimiter(rate), informerLimit: makeLimiter(rate), leaseLimit: makeLimiter(rate) }),
      (limits) => make(options, limits)
    )
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
 * kubelet Nodes is parsed and then copied again by client-node's serializer, so a smaller page lowers
 * the process's peak (bench/Memory.bench.ts; figures in bench/results).
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
