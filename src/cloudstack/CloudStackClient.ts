/**
 * The typed CloudStack API client: scoping, paging, async-job polling, envelope decoding, class-based
 * retries, one client-wide concurrency bound and rate limit, and per-command metrics. Generic over
 * the command definitions in `commands/*`; it holds no CloudStack semantics beyond the API itself.
 */
import {
  Chunk,
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  Predicate,
  RateLimiter,
  Schema,
  type Scope as EffectScope,
  Stream
} from "effect"
import { CloudConfig } from "../config/CloudConfig.js"
import { Metrics, type MetricsShape } from "../metrics/Metrics.js"
import { type Core, makeCore, secretsOf, toDecodeError } from "./ClientCore.js"
import {
  AsyncJobFailedError,
  AsyncJobTimeoutError,
  CloudStackDecodeError,
  type CloudStackError,
  CloudStackProjectError
} from "./CloudStackError.js"
import { CloudStackTransport } from "./CloudStackTransport.js"
import type { AsyncCommand, ListCommand, ListPage, Scope, SyncCommand } from "./Command.js"
import { AsyncJobResult, JobFailure, JobSubmitted, queryAsyncJobResult } from "./commands/AsyncJobs.js"
import { listProjects } from "./commands/Projects.js"
import { type JobId, ProjectId } from "./Ids.js"
import * as JobLanes from "./JobLanes.js"
import * as Redact from "./Redact.js"
import { pollDelay } from "./RetryPolicy.js"
import type { Params } from "./Signing.js"

/** CloudStack's maximum (and default) page size, `default.page.size` (reference 4.1). */
export const PAGE_SIZE = 500

/** A submitted async job; `entityId` is the new entity's id for create-style commands. */
export interface SubmittedJob {
  readonly command: string
  readonly jobId: JobId
  readonly entityId: Option.Option<string>
  /** Clock millis at submission, for the job-wait metric. */
  readonly submittedAt: number
  /** The CloudStack job queue the job waits in (JobLanes), when the caller knows it. */
  readonly lane: Option.Option<string>
}

export interface JobOptions {
  /**
   * The job queue the command's job joins (e.g. `network:<id>` for LB rules, firewall rules and IPs
   * of a network): jobs of one lane are awaited together, one poll per job (JobLanes).
   */
  readonly lane?: string | undefined
}

export interface CloudStackClientShape {
  /** The resolved project every scoped call carries, if `project-id` is configured. */
  readonly projectId: Option.Option<ProjectId>
  /** A synchronous command. Reads retry on any retryable error; sync mutations only when provably unexecuted. */
  readonly call: <P, A>(command: SyncCommand<P, A>, params: P) => Effect.Effect<A, CloudStackError>
  /** Every item of a list command (all pages, pagesize 500, until `count` items are collected). */
  readonly list: <P, A>(command: ListCommand<P, A>, params: P) => Effect.Effect<ReadonlyArray<A>, CloudStackError>
  /** The same as `list`, page by page, as a Stream. */
  readonly stream: <P, A>(command: ListCommand<P, A>, params: P) => Stream.Stream<A, CloudStackError>
  /** Sends an async command without waiting for its job. Retried only when provably unexecuted. */
  readonly submit: <P, A>(
    command: AsyncCommand<P, A>,
    params: P,
    options?: JobOptions
  ) => Effect.Effect<SubmittedJob, CloudStackError>
  /**
   * Polls the job until it finishes (bounded by `asyncJobTimeout`). Fails with `AsyncJobFailedError`
   * (jobstatus 2) or `AsyncJobTimeoutError` (the job may still complete later); never re-submits.
   */
  readonly waitForJob: <P, A>(command: AsyncCommand<P, A>, job: SubmittedJob) => Effect.Effect<A, CloudStackError>
  /** `submit` then `waitForJob`. */
  readonly run: <P, A>(
    command: AsyncCommand<P, A>,
    params: P,
    options?: JobOptions
  ) => Effect.Effect<A, CloudStackError>
}

export class CloudStackClient extends Context.Tag("cloudstack-ccm/cloudstack/CloudStackClient")<
  CloudStackClient,
  CloudStackClientShape
