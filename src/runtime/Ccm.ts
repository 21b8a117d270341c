/**
 * The composition root of the controller manager: wires CloudConfig, CloudStack, Kubernetes,
 * Metrics, HealthChecks, the HealthServer and LeaderElection, and runs the enabled controllers under
 * leadership. The CLI's run command, `simulate` and library users all start the CCM here. Owns
 * wiring only: no controller logic, no flag parsing, no file reading.
 */
import { Effect, Fiber, Layer, Option, Scope } from "effect"
import * as CloudStackClient from "../cloudstack/CloudStackClient.js"
import type { CloudStackTransport } from "../cloudstack/CloudStackTransport.js"
import * as HttpTransport from "../cloudstack/HttpTransport.js"
import { CloudConfig, type CloudConfigShape } from "../config/CloudConfig.js"
import * as CachedViews from "../controllers/CachedViews.js"
import * as NodeController from "../controllers/NodeController.js"
import * as NodeLifecycleController from "../controllers/NodeLifecycleController.js"
import * as ServiceController from "../controllers/ServiceController.js"
import * as AccessReviewApi from "../kubernetes/AccessReviewApi.js"
import * as Informer from "../kubernetes/Informer.js"
import * as KubeConfigLoader from "../kubernetes/KubeConfigLoader.js"
import * as KubernetesLive from "../kubernetes/KubernetesLive.js"
import * as NodeApi from "../kubernetes/NodeApi.js"
import type { NodeView } from "../kubernetes/NodeView.js"
import * as Metrics from "../metrics/Metrics.js"
import * as Instances from "../provider/Instances.js"
import * as LoadBalancers from "../provider/loadbalancer/LoadBalancers.js"
import { type CcmSettings, type ControllerName, defaults, drainTimeout } from "./CcmSettings.js"
import * as ControllerManager from "./ControllerManager.js"
import * as DelegatedAuth from "./DelegatedAuth.js"
import * as HealthChecks from "./HealthChecks.js"
import * as HealthServer from "./HealthServer.js"
import * as LeaderElection from "./LeaderElection.js"

export { type CcmSettings, type ControllerName, defaults, drainTimeout }

/**
 * The two outside worlds of the CCM: live ones (`liveBackends`), or simulated ones (FakeKubernetes,
 * the CloudStack simulator from `cloudstack-ccm/testing`) for `simulate` and tests.
 */
export interface Backends<E1, E2> {
  readonly kubernetes: Layer.Layer<KubernetesLive.KubernetesServices, E1>
  readonly cloudStackTransport: Layer.Layer<CloudStackTransport, E2, CloudConfig | Metrics.Metrics>
  /**
   * TokenReviews and SubjectAccessReviews for the secure port. Absent (simulated backends): only
   * the always-allow paths are served, to anonymous requests, as the k8s CCM without a kubeconfig.
   */
  readonly accessReview?: Layer.Layer<AccessReviewApi.AccessReviewApi, KubeConfigLoader.KubeConfigError> | undefined
}

/** Where the live backends connect; every field optional (in-cluster configuration, client-go's rate). */
export interface LiveConnection {
  /** A kubeconfig path; absent = in-cluster configuration. */
  readonly kubeconfig?: string | undefined
  /** The API server URL, overriding the kubeconfig's. */
  readonly master?: string | undefined
  /** Kubernetes client requests per second (default 20) and burst (default 30). */
  readonly qps?: number | undefined
  readonly burst?: number | undefined
  /** Where the secure port's TokenReviews / SubjectAccessReviews go; absent = the main client's. */
  readonly authenticationKubeconfig?: string | undefined
  readonly authorizationKubeconfig?: string | undefined
}

/**
 * The real API server (client-node) and CloudStack over HTTP. The client configuration is loaded
 * once, for the controllers' client and the secure port's reviews alike (unless those name their
 * own kubeconfig).
 */
export const liveBackends = (connection: LiveConnection = {}): Backends<KubeConfigLoader.KubeConfigError, never> => {
  const loaded = KubeConfigLoader.layer({ kubeconfig: connection.kubeconfig, master: connection.master })
  const review = (kubeconfig: string | undefined) => kubeconfig === undefined ? undefined : { kubeconfig }
  return {
    kubernetes: KubernetesLive.layerFrom({ qps: connection.qps ?? 20, burst: connection.burst ?? 30 }).pipe(
      Layer.provide(loaded)
    ),
    cloudStackTransport: HttpTransport.layer,
    accessReview: AccessReviewApi.layer({
      authentication: review(connection.authenticationKubeconfig),
      authorization: review(connection.authorizationKubeconfig)
    }).pipe(Layer.provide(loaded))
  }
}

