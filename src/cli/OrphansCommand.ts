/**
 * `cloudstack-ccm orphans --cloud-config F [--kubeconfig K] [--cluster-name C] [--delete]
 * [--output text|json]`: what this cluster's load balancers left in CloudStack for Services that no
 * longer exist, as a report (a dry run), or removed with `--delete`. Wiring and printing only: what
 * counts as an orphan is `src/orphans/OrphanPlan`, the reads and deletions `src/orphans/Orphans`.
 */
import { Command, Options } from "@effect/cli"
import { Console, Data, Effect, Layer, Option } from "effect"
import { secretsOf } from "../cloudstack/ClientCore.js"
import * as CloudStackClient from "../cloudstack/CloudStackClient.js"
import * as HttpTransport from "../cloudstack/HttpTransport.js"
import * as Redact from "../cloudstack/Redact.js"
import { CloudConfig, type CloudConfigShape } from "../config/CloudConfig.js"
import * as CloudConfigFile from "../config/CloudConfigFile.js"
import * as KubernetesLive from "../kubernetes/KubernetesLive.js"
import * as Metrics from "../metrics/Metrics.js"
import * as OrphanReport from "../orphans/OrphanReport.js"
import * as Orphans from "../orphans/Orphans.js"
import type { Backends } from "../runtime/Ccm.js"
import * as CliOptions from "./CliOptions.js"
import { cloudConfigOption } from "./CloudConfigOption.js"

export interface OrphansOptions {
  /** `--cluster-name`, as the controller manager was run with. */
  readonly clusterName: string
  readonly delete: boolean
  readonly output: "text" | "json"
}

/** `--delete` ran and some deletions did not succeed (each is in the printed report). */
export class OrphanDeletionFailedError extends Data.TaggedError("OrphanDeletionFailedError")<{
  readonly unsuccessful: number
  readonly total: number
}> {
  override get message(): string {
    return `orphans: ${this.unsuccessful} of ${this.total} deletions did not succeed (see the report)`
  }
}

/**
 * Surveys, deletes with `--delete`, prints the report on stdout and returns it; over given backends
 * (live: HTTP and the kubeconfig; tests: the simulator and FakeKubernetes) and a validated
 * cloud-config. Fails after printing when a deletion did not succeed.
 */
export const orphansWith = <E1, E2>(options: OrphansOptions, config: CloudConfigShape, backends: Backends<E1, E2>) => {
  const base = Layer.merge(Layer.succeed(CloudConfig, config), Metrics.layer)
  const client = CloudStackClient.layer.pipe(Layer.provide(backends.cloudStackTransport.pipe(Layer.provideMerge(base))))
  const clean = OrphanReport.cleaner(Redact.make(secretsOf(config)))
  return Effect.gen(function*() {
    const found = yield* Orphans.survey(options.clusterName)
    const results = options.delete ? yield* Orphans.execute(found.steps) : undefined
    const report = OrphanReport.make(options.clusterName, found, results, clean)
    yield* Console.log(options.output === "json" ? OrphanReport.renderJson(report) : OrphanReport.renderText(report))
    const unsuccessful = OrphanReport.unsuccessful(report)
    if (unsuccessful > 0) return yield* new OrphanDeletionFailedError({ unsuccessful, total: report.results.length })
    return report
  }).pipe(Effect.provide(Layer.merge(client, backends.kubernetes)), Effect.annotateLogs({ module: "OrphansCommand" }))
}

const kubeconfig = Options.file("kubeconfig", { exists: "either" }).pipe(
  CliOptions.nonEmpty("kubeconfig"),
  Options.optional,
  Options.withDescription("Path of a kubeconfig; without it the in-cluster configuration, as the controller manager")
)
const clusterName = CliOptions.nonEmptyText("cluster-name").pipe(
  Options.withDefault("kubernetes"),
  Options.withDescription(
    "The cluster name the controller manager runs with (--cluster-name): only resources tagged for it are looked at"
  )
)
const remove = Options.boolean("delete").pipe(
  Options.withDescription(
    "Delete the orphans (firewall rules and ACL items, then LB rules, then IPs); without it nothing is changed"
  )
)
const output = Options.choice("output", ["text", "json"]).pipe(
  Options.withDefault("text" as const),
  Options.withDescription("Report format")
)

export const command = Command.make(
  "orphans",
  { cloudConfig: cloudConfigOption, kubeconfig, clusterName, delete: remove, output },
  (o) =>
    Effect.flatMap(
      CloudConfigFile.load(o.cloudConfig),
      (config) =>
        orphansWith({ clusterName: o.clusterName, delete: o.delete, output: o.output }, config, {
          kubernetes: KubernetesLive.layer({ kubeconfig: Option.getOrUndefined(o.kubeconfig) }),
          cloudStackTransport: HttpTransport.layer
        })
    )
).pipe(
  Command.withDescription(
    "Report (or with --delete remove) the CloudStack IPs, LB rules, firewall rules and ACL items this cluster's load balancers left for Services that no longer exist."
  )
)