>() {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Whether a configured `project-id` is a UUID (used as is) rather than a project name (looked up). */
export const isUuid = (value: string): boolean => UUID.test(value)

const scopeParams = (scope: Scope, projectId: Option.Option<ProjectId>): Params => {
  const project = Option.match(projectId, { onNone: () => ({}), onSome: (id) => ({ projectid: id }) })
  switch (scope) {
    case "list":
      return { listall: "true", ...project }
    case "create":
      return project
    case "none":
      return {}
  }
}

const makeClient = (
  core: Core,
  config: CloudConfig["Type"],
  metrics: MetricsShape,
  lanes: JobLanes.JobLanes,
  projectId: Option.Option<ProjectId>
): CloudStackClientShape => {
  const secrets = secretsOf(config)
  const paramsOf = <P>(command: { readonly scope: Scope; readonly encode: (p: P) => Params }, params: P): Params => ({
    ...command.encode(params),
    ...scopeParams(command.scope, projectId)
  })

  const call = <P, A>(command: SyncCommand<P, A>, params: P) =>
    core.request(command.name, command.method, paramsOf(command, params), command.decode)

  interface Cursor {
    readonly page: number
    readonly seen: number
  }
  const fetchPage = <P, A>(command: ListCommand<P, A>, base: Params, page: number) =>
    core.request(
      command.name,
      "GET",
      { ...base, page: String(page), pagesize: String(PAGE_SIZE) },
      command.decodePage,
      command.skim
    )
  /**
   * The next page, if `count` says there is more. `{}` (no count) is an empty result. A page that
   * comes back empty before `count` items were seen makes the listing incomplete: an error, never
   * "that is all" (a short listing would make VMs look gone).
   */
  const nextCursor = (command: string, cursor: Cursor, page: ListPage<unknown>) => {
    const seen = cursor.seen + page.items.length
    if (page.count === undefined || seen >= page.count) return Either.right(Option.none<Cursor>())
    if (page.items.length === 0) {
      return Either.left(
        new CloudStackDecodeError({
          command,
          detail: `page ${cursor.page} is empty but count is ${page.count} and ${seen} items were listed`
        })
      )
    }
    return Either.right(Option.some<Cursor>({ page: cursor.page + 1, seen }))
  }

  const stream = <P, A>(command: ListCommand<P, A>, params: P): Stream.Stream<A, CloudStackError> => {
    const base = paramsOf(command, params)
    return Stream.paginateChunkEffect<Cursor, A, CloudStackError, never>(
      { page: 1, seen: 0 },
      (cursor) =>
        Effect.flatMap(
          fetchPage(command, base, cursor.page),
          (page) =>
            Effect.map(
              nextCursor(command.name, cursor, page),
              (next) => [Chunk.fromIterable(page.items), next] as const
            )
        )
    )
  }

  // The same walk as `stream` without Stream machinery: `list` is on every reconcile's hot path.
  const list = <P, A>(command: ListCommand<P, A>, params: P): Effect.Effect<ReadonlyArray<A>, CloudStackError> => {
    const base = paramsOf(command, params)
    const walk = (cursor: Cursor, collected: ReadonlyArray<A>): Effect.Effect<ReadonlyArray<A>, CloudStackError> =>
      Effect.flatMap(fetchPage(command, base, cursor.page), (page) => {
        const all = collected.length === 0 ? page.items : [...collected, ...page.items]
        return Effect.flatMap(
          nextCursor(command.name, cursor, page),
          Option.match({ onNone: () => Effect.succeed(all), onSome: (next) => walk(next, all) })
        )
      })
    return walk({ page: 1, seen: 0 }, []).pipe(
      Effect.withSpan("CloudStackClient.list", { attributes: { command: command.name } })
    )
  }

  const submit = <P, A>(command: AsyncCommand<P, A>, params: P, options?: JobOptions) =>
    Effect.gen(function*() {
      const answer = yield* core.request(command.name, "POST", paramsOf(command, params), decodeSubmitted)
      if (command.kind === "asyncCreate" && answer.id === undefined) {
        return yield* new CloudStackDecodeError({ command: command.name, detail: "id: is missing" })
      }
      const submittedAt = yield* Clock.currentTimeMillis
      yield* Effect.logDebug("CloudStack job submitted").pipe(
        Effect.annotateLogs({ command: command.name, jobId: answer.jobId })
      )
      return {
        command: command.name,
        jobId: answer.jobId,
        entityId: Option.fromNullable(answer.id),
        submittedAt,
        lane: Option.fromNullable(options?.lane)
      }
    }).pipe(Effect.withSpan("CloudStackClient.submit", { attributes: { command: command.name } }))

  const observeJob = (job: SubmittedJob, result: "success" | "failed" | "timeout") =>
    Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        Effect.sync(() =>
          metrics.asyncJobWait.observe({ command: job.command, result }, (now - job.submittedAt) / 1000)
        )
    )

  const pollUntilDone = (job: SubmittedJob) => {
    const poll = call(queryAsyncJobResult, { jobId: job.jobId })
    const loop = (pending: number): Effect.Effect<AsyncJobResult, CloudStackError> =>
      Effect.flatMap(poll, (answer) =>
        answer.jobStatus === 0
          ? Effect.zipRight(Effect.sleep(pollDelay(pending + 1)), loop(pending + 1))
          : Effect.succeed(answer))
    const wait = Option.match(job.lane, {
      onNone: () => loop(0),
      onSome: (lane) => lanes.await(lane, job.jobId, job.submittedAt, poll)
    })
    return wait.pipe(
      Effect.timeoutFail({
        duration: config.asyncJobTimeout,
        onTimeout: () =>
          new AsyncJobTimeoutError({ command: job.command, jobId: job.jobId, waited: config.asyncJobTimeout })
      })
    )
  }

  const waitForJob = <P, A>(command: AsyncCommand<P, A>, job: SubmittedJob) =>
    Effect.gen(function*() {
      const done = yield* pollUntilDone(job).pipe(
        Effect.tapError((e) => e._tag === "AsyncJobTimeoutError" ? observeJob(job, "timeout") : Effect.void)
      )
      if (done.jobStatus === 2) {
        yield* observeJob(job, "failed")
        const failure = Schema.decodeUnknownOption(JobFailure)(done.jobResult)
        return yield* new AsyncJobFailedError({
          command: command.name,
          jobId: job.jobId,
          errorCode: Option.flatMapNullable(failure, (f) => f.errorCode).pipe(
            Option.orElse(() => Option.fromNullable(done.jobResultCode)),
            Option.getOrElse(() => 530)
          ),
          errorText: Redact.redact(
            Option.flatMapNullable(failure, (f) => f.errorText).pipe(Option.getOrElse(() => "")),
            secrets
          )
        })
      }
      yield* observeJob(job, "success")
      const result = done.jobResult
      if (!Predicate.isRecord(result) || !(command.resultKey in result)) {
        return yield* new CloudStackDecodeError({
          command: command.name,
          detail: `jobresult.${command.resultKey}: is missing`
        })
      }
      return yield* Effect.mapError(
        command.decodeResult(result[command.resultKey]),
        toDecodeError(command.name, ["jobresult", command.resultKey], secrets)
      )
    }).pipe(
      Effect.withSpan("CloudStackClient.waitForJob", { attributes: { command: command.name, jobId: job.jobId } })
    )

  const run = <P, A>(command: AsyncCommand<P, A>, params: P, options?: JobOptions) =>
    Effect.flatMap(submit(command, params, options), (job) => waitForJob(command, job))

  return { projectId, call, list, stream, submit, waitForJob, run }
}