export interface CcmOptions<E1, E2> {
  /** The validated cloud-config (`CloudConfigFile.load`); None only when no enabled controller needs CloudStack. */
  readonly cloudConfig: Option.Option<CloudConfigShape>
  readonly backends: Backends<E1, E2>
  /** Over `defaults` (the k8s CCM's flag defaults). */
  readonly settings?: Partial<CcmSettings> | undefined
}

/**
 * The secure port (HealthServer) behind its access guard: delegated to the API server, or the
 * always-allow paths only. The reviews' layer is built with the others (`services`), so a
 * configuration layer both use is loaded once.
 */
const serving = (settings: CcmSettings, review: Backends<unknown, unknown>["accessReview"]) => {
  const server = (access: DelegatedAuth.AccessGuard) =>
    HealthServer.layerStarting({
      bindAddress: settings.bindAddress,
      port: settings.securePort,
      plainHttp: settings.plainHttp,
      tls: Option.zipWith(
        settings.tlsCertFile,
        settings.tlsPrivateKeyFile,
        (certFile, keyFile) => ({ certFile, keyFile })
      ),
      access
    })
  return review === undefined
    ? server(DelegatedAuth.pathsOnly(settings.delegatedAuth.alwaysAllowPaths))
    : Layer.unwrapEffect(Effect.map(DelegatedAuth.make(settings.delegatedAuth), server)).pipe(Layer.provide(review))
}

/** CloudStack for the controllers: the validated cloud-config, a transport, the typed client, Instances, LoadBalancers. */
const cloudLayer = <E2>(
  settings: CcmSettings,
  config: CloudConfigShape,
  transport: Backends<unknown, E2>["cloudStackTransport"]
) =>
  LoadBalancers.layer({ clusterName: settings.clusterName, tags: settings.lbOwnershipTags }).pipe(
    Layer.provideMerge(Instances.layer(settings.cloudProvider)),
    Layer.provideMerge(CloudStackClient.layer),
    Layer.provide(transport),
    Layer.provideMerge(Layer.succeed(CloudConfig, config))
  )

/** Builds the enabled controllers (names as k8s: also their health check names). */
const buildControllers = (settings: CcmSettings, nodeInformer: Effect.Effect<Informer.Informer<NodeView>>) =>
  Effect.forEach(settings.controllers, (name: ControllerName): Effect.Effect<
    ControllerManager.Controller,
    never,
    NodeController.NodeControllerRequirements | ServiceController.ServiceControllerRequirements
  > => {
    const as = (c: Omit<ControllerManager.Controller, "name">): ControllerManager.Controller => ({
      name,
      run: c.run,
      informerSync: c.informerSync
    })
    switch (name) {
      case "cloud-node-controller":
        return Effect.map(
          NodeController.make({
            workers: settings.concurrentNodeSyncs,
            statusUpdateFrequency: settings.nodeStatusUpdateFrequency,
            drainTimeout: drainTimeout(settings),
            initListingMaxAge: settings.initListingMaxAge,
            informer: nodeInformer
          }),
          as
        )
      case "cloud-node-lifecycle-controller":
        return Effect.map(
          NodeLifecycleController.make({ monitorPeriod: settings.nodeMonitorPeriod, informer: nodeInformer }),
          as
        )
      case "service-lb-controller":
        return Effect.map(
          ServiceController.make({
            workers: settings.concurrentServiceSyncs,
            resyncPeriod: settings.lbResyncPeriod,
            drainTimeout: drainTimeout(settings),
            nodeSyncDelay: settings.nodeSyncDelay,
            nodeInformer
          }),
          as
        )
    }
  })

/** The runtime's services over the backends: Metrics, HealthChecks, LeaderElection, the HealthServer (unless port 0). */
const services = <E1, E2>(settings: CcmSettings, backends: Backends<E1, E2>) =>
  Layer.unwrapEffect(Effect.map(LeaderElection.makeIdentity, (identity) => {
    const election = settings.leaderElection.enabled
      ? LeaderElection.layer({ ...settings.leaderElection, identity })
      : LeaderElection.layerDisabled(identity)
    const secure = settings.securePort === 0 ? HealthServer.layerNone : serving(settings, backends.accessReview)
    const base = Layer.mergeAll(HealthChecks.layer, Metrics.layerWithProcessMetrics)
    return Layer.mergeAll(election, secure).pipe(Layer.provideMerge(backends.kubernetes), Layer.provideMerge(base))
  }))

