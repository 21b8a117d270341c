/**
 * The run command's flags as data: those this CCM implements (name, kind, default, help; the parser,
 * `--help` and docs/configuration.md follow it) and the k8s CCM / klog flags it accepts and ignores.
 */
import { DEFAULT_CONCURRENT_SERVICE_SYNCS } from "../runtime/CcmSettings.js"

export type Kind = "bool" | "string" | "int" | "float" | "duration" | "list"

export interface FlagSpec {
  readonly name: string
  readonly kind: Kind
  readonly default: string
  readonly help: string
}

/** Flags this CCM implements (docs/configuration.md documents each, checked by test/docs/Configuration.test.ts). */
export const FLAGS: ReadonlyArray<FlagSpec> = [
  {
    name: "cloud-provider",
    kind: "string",
    default: "external-cloudstack",
    help: "Provider name: external-cloudstack or cloudstack (decides the providerID form)."
  },
  {
    name: "cloud-config",
    kind: "string",
    default: "",
    help: "Path of the cloud-config file (required unless every controller is disabled)."
  },
  { name: "kubeconfig", kind: "string", default: "", help: "Path of a kubeconfig; empty = in-cluster configuration." },
  { name: "master", kind: "string", default: "", help: "API server URL, overrides the kubeconfig's server." },
  {
    name: "cluster-name",
    kind: "string",
    default: "kubernetes",
    help: "Cluster name, recorded in CloudStack ownership tags."
  },
  {
    name: "controllers",
    kind: "list",
    default: "*",
    help:
      "Controllers to run: '*' = all, 'name' enables, '-name' disables; names or aliases cloud-node, cloud-node-lifecycle, service, route."
  },
  {
    name: "leader-elect",
    kind: "bool",
    default: "true",
    help: "Run leader election on a Lease; false for a single replica."
  },
  {
    name: "leader-elect-lease-duration",
    kind: "duration",
    default: "15s",
    help: "How long a non-renewed lease stays valid for the other candidates."
  },
  {
    name: "leader-elect-renew-deadline",
    kind: "duration",
    default: "10s",
    help: "How long the leader retries renewing before it stops its controllers."
  },
  {
    name: "leader-elect-retry-period",
    kind: "duration",
    default: "2s",
    help: "Interval between acquire/renew attempts."
  },
  {
    name: "leader-elect-resource-lock",
    kind: "string",
    default: "leases",
    help: "Lock type; only 'leases' is supported."
  },
  {
    name: "leader-elect-resource-name",
    kind: "string",
    default: "cloud-controller-manager",
    help: "Name of the Lease."
  },
  { name: "leader-elect-resource-namespace", kind: "string", default: "kube-system", help: "Namespace of the Lease." },
  {
    name: "secure-port",
    kind: "int",
    default: "10258",
    help: "Port of /healthz and /metrics (HTTPS); 0 disables serving."
  },
  { name: "bind-address", kind: "string", default: "0.0.0.0", help: "Address the secure port listens on." },
  {
    name: "tls-cert-file",
    kind: "string",
    default: "",
    help: "Serving certificate (PEM); default a self-signed one made at start."
  },
  { name: "tls-private-key-file", kind: "string", default: "", help: "Private key of --tls-cert-file (PEM)." },
  {
    name: "plain-http",
    kind: "bool",
    default: "false",
    help: "Serve plain HTTP instead of HTTPS on --secure-port (local runs only)."
  },
  {
    name: "authentication-kubeconfig",
    kind: "string",
    default: "",
    help:
      "Kubeconfig for the TokenReviews of bearer tokens on --secure-port; empty = the --kubeconfig/--master client (or in-cluster)."
  },
  {
    name: "authorization-kubeconfig",
    kind: "string",
    default: "",
    help: "Kubeconfig for the SubjectAccessReviews of requests on --secure-port; empty = likewise."
  },
  {
    name: "authorization-always-allow-paths",
    kind: "list",
    default: "/healthz,/readyz,/livez",
    help:
      "Paths served without authorization (exact, or a prefix with a trailing *; /healthz does not cover /healthz/x); '' = none."
  },
  {
    name: "authentication-token-webhook-cache-ttl",
    kind: "duration",
    default: "10s",
    help: "How long a TokenReview answer is reused."
  },
  {
    name: "authorization-webhook-cache-authorized-ttl",
    kind: "duration",
    default: "10s",
    help: "How long an allowing SubjectAccessReview answer is reused."
  },
  {
    name: "authorization-webhook-cache-unauthorized-ttl",
    kind: "duration",
    default: "10s",
    help: "How long a denying SubjectAccessReview answer is reused."
  },
  {
    name: "authentication-skip-lookup",
    kind: "bool",
    default: "false",
    help:
      "Accepted; no effect: only bearer tokens are authenticated, so the extension-apiserver-authentication ConfigMap is never looked up."
  },
  {
    name: "authentication-tolerate-lookup-failure",
    kind: "bool",
    default: "false",
    help: "Accepted; no effect (no lookup, see --authentication-skip-lookup)."
  },
  { name: "node-status-update-frequency", kind: "duration", default: "5m", help: "Period of the node address sync." },
  { name: "node-monitor-period", kind: "duration", default: "5s", help: "Period of the node lifecycle check." },
  {
    name: "lb-resync-period",
    kind: "duration",
    default: "10m",
    help: "Re-ensure every load balancer this often (drift repair); 0 disables."
  },
  {
    name: "lb-ownership-tags",
    kind: "bool",
    default: "true",
    help:
      "Tag every IP, LB rule, firewall rule and ACL item created with the cluster and Service (one createTags per type, not awaited); false saves those calls."
  },
  { name: "min-resync-period", kind: "duration", default: "12h", help: "Informer resync base period." },
  {
    name: "informer-sync-grace",
    kind: "duration",
    default: "2m",
    help:
      "How long a controller's informer may take to list once before /healthz/<controller> fails (e.g. credentials or RBAC)."
  },
  {
    name: "concurrent-service-syncs",
    kind: "int",
    default: String(DEFAULT_CONCURRENT_SERVICE_SYNCS),
    help: "Service workers (Services of one network share its CloudStack job queue; several keep it busy)."
  },
  { name: "concurrent-node-syncs", kind: "int", default: "1", help: "Node initialisation workers." },
  {
    name: "concurrent-node-status-updates",
    kind: "int",
    default: "0",
    help: "Parallelism of the address sync; 0 = --concurrent-node-syncs."
  },
  { name: "kube-api-qps", kind: "float", default: "20", help: "Kubernetes client requests per second." },
  { name: "kube-api-burst", kind: "int", default: "30", help: "Kubernetes client burst." },
  { name: "v", kind: "int", default: "0", help: "Log verbosity (also -v): 0-3 info, 4-5 debug, 6+ trace." }
]

