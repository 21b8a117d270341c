/**
 * What the controller manager runs and how: the enabled controllers, leader election, the secure
 * port, periods and workers. The CLI fills these from the k8s CCM flags (`cli/RunFlags.ts`, whose
 * defaults are these); library users give `Partial<CcmSettings>` to `Ccm.run` / `Ccm.layer`. Pure data.
 */
import { Duration, Option } from "effect"
import type { ProviderName } from "../provider/ProviderId.js"

/**
 * `--concurrent-service-syncs` default (upstream: 1). The Services of a network share its CloudStack
 * job queue, which a single worker leaves idle between one Service's steps; enough workers keep
 * every network's queue busy (measured by bench/Scale.bench.ts), while the client's rate limit still
 * bounds the load on CloudStack.
 */
export const DEFAULT_CONCURRENT_SERVICE_SYNCS = 20

/** Controllers this CCM runs, by their k8s canonical names (also the `/healthz/<name>` checks). */
export const CONTROLLERS = [
  { name: "cloud-node-controller", alias: "cloud-node" },
  { name: "cloud-node-lifecycle-controller", alias: "cloud-node-lifecycle" },
  { name: "service-lb-controller", alias: "service" }
] as const
export type ControllerName = (typeof CONTROLLERS)[number]["name"]

export interface LeaderElectionSettings {
  readonly enabled: boolean
  readonly namespace: string
  readonly name: string
  readonly leaseDuration: Duration.Duration
  readonly renewDeadline: Duration.Duration
  readonly retryPeriod: Duration.Duration
}

/** Delegated authentication and authorization of the secure port, as the k8s CCM's. */
export interface DelegatedAuthSettings {
  /** Where TokenReviews go; None = the main client's (`--kubeconfig`/`--master`, or in-cluster). */
  readonly authenticationKubeconfig: Option.Option<string>
  /** Where SubjectAccessReviews go; None = likewise. */
  readonly authorizationKubeconfig: Option.Option<string>
  /** Paths served without authorization (exact, or a prefix ending in `*`). */
  readonly alwaysAllowPaths: ReadonlyArray<string>
  readonly tokenCacheTtl: Duration.Duration
  readonly allowCacheTtl: Duration.Duration
  readonly denyCacheTtl: Duration.Duration
}

export interface CcmSettings {
  /** Decides the providerID form written to Nodes. */
  readonly cloudProvider: ProviderName
  /** Recorded in CloudStack ownership tags. */
  readonly clusterName: string
  /** CloudStack tags on everything the LB code creates. */
  readonly lbOwnershipTags: boolean
  /** Enabled controllers, in start order. */
  readonly controllers: ReadonlyArray<ControllerName>
  readonly leaderElection: LeaderElectionSettings
  /** Port of /healthz and /metrics; 0 disables serving, as in k8s. */
  readonly securePort: number
  readonly bindAddress: string
  readonly tlsCertFile: Option.Option<string>
  readonly tlsPrivateKeyFile: Option.Option<string>
  readonly plainHttp: boolean
  readonly delegatedAuth: DelegatedAuthSettings
  readonly nodeStatusUpdateFrequency: Duration.Duration
  readonly nodeMonitorPeriod: Duration.Duration
  /** Re-ensure every load balancer this often; 0 disables. */
  readonly lbResyncPeriod: Duration.Duration
  /** How long a controller's informer may take to list once before its health check fails. */
  readonly informerSyncGrace: Duration.Duration
  readonly concurrentServiceSyncs: number
  readonly concurrentNodeSyncs: number
  /** How old a VM listing may be to initialise a Node from it (no flag; `simulate` shortens it). */
  readonly initListingMaxAge?: Duration.DurationInput | undefined
  /** How long the service controller gathers Node changes before updating LB members (no flag). */
  readonly nodeSyncDelay?: Duration.DurationInput | undefined
}

/** The k8s CCM's defaults (the run flags' defaults; test/runtime/CcmSettings.test.ts keeps them equal). */
export const defaults: CcmSettings = {
  cloudProvider: "external-cloudstack",
  clusterName: "kubernetes",
  lbOwnershipTags: true,
  controllers: CONTROLLERS.map((c) => c.name),
  leaderElection: {
    enabled: true,
    namespace: "kube-system",
    name: "cloud-controller-manager",
    leaseDuration: Duration.seconds(15),
    renewDeadline: Duration.seconds(10),
    retryPeriod: Duration.seconds(2)
  },
  securePort: 10258,
  bindAddress: "0.0.0.0",
  tlsCertFile: Option.none(),
  tlsPrivateKeyFile: Option.none(),
  plainHttp: false,
  delegatedAuth: {
    authenticationKubeconfig: Option.none(),
    authorizationKubeconfig: Option.none(),
    alwaysAllowPaths: ["/healthz", "/readyz", "/livez"],
    tokenCacheTtl: Duration.seconds(10),
    allowCacheTtl: Duration.seconds(10),
    denyCacheTtl: Duration.seconds(10)
  },
  nodeStatusUpdateFrequency: Duration.minutes(5),
  nodeMonitorPeriod: Duration.seconds(5),
  lbResyncPeriod: Duration.minutes(10),
  informerSyncGrace: Duration.minutes(2),
  concurrentServiceSyncs: DEFAULT_CONCURRENT_SERVICE_SYNCS,
  concurrentNodeSyncs: 1
}

/**
 * How long in-flight reconciles may finish when the controllers stop. On lost leadership that stop
 * starts at the renew deadline and must end before the lease expires for the others, so the drain
 * gets at most half of that margin (2 s with the default 15 s / 10 s).
 */
export const drainTimeout = (settings: Pick<CcmSettings, "leaderElection">): Duration.Duration => {
  const { leaseDuration, renewDeadline, enabled } = settings.leaderElection
  const margin = Duration.toMillis(leaseDuration) - Duration.toMillis(renewDeadline)
  return enabled ? Duration.millis(Math.max(0, Math.min(2000, margin / 2))) : Duration.seconds(2)
}