/** The enabled controllers under leadership, on the runtime's services; ends only on lost leadership. */
const manage = <E1, E2>(settings: CcmSettings, options: CcmOptions<E1, E2>) =>
  Effect.gen(function*() {
    const election = yield* LeaderElection.LeaderElection
    const checks = yield* HealthChecks.HealthChecks
    yield* checks.register("leaderElection", election.healthCheck)
    yield* Effect.logInfo("cloud controller manager starting").pipe(
      Effect.annotateLogs({
        identity: election.identity,
        leaderElect: settings.leaderElection.enabled,
        controllers: settings.controllers.join(","),
        lease: `${settings.leaderElection.namespace}/${settings.leaderElection.name}`
      })
    )
    if (settings.controllers.length === 0 || Option.isNone(options.cloudConfig)) {
      return yield* election.withLeadership(ControllerManager.run<never>([]))
    }
    return yield* Effect.gen(function*() {
      // One Node informer for both node controllers, started by the first that runs (so only while
      // leading) and kept until the run ends: one cache and one watch (bench/Memory.bench.ts).
      const nodes = yield* NodeApi.NodeApi
      const source = settings.controllers.includes("cloud-node-controller")
        ? yield* NodeController.initialisingSource(nodes, settings.initListingMaxAge)
        : nodes
      const nodeInformer = yield* Effect.cached(Scope.extend(CachedViews.nodeInformer(source), yield* Effect.scope))
      const controllers = yield* buildControllers(settings, nodeInformer)
      return yield* election.withLeadership(
        ControllerManager.run(controllers, { informerSyncGrace: settings.informerSyncGrace })
      )
    }).pipe(Effect.provide(cloudLayer(settings, options.cloudConfig.value, options.backends.cloudStackTransport)))
  }).pipe(Effect.scoped, Effect.annotateLogs({ module: "Ccm" }))

const settingsOf = (options: CcmOptions<unknown, unknown>): CcmSettings => ({ ...defaults, ...options.settings })

/**
 * Runs the controller manager until interrupted (the Lease is released, the controllers drain) or
 * until leadership is lost (`LeadershipLostError`: the CLI exits 1 then, as the k8s CCM does). Fails
 * at start with the backends' errors, `HealthServerError` (port in use) or `TlsFilesError`.
 */
export const run = <E1, E2>(options: CcmOptions<E1, E2>) => {
  const settings = settingsOf(options)
  return endedByServerFailure(manage(settings, options)).pipe(Effect.provide(services(settings, options.backends)))
}

/**
 * Runs `effect` (the controllers) while the secure port starts beside it (a self-signed certificate
 * takes ~0.3 s): a failed start (port in use, TLS files) ends the run with that error, as when the
 * server started first. However the run ends (that, a shutdown, lost leadership), `effect` is
 * interrupted and awaited here, so its finalizers (the Lease's release) run before the services
 * they use close: a plain race let those close first, and the Lease was never released.
 */
const endedByServerFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* HealthServer.HealthServerStart
    const running = yield* Effect.fork(effect)
    const serverFailure = Effect.zipRight(start.ready, Effect.never)
    return yield* Effect.raceFirst(Fiber.join(running), serverFailure).pipe(Effect.ensuring(Fiber.interrupt(running)))
  })

/**
 * The controller manager as a layer: building it starts the runtime services (errors as `run`'s)
 * and the controllers in the background; closing its scope stops them and releases the Lease. A
 * lost leadership stops the controllers and is logged at Error; use `run` to act on it.
 */
export const layer = <E1, E2>(options: CcmOptions<E1, E2>) => {
  const settings = settingsOf(options)
  return Layer.scopedDiscard(Effect.zipRight(
    // Built once the secure port listens: its errors fail the build, as `run`'s.
    Effect.flatMap(HealthServer.HealthServerStart, (start) => start.ready),
    Effect.forkScoped(
      manage(settings, options).pipe(
        Effect.catchAll((error) => Effect.logError("controller manager stopped", error))
      )
    )
  )).pipe(Layer.provide(services(settings, options.backends)))
}
