/**
 * Every Prometheus metric of the process, declared in one place (prom-client does the exposition).
 * A fresh registry per layer build, so tests never share counters. Labels have low cardinality:
 * commands, codes, controller and queue names, never object names or ids.
 */
import { Context, Data, Effect, Layer } from "effect"
import * as Prom from "prom-client"
import * as ProcessMetrics from "./ProcessMetrics.js"

const PREFIX = "cloudstack_ccm_"

/** Upstream's cloud-node delay buckets, ExponentialBuckets(1, 4, 6): 1 s to 1,024 s (~17 min). */
const NODE_DELAY_BUCKETS = [1, 4, 16, 64, 256, 1024]

/** A cloud-node delay histogram, measured from the Node's creation; `name` is upstream's after `node_controller_`. */
const nodeDelay = (name: string, until: string, registers: Array<Prom.Registry>) =>
  new Prom.Histogram({
    name: `${PREFIX}node_controller_${name}`,
    help: `Seconds from a Node's creation to ${until} by the cloud-node controller (upstream node_controller_${name}).`,
    buckets: NODE_DELAY_BUCKETS,
    registers
  })

const make = Effect.sync(() => {
  const registry = new Prom.Registry()
  const registers = [registry]
  return {
    registry,
    /** One per CloudStack HTTP answer (or transport failure); outcome = "success" or the error code / "transport". */
    apiRequests: new Prom.Counter({
      name: `${PREFIX}api_requests_total`,
      help: "CloudStack API requests by command and outcome (success, errorcode, transport, decode).",
      labelNames: ["command", "outcome"] as const,
      registers
    }),
    apiRequestDuration: new Prom.Histogram({
      name: `${PREFIX}api_request_duration_seconds`,
      help: "CloudStack API request latency by command.",
      labelNames: ["command"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    apiRetries: new Prom.Counter({
      name: `${PREFIX}api_retries_total`,
      help: "CloudStack API requests repeated after a retryable failure.",
      labelNames: ["command"] as const,
      registers
    }),
    asyncJobWait: new Prom.Histogram({
      name: `${PREFIX}async_job_wait_seconds`,
      help: "Time from submitting a CloudStack async job to its final status, by command and result.",
      labelNames: ["command", "result"] as const,
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers
    }),
    workqueueDepth: new Prom.Gauge({
      name: `${PREFIX}workqueue_depth`,
      help: "Keys waiting in a controller work queue.",
      labelNames: ["name"] as const,
      registers
    }),
    workqueueAdds: new Prom.Counter({
      name: `${PREFIX}workqueue_adds_total`,
      help: "Keys added to a controller work queue.",
      labelNames: ["name"] as const,
      registers
    }),
    workqueueRetries: new Prom.Counter({
      name: `${PREFIX}workqueue_retries_total`,
      help: "Keys re-queued with backoff after a failed reconcile.",
      labelNames: ["name"] as const,
      registers
    }),
    workqueueProcessingDuration: new Prom.Histogram({
      name: `${PREFIX}workqueue_work_duration_seconds`,
      help: "Time spent processing one key.",
      labelNames: ["name"] as const,
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers
    }),
    reconciles: new Prom.Counter({
      name: `${PREFIX}reconcile_total`,
      help: "Reconciles by controller and result (success, requeue, requeue_after, error, user_error).",
      labelNames: ["controller", "result"] as const,
      registers
    }),
    /** Events not written: the recorder's queue was full, or the object's spam filter had no token. */
    eventsDropped: new Prom.Counter({
      name: `${PREFIX}events_dropped_total`,
      help: "Kubernetes Events dropped before being written, by reason (queue_full, spam_filter).",
      labelNames: ["reason"] as const,
      registers
    }),
    /** Observed when the uninitialized taint was removed. */
    nodeTaintRemovalDelay: nodeDelay(
      "cloud_provider_taint_removal_delay_seconds",
      "the removal of its uninitialized taint",
      registers
    ),
    /** Observed when a Node's initialisation (taint removed, then addresses) completed. */
    nodeInitialSyncDelay: nodeDelay("initial_node_sync_delay_seconds", "the end of its initial sync", registers),
    /** One per kind of drift a repair pass found on a Service (and queued an ensure for). */
    lbDriftRepaired: new Prom.Counter({
      name: `${PREFIX}lb_drift_repaired_total`,
      help:
        "Load-balancer drift found by the periodic repair pass (or a member audit) and queued for repair, by kind (ip, rule, firewall, acl, tag, member, policy).",
      labelNames: ["kind"] as const,
      registers
    }),
    leaderStatus: new Prom.Gauge({
      name: `${PREFIX}leader_election_master_status`,
      help: "1 while this process holds the leader lease, else 0.",
      labelNames: ["name"] as const,
      registers
    })
  }
})

export type MetricsShape = Effect.Effect.Success<typeof make>

export class Metrics extends Context.Tag("cloudstack-ccm/metrics/Metrics")<Metrics, MetricsShape>() {}

/** Application metrics only (tests, library use). */
export const layer = Layer.effect(Metrics, make)

/**
 * How often the event-loop-lag histogram samples, in ms. prom-client's default (10) is a timer that
 * wakes the process 100 times a second for good, most of its CPU when idle; once a second still
 * catches every stall longer than that.
 */
export const EVENT_LOOP_SAMPLING_MS = 1000

/** Application metrics plus prom-client's process metrics (CPU, RSS, heap, event-loop lag, fds). */
export const layerWithProcessMetrics = Layer.effect(
  Metrics,
  Effect.tap(
    make,
    (m) =>
      Effect.sync(() =>
        ProcessMetrics.register(m.registry, { prefix: PREFIX, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLING_MS })
      )
  )
)

/** A metric collector threw while the registry was rendered. */
export class MetricsRenderError extends Data.TaggedError("MetricsRenderError")<{ readonly cause: unknown }> {}

/** Prometheus text exposition of the registry. */
export const render = (metrics: MetricsShape): Effect.Effect<string, MetricsRenderError> =>
  Effect.tryPromise({ try: () => metrics.registry.metrics(), catch: (cause) => new MetricsRenderError({ cause }) })
