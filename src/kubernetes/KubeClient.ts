/**
 * The Kubernetes client: the typed client-node APIs over one loaded configuration (KubeConfigLoader),
 * all requests over one keep-alive connection (KubeAgent, KubeHttp; Leases over their own), with the
 * rate limits of each kind of caller. Requests go through KubeRequest (`call`, the one mapping of
 * foreign failures to KubeApiError); watches through KubeWatch.
 */
import * as k8s from "@kubernetes/client-node"
import { Context, Effect, Layer } from "effect"
import { keepAliveAuth } from "./KubeAgent.js"
import {
  inlineFiles,
  KubeConfigError,
  type KubeConfigOptions,
  layer as loadedConfig,
  loadConfig,
  LoadedKubeConfig
} from "./KubeConfigLoader.js"
import * as KubeHttp from "./KubeHttp.js"
import { type KubeLimiter, type KubeRateLimit, makeLimiter, makeLimiters, unlimited } from "./KubeRateLimiter.js"

export class KubeClient extends Context.Tag("cloudstack-ccm/kubernetes/KubeClient")<KubeClient, {
  readonly config: k8s.KubeConfig
  readonly core: k8s.CoreV1Api
  /** Leases only (leader election), over a kept-alive connection of its own. */
  readonly coordination: k8s.CoordinationV1Api
  /** Generic group/version/plural access, for discovery.k8s.io (v1 or v1beta1 depending on the server). */
  readonly custom: k8s.CustomObjectsApi
  /** The rate limit of the controllers' requests (gets, writes). */
  readonly limit: KubeLimiter
  /** Events' rate limit: `limit`'s bucket, taken only when no controller request waits for it. */
  readonly eventLimit: KubeLimiter
  /** The rate limit of the informers' list pages and watch openings. */
  readonly informerLimit: KubeLimiter
  /** The rate limit of leader election's Lease requests. */
  readonly leaseLimit: KubeLimiter
}>() {}

const apiClient = <T>(
  server: string,
  auth: k8s.SecurityAuthentication,
  Api: new(configuration: k8s.Configuration) => T
): T =>
  new Api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(server, {}),
      authMethods: { default: auth },
      httpApi: KubeHttp.library
    })
  )

/** The current cluster's server URL of a configuration. */
const serverOf = (config: k8s.KubeConfig): Effect.Effect<string, KubeConfigError> => {
  const server = config.getCurrentCluster()?.server
  return server === undefined
    ? Effect.fail(new KubeConfigError({ detail: "the configuration has no current cluster" }))
    : Effect.succeed(server)
}

/**
 * Typed client-node APIs over a loaded configuration whose files are inlined (`LoadedKubeConfig`):
 * `api(Api)` for each, all over one keep-alive connection of their own, authenticated per call.
 */
export const typedApis = (config: k8s.KubeConfig): Effect.Effect<
  <T>(Api: new(configuration: k8s.Configuration) => T) => T,
  KubeConfigError
> =>
  Effect.map(serverOf(config), (server) => {
    const auth = keepAliveAuth(config)
    return (Api) => apiClient(server, auth, Api)
  })

/** The rate limits of a client, one bucket per kind of caller (client-go: one per clientset). */
export interface KubeLimiters {
  readonly limit: KubeLimiter
  /** Events: `limit`'s bucket, taken only when no controller request waits for it. */
  readonly eventLimit: KubeLimiter
  readonly informerLimit: KubeLimiter
  readonly leaseLimit: KubeLimiter
}

const noLimits: KubeLimiters = {
  limit: unlimited,
  eventLimit: unlimited,
  informerLimit: unlimited,
  leaseLimit: unlimited
}

/**
 * The client: every request (not watches) goes through one keep-alive connection, except leader
 * election's: Leases have a connection of their own, so a renewal never waits behind the
 * controllers' requests (HTTP/1.1 answers one request at a time per connection: a slow list page
 * would hold a renewal past the renew deadline; client-go multiplexes them over HTTP/2).
 */
export const makeFrom = (
  config: k8s.KubeConfig,
  limits: KubeLimiters = noLimits
): Effect.Effect<KubeClient["Type"], KubeConfigError> =>
  Effect.map(serverOf(config), (server) => {
    const auth = keepAliveAuth(config)
    return KubeClient.of({
      config,
      core: apiClient(server, auth, k8s.CoreV1Api),
      coordination: apiClient(server, keepAliveAuth(config), k8s.CoordinationV1Api),
      custom: apiClient(server, auth, k8s.CustomObjectsApi),
      ...limits
    })
  })

/** `makeFrom` over the configuration `options` name, loaded and inlined here. */
export const make = (
  options: KubeConfigOptions,
  limits: KubeLimiters = noLimits
): Effect.Effect<KubeClient["Type"], KubeConfigError> =>
  Effect.flatMap(Effect.flatMap(loadConfig(options), inlineFiles), (config) => makeFrom(config, limits))

/**
 * The live client over the process's loaded configuration. With `rate` (`--kube-api-qps/-burst`), each kind of caller gets its own bucket of
 * that rate, as the Go CCM gives each controller, the shared informers and leader election their
 * own clientset: the controllers' requests (their Events share that bucket but wait while a
 * controller request does), the informers' lists and watch openings, the leader election's Lease
 * requests.
 */
export const layerFrom = (rate?: KubeRateLimit): Layer.Layer<KubeClient, KubeConfigError, LoadedKubeConfig> =>
  Layer.effect(
    KubeClient,
    Effect.flatMap(
      Effect.zip(
        LoadedKubeConfig,
        rate === undefined
          ? Effect.succeed(noLimits)
          : Effect.all({
            controllers: makeLimiters(rate),
            informerLimit: makeLimiter(rate),
            leaseLimit: makeLimiter(rate)
          })
            .pipe(Effect.map(({ controllers, ...others }) => ({
              limit: controllers.limit,
              eventLimit: controllers.background,
              ...others
            })))
      ),
      ([config, limits]) => makeFrom(config, limits)
    )
  )

/** `layerFrom` over the configuration `options` name (loaded for this client alone). */
export const layer = (options: KubeConfigOptions, rate?: KubeRateLimit): Layer.Layer<KubeClient, KubeConfigError> =>
  layerFrom(rate).pipe(Layer.provide(loadedConfig(options)))