const decodeSubmitted = Schema.decodeUnknown(JobSubmitted)

/**
 * Resolves `project-id` once: a UUID-shaped value is used as is; a name is looked up with
 * `listProjects name=<n> listall=true` and must match exactly one project (names compare
 * case-insensitively, like CloudStack's MySQL collation).
 */
const resolveProject = (
  client: CloudStackClientShape,
  configured: Option.Option<string>
): Effect.Effect<Option.Option<ProjectId>, CloudStackError | CloudStackProjectError> =>
  Option.match(configured, {
    onNone: () => Effect.succeed(Option.none()),
    onSome: (value) =>
      isUuid(value)
        ? Effect.succeed(Option.some(ProjectId.make(value)))
        : Effect.gen(function*() {
          const projects = yield* client.list(listProjects, { name: value, listAll: true })
          const matches = projects.filter((p) => p.name.toLowerCase() === value.toLowerCase())
          const [only, ...rest] = matches
          if (only === undefined) {
            return yield* new CloudStackProjectError({ project: value, reason: "NotFound", candidates: [] })
          }
          if (rest.length > 0) {
            return yield* new CloudStackProjectError({
              project: value,
              reason: "Ambiguous",
              candidates: matches.map((p) => p.id)
            })
          }
          yield* Effect.logInfo("CloudStack project resolved").pipe(
            Effect.annotateLogs({ project: value, projectId: only.id })
          )
          return Option.some(only.id)
        })
  })

/** Builds the client; scoped because the rate limiter lives as long as the layer. */
export const make: Effect.Effect<
  CloudStackClientShape,
  CloudStackError | CloudStackProjectError,
  CloudStackTransport | CloudConfig | Metrics | EffectScope.Scope
> = Effect.gen(function*() {
  const transport = yield* CloudStackTransport
  const config = yield* CloudConfig
  const metrics = yield* Metrics
  const semaphore = yield* Effect.makeSemaphore(config.maxInFlight)
  const limiter = yield* RateLimiter.make({ limit: config.requestsPerSecond, interval: Duration.seconds(1) })
  const core = makeCore(secretsOf(config), transport, metrics, limiter, semaphore)
  const lanes = yield* JobLanes.make
  const projectId = yield* resolveProject(makeClient(core, config, metrics, lanes, Option.none()), config.projectId)
  return CloudStackClient.of(makeClient(core, config, metrics, lanes, projectId))
}).pipe(Effect.annotateLogs({ module: "CloudStackClient" }))

/** The live client over whatever `CloudStackTransport` is provided (HTTP or the simulator). */
export const layer = Layer.scoped(CloudStackClient, make)
