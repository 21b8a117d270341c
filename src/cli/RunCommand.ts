/**
 * `cloudstack-ccm run [k8s CCM flags]`: the composition root of the controller manager. Parses the
 * flags (pure `RunFlags`), then wires CloudConfig, CloudStack, Kubernetes, Metrics, HealthServer and
 * LeaderElection and runs the enabled controllers under leadership until SIGTERM/SIGINT (lease
 * released, exit 0) or lost leadership (exit 1). Owns wiring only: no controller logic here.
 */
import { Args, Command } from "@effect/cli"
import { Duration, Effect, Either, Layer, LogLevel, Logger, Option, Scope } from "effect"
import * as CloudStackClient from "../cloudstack/CloudStackClient.js"
import type { CloudStackTransport } from "../cloudstack/CloudStackTransport.js"
import * as HttpTransport from "../cloudstack/HttpTransport.js"
import { CloudConfig, type CloudConfigShape } from "../config/CloudConfig.js"
import * as CloudConfigFile from "../config/CloudConfigFile.js"
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
import * as ControllerManager from "../runtime/ControllerManager.js"
import * as DelegatedAuth from "../runtime/DelegatedAuth.js"
import * as HealthChecks from "../runtime/HealthChecks.js"
import * as HealthServer from "../runtime/HealthServer.js"
import * as LeaderElection from "../runtime/LeaderElection.js"
import { type ControllerName, parse, type RunFlags, usage } from "./RunFlags.js"

/** klog verbosity to an Effect log level: 0-3 Info, 4-5 Debug, 6+ Trace. */
export const logLevelOf = (verbosity: number): LogLevel.LogLevel =>
  verbosity >= 6 ? LogLevel.Trace : verbosity >= 4 ? LogLevel.Debug : LogLevel.Info

/** The Kubernetes APIs the runtime and the controllers use, over one client-node configuration and one rate limit. */
const kubernetesLayer = (flags: RunFlags) =>
  KubernetesLive.layer(
    { kubeconfig: Option.getOrUndefined(flags.kubeconfig), master: Option.getOrUndefined(flags.master) },
    { qps: flags.kubeApiQps, burst: flags.kubeApiBurst }
  )

/**
 * The two outside worlds of the CCM: live ones built from the flags (`liveBackends`), or simulated
 * ones (FakeKubernetes, the CloudStack simulator) for the `simulate` command and in-process tests.
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

/** `--authentication-kubeconfig`/`--authorization-kubeconfig`, else the main client's configuration. */
const reviewClient = (flags: RunFlags, given: Option.Option<string>): KubeConfigLoader.KubeConfigOptions =>
  Option.match(given, {
    onSome: (kubeconfig) => ({ kubeconfig }),
    onNone: () => ({ kubeconfig: Option.getOrUndefined(flags.kubeconfig), master: Option.getOrUndefined(flags.master) })
  })

export const liveBackends = (flags: RunFlags) => ({
  kubernetes: kubernetesLayer(flags),
  cloudStackTransport: HttpTransport.layer,
  accessReview: AccessReviewApi.layer({
    authentication: reviewClient(flags, flags.delegatedAuth.authenticationKubeconfig),
    authorization: reviewClient(flags, flags.delegatedAuth.authorizationKubeconfig)
  })
})

/** The secure port's access guard: delegated to the API server, or always-allow paths only. */
const accessGuard = (flags: RunFlags, review: Backends<unknown, unknown>["accessReview"]) =>
  review === undefined
    ? Effect.succeed(DelegatedAuth.pathsOnly(flags.delegatedAuth.alwaysAllowPaths))
    : DelegatedAuth.make(flags.delegatedAuth).pipe(Effect.provide(review))

/** CloudStack for the controllers: the validated cloud-config, a transport, the typed client, Instances, LoadBalancers. */
const cloudLayer = <E2>(flags: RunFlags, config: CloudConfigShape, transport: Backends<unknown, E2>["cloudStackTransport"]) =>
  LoadBalancers.layer({ clusterName: flags.clusterName, tags: flags.lbOwnershipTags }).pipe(
    Layer.provideMerge(Instances.layer(flags.cloudProvider)),
    Layer.provideMerge(CloudStackClient.layer),
    Layer.provide(transport),
    Layer.provideMerge(Layer.succeed(CloudConfig, config))
  )

/**
 * How long in-flight reconciles may finish when the controllers stop. On lost leadership that stop
 * starts at the renew deadline and must end before the lease expires for the others, so the drain
 * gets at most half of that margin (2 s with the default 15 s / 10 s).
 */
export const drainTimeout = (flags: RunFlags): Duration.Duration => {
  const margin = Duration.toMillis(flags.leaderElection.leaseDuration) - Duration.toMillis(flags.leaderElection.renewDeadline)
  return flags.leaderElection.enabled ? Duration.millis(Math.max(0, Math.min(2000, margin / 2))) : Duration.seconds(2)
}