/** k8s CCM (and klog) flags accepted for compatibility and ignored with a warning. */
export const IGNORED: ReadonlyArray<{ readonly name: string; readonly bool: boolean }> = [
  ...[
    "configure-cloud-routes",
    "allocate-node-cidrs",
    "use-service-account-credentials",
    "profiling",
    "contention-profiling",
    "allow-untagged-cloud",
    "enable-leader-migration",
    "permit-port-sharing",
    "permit-address-sharing",
    "logtostderr",
    "alsologtostderr",
    "add-dir-header",
    "skip-headers",
    "skip-log-headers",
    "one-output"
  ].map((name) => ({ name, bool: true })),
  ...[
    // The 1.20 cloud-controller-manager's deprecated insecure serving (`--port=0` disables it).
    "port",
    "address",
    "route-reconciliation-period",
    "cluster-cidr",
    "cidr-allocator-type",
    "kube-api-content-type",
    "controller-start-interval",
    "feature-gates",
    "external-cloud-volume-plugin",
    "node-sync-period",
    "cert-dir",
    "leader-migration-config",
    "webhook-secure-port",
    "webhooks",
    "client-ca-file",
    "requestheader-client-ca-file",
    "requestheader-allowed-names",
    "requestheader-extra-headers-prefix",
    "requestheader-group-headers",
    "requestheader-username-headers",
    "tls-cipher-suites",
    "tls-min-version",
    "tls-sni-cert-key",
    "http2-max-streams-per-connection",
    "master-service-namespace",
    "log-dir",
    "log-file",
    "log-file-max-size",
    "log-flush-frequency",
    "stderrthreshold",
    "vmodule",
    "logging-format"
  ].map((name) => ({ name, bool: false }))
]
