/**
 * `cloudstack-ccm check` without `--offline`: everything the CCM needs from CloudStack, checked in
 * order, each step only once the one before it allows it: the endpoint (DNS, TCP, TLS, HTTP), the
 * keys (a 401 traced to the credential at fault), the server version, the role's commands
 * (listApis against RequiredCommands), the project, the zone, the account's VMs and the networks
 * they sit on. Never fails: every problem is a check in the report. Reads only; changes nothing.
 */
import { Effect, Either, Option, type Scope } from "effect"
import * as CloudStackClient from "../cloudstack/CloudStackClient.js"
import type { CloudStackTransport } from "../cloudstack/CloudStackTransport.js"
import { listApis } from "../cloudstack/commands/Discovery.js"
import * as Envelope from "../cloudstack/Envelope.js"
import { CloudConfig, type CloudConfigShape } from "../config/CloudConfig.js"
import type { Metrics } from "../metrics/Metrics.js"
import type { Feature } from "../provider/RequiredCommands.js"
import { type Check, check } from "./Check.js"
import * as CloudChecks from "./CloudChecks.js"
import { ADMIN_ONLY_PROBE, diagnose401 } from "./Credentials.js"
import * as Endpoint from "./Endpoint.js"
import { type FirstAnswer, httpCheck, socketChecks } from "./EndpointChecks.js"
import * as Permissions from "./Permissions.js"
import * as Probe from "./Probe.js"
import type { PreflightReport } from "./Report.js"

export interface PreflightOptions {
  /** The cloud-config's path, for the report. */
  readonly source: string
  /** The enabled controllers (k8s names), for the report. */
  readonly controllers: ReadonlyArray<string>
  /** What they need (plus `project` when project-id is a name). */
  readonly features: ReadonlySet<Feature>
}

const safeUrl = (url: URL): string => `${url.protocol}//${url.host}${url.pathname}`

/** The first signed request, listApis, decoded; its names tell what the role may run. */
const firstContact = (prober: Probe.Prober): Effect.Effect<FirstAnswer> =>
  prober.send("listApis", {}, "v3").pipe(
    Effect.map((raw) =>
      Either.map(Envelope.decode("listApis", raw, raw.secrets), (inner) => ({ millis: raw.millis, inner }))
    ),
    Effect.catchAll((error) => Effect.succeed(Either.left(error)))
  )

/** Evidence for a 401: the server's clock, a request without expiry, a wrongly signed admin-only command. */
const authEvidence = (prober: Probe.Prober) =>
  Effect.gen(function*() {
    const status = (signing: Probe.Signing, command: string) =>
      Effect.map(Effect.option(prober.send(command, {}, signing)), Option.map((a) => a.status))
    const v3 = yield* Effect.option(prober.send("listZones", {}, "v3"))
    return {
      serverAheadMillis: Option.flatMap(v3, (a) => Option.map(a.serverTime, (t) => t - a.sentAt)),
      noExpiryStatus: yield* status("noExpiry", "listZones"),
      keyProbeStatus: yield* status("wrongSignature", ADMIN_ONLY_PROBE)
    }
  })

const namesOf = (inner: Readonly<Record<string, unknown>>) =>
  Effect.map(
    Effect.either(listApis.decode(inner)),
    Either.match({
      onLeft: () => Option.none<ReadonlySet<string>>(),
      onRight: (answer) => Option.some<ReadonlySet<string>>(new Set(answer.apis.map((a) => a.name)))
    })
  )

const credentialsAndPermissions = (first: FirstAnswer, prober: Probe.Prober, options: PreflightOptions) =>
  Effect.gen(function*() {
    if (Either.isRight(first)) {
      const allowed = yield* namesOf(first.right.inner)
      const statuses = Permissions.statuses(allowed, options.features)
      const credentials = check("credentials", "ok", "the api-key and secret-key are accepted")
      return {
        accepted: true,
        checks: [credentials, ...Permissions.checks(statuses, options.features, "its listApis answer is not readable")],
        statuses
      }
    }
    const error = first.left
    if (error._tag !== "CloudStackApiError") {
      return {
        accepted: false,
        checks: [check("credentials", "skip", "not checked: no CloudStack answer")],
        statuses: []
      }
    }
    if (error.errorCode === 401) {
      const evidence = yield* authEvidence(prober)
      return {
        accepted: false,
        checks: [
          check("credentials", "fail", `CloudStack refuses the keys (401); the fault: ${diagnose401(evidence)}`)
        ],
        statuses: []
      }
    }
    // The keys work but listApis does not (the role may not run it, or the discovery plugin is off).
    const statuses = Permissions.statuses(Option.none(), options.features)
    const why = `listApis answered ${error.errorCode}: ${error.errorText}`
    return {
      accepted: error.errorClass !== "unavailable",
      checks: [
        check("credentials", "ok", "the api-key and secret-key are accepted"),
        ...Permissions.checks(statuses, options.features, why)
      ],
      statuses
    }
  })

/** A client over the environment's transport with `projectId` (None: the account's own resources). */
const clientWith = (config: CloudConfigShape, projectId: Option.Option<string>) =>
  CloudStackClient.make.pipe(Effect.provideService(CloudConfig, { ...config, projectId }))

/** Runs every check against the transport in the environment (the live HTTP one, or a simulator). */
export const run = (
  config: CloudConfigShape,
  options: PreflightOptions
): Effect.Effect<PreflightReport, never, CloudStackTransport | Metrics | Scope.Scope> =>
  Effect.gen(function*() {
    const report = (
      checks: ReadonlyArray<Check>,
      rest: Partial<Pick<PreflightReport, "commands" | "networks">> = {}
    ): PreflightReport => ({
      cloudConfig: options.source,
      apiUrl: safeUrl(config.apiUrl),
      controllers: options.controllers,
      checks,
      commands: rest.commands ?? [],
      networks: rest.networks ?? []
    })
    const sockets = socketChecks(yield* Endpoint.probe(config.apiUrl, config.requestTimeout), config.sslNoVerify)
    if (Option.isSome(sockets.blocked)) {
      return report([...sockets.checks, check("http", "skip", `not tried: ${sockets.blocked.value}`)])
    }
    const prober = yield* Probe.make(config)
    const first = yield* firstContact(prober)
    const http = httpCheck(first)
    const auth = yield* credentialsAndPermissions(first, prober, options)
    const reached = [...sockets.checks, http, ...auth.checks]
    if (!auth.accepted || http.level === "fail") {
      return report([...reached, check("project", "skip", "not checked: CloudStack did not accept the requests")], {
        commands: auth.statuses
      })
    }
    // The typed client from here on; its errors become checks.
    const plain = yield* Effect.either(clientWith(config, Option.none()))
    if (Either.isLeft(plain)) {
      return report([...reached, check("project", "fail", plain.left.message)], { commands: auth.statuses })
    }
    const cloud = yield* CloudChecks.run(
      plain.right,
      config,
      (projectId) => Effect.either(clientWith(config, projectId))
    )
    return report([...reached, ...cloud.checks], { commands: auth.statuses, networks: cloud.networks })
  }).pipe(Effect.annotateLogs({ module: "Preflight" }))