/** Builds the enabled controllers (names as k8s: also their health check names). */
const buildControllers = (flags: RunFlags, nodeInformer: Effect.Effect<Informer.Informer<NodeView>>) =>
  Effect.forEach(flags.controllers, (name: ControllerName): Effect.Effect<
    Option.Option<ControllerManager.Controller>,
    never,
    NodeController.NodeControllerRequirements | ServiceController.ServiceControllerRequirements
  > => {
    switch (name) {
      case "cloud-node-controller":
        return NodeController.make({
          workers: flags.concurrentNodeSyncs,
          statusUpdateFrequency: flags.nodeStatusUpdateFrequency,
          drainTimeout: drainTimeout(flags),
          informer: nodeInformer
        }).pipe(Effect.map((c) => Option.some<ControllerManager.Controller>({ name, run: c.run, informerSync: c.informerSync })))
      case "cloud-node-lifecycle-controller":
        return NodeLifecycleController.make({ monitorPeriod: flags.nodeMonitorPeriod, informer: nodeInformer }).pipe(
          Effect.map((c) => Option.some<ControllerManager.Controller>({ name, run: c.run, informerSync: c.informerSync }))
        )
      case "service-lb-controller":
        return ServiceController.make({
          workers: flags.concurrentServiceSyncs,
          resyncPeriod: flags.lbResyncPeriod,
          drainTimeout: drainTimeout(flags),
          nodeInformer
        }).pipe(Effect.map((c) => Option.some<ControllerManager.Controller>({ name, run: c.run, informerSync: c.informerSync })))
    }
  }).pipe(Effect.map((cs) => cs.flatMap(Option.toArray)))

/** Everything after the flags were parsed, live: runs until interrupted or leadership is lost. */
export const program = (flags: RunFlags) =>
  Effect.gen(function*() {
    // The cloud-config is checked before anything connects or logs: a bad file fails at once, alone.
    const cloudConfig = yield* Option.match(flags.cloudConfig, {
      onNone: () => Effect.succeed(Option.none<CloudConfigShape>()),
      onSome: (path) => Effect.map(CloudConfigFile.load(path), Option.some)
    })
    return yield* programWith(flags, cloudConfig, liveBackends(flags))
  })

/**
 * The run wiring over given backends and an already validated cloud-config (None: no controller
 * needs CloudStack): Metrics, HealthChecks, HealthServer (unless `--secure-port=0`), LeaderElection
 * and the ControllerManager with the enabled controllers under leadership.
 */
export const programWith = <E1, E2>(flags: RunFlags, cloudConfig: Option.Option<CloudConfigShape>, backends: Backends<E1, E2>) =>
  Effect.gen(function*() {
    const identity = yield* LeaderElection.makeIdentity
    const electionLayer = flags.leaderElection.enabled
      ? LeaderElection.layer({ ...flags.leaderElection, identity })
      : LeaderElection.layerDisabled(identity)
    const serving = flags.securePort === 0
      ? Layer.empty
      : Layer.discard(Layer.unwrapEffect(Effect.map(accessGuard(flags, backends.accessReview), (access) =>
        HealthServer.layer({
          bindAddress: flags.bindAddress,
          port: flags.securePort,
          plainHttp: flags.plainHttp,
          tls: Option.zipWith(flags.tlsCertFile, flags.tlsPrivateKeyFile, (certFile, keyFile) => ({ certFile, keyFile })),
          access
        }))))
    const run = Effect.gen(function*() {
      const election = yield* LeaderElection.LeaderElection
      const checks = yield* HealthChecks.HealthChecks
      yield* checks.register("leaderElection", election.healthCheck)
      yield* Effect.logInfo("cloud controller manager starting").pipe(
        Effect.annotateLogs({
          identity,
          leaderElect: flags.leaderElection.enabled,
          controllers: flags.controllers.join(","),
          lease: `${flags.leaderElection.namespace}/${flags.leaderElection.name}`
        })
      )
      if (flags.controllers.length === 0 || Option.isNone(cloudConfig)) {
        yield* election.withLeadership(ControllerManager.run<never>([]))
        return
      }
      yield* Effect.gen(function*() {
        // One Node informer for both node controllers, started by the first that runs (so only while
        // leading) and kept until the run ends: one cache and one watch (bench/Memory.bench.ts).
        const nodes = yield* NodeApi.NodeApi
        const nodeInformer = yield* Effect.cached(Scope.extend(Informer.make("nodes", nodes), yield* Effect.scope))
        const controllers = yield* buildControllers(flags, nodeInformer)
        yield* election.withLeadership(ControllerManager.run(controllers, { informerSyncGrace: flags.informerSyncGrace }))
      }).pipe(Effect.provide(cloudLayer(flags, cloudConfig.value, backends.cloudStackTransport)))
    }).pipe(Effect.scoped)
    const base = Layer.mergeAll(HealthChecks.layer, Metrics.layerWithProcessMetrics)
    return yield* run.pipe(
      Effect.provide(
        Layer.mergeAll(electionLayer, serving).pipe(Layer.provideMerge(backends.kubernetes), Layer.provideMerge(base))
      )
    )
  }).pipe(Effect.annotateLogs({ module: "RunCommand" }))

/**
 * Parses `tokens` and runs. Configuration problems (flags, cloud-config, kubeconfig, TLS files,
 * port in use) fail with one typed error whose message is one clear line; the CLI exits 1 on them.
 */
export const runWithTokens = (tokens: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const parsed = yield* Either.match(parse(tokens), { onLeft: Effect.fail, onRight: Effect.succeed })
    const level = logLevelOf(parsed.flags.verbosity)
    yield* Effect.forEach(parsed.warnings, (warning) => Effect.logWarning(warning), { discard: true })
    return yield* program(parsed.flags).pipe(Logger.withMinimumLogLevel(level))
  })

/** The raw k8s-style flags, handed to the pure `RunFlags` parser (pflag syntax, not @effect/cli's). */
export const flagsArgs = Args.text({ name: "flags" }).pipe(Args.repeated, Args.withDescription(usage()))

export const command = Command.make("run", { flags: flagsArgs }, ({ flags }) => runWithTokens(flags)).pipe(
  Command.withDescription("Run the cloud controller manager (k8s cloud-controller-manager flags).")
)
