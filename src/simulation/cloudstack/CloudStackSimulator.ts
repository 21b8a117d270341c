/**
 * The CloudStack simulator service: a faithful in-memory management server that speaks the wire
 * format (command + string params in, JSON envelope out). This module is the seam only: the Tag
 * and the request/response/fault types shared by the in-memory layer and the HTTP face. It must
 * not know about HTTP, signing or the typed client. The layer is `Simulator.layer(world, options)`.
 */
import { Context, type Duration, type Effect, type Option } from "effect"
import type { SimState } from "./SimModel.js"

export interface SimRequest {
  readonly command: string
  /** Every parameter except command/apiKey/response/signature/signatureVersion/expires, decoded. */
  readonly params: Readonly<Record<string, string>>
  /** The caller's api key; undefined = the world's default account (direct engine calls, not the transports). */
  readonly apiKey: string | undefined
}

export interface SimResponse {
  /** HTTP status: 200, or the errorcode of an error envelope. */
  readonly status: number
  /** The JSON envelope object, e.g. `{"listzonesresponse":{...}}`. Undefined when `text` is set. */
  readonly body: unknown
  /**
   * Set during an `apiDown` window in mode "unavailable": a non-JSON answer (what a proxy in front
   * of a dead management server sends). Serve it as `text/plain`.
   */
  readonly text?: string
  /** Set during an `apiDown` window in mode "unreachable": behave as if nothing listens (reset/refuse). */
  readonly unreachable?: boolean
}

export interface ApiCredentials {
  readonly apiKey: string
  readonly secretKey: string
  readonly account: string
  readonly role: "admin" | "user"
  /** Role-rule patterns of the commands the account is denied (see ApiCatalogue.isAllowed). */
  readonly deniedApis: ReadonlyArray<string>
}

export interface ErrorRate {
  /** Command name, or "*" for every command. */
  readonly command: string
  /** Error code to answer with (HTTP status = code), e.g. 530, 534, 429. */
  readonly code: number
  /** Probability in [0, 1] per call, drawn from the simulator's seeded Random. */
  readonly rate: number
}

export interface ApiDownWindow {
  /** Epoch ms on the simulator's Clock, inclusive. */
  readonly from: number
  /** Epoch ms on the simulator's Clock, exclusive. */
  readonly until: number
  readonly mode: "unavailable" | "unreachable"
}

export interface Faults {
  readonly errorRates: ReadonlyArray<ErrorRate>
  /** Added to every call before it is handled (Effect.sleep on the Clock); a number is millis. */
  readonly latency: Duration.DurationInput
  /** Probability in [0, 1] that an async job fails with 530 at execution. */
  readonly jobFailureRate: number
  /** Time from submission to execution of each async job (per-network FIFO queues add up). */
  readonly jobDuration: Duration.DurationInput
  /** Probability in [0, 1] that an async job takes `slowJobDuration` longer (its queue waits too). */
  readonly slowJobRate: number
  /** The extra time of a slow job, e.g. longer than a client's job timeout (default 6 minutes). */
  readonly slowJobDuration: Duration.DurationInput
  /**
   * Probability in [0, 1] that an async job never runs: it blocks its queue until the server cancels
   * it after `jobCancelThreshold` (jobstatus 2, jobresultcode 0, "Job is cancelled as it has been
   * blocking others for too long", as AsyncJobManagerImpl does), with no effect.
   */
  readonly stuckJobRate: number
  /** `job.cancel.threshold.minutes` (default 60 minutes). */
  readonly jobCancelThreshold: Duration.DurationInput
  readonly apiDown: Option.Option<ApiDownWindow>
}

export interface CallRecord {
  /** Epoch ms on the simulator's Clock. */
  readonly at: number
  readonly command: string
  readonly params: Readonly<Record<string, string>>
  readonly status: number
}

export class CloudStackSimulator extends Context.Tag("cloudstack-ccm/simulation/CloudStackSimulator")<
  CloudStackSimulator,
  {
    /** Answers one API call. Never fails: every error is an envelope with its HTTP status. */
    readonly handle: (request: SimRequest) => Effect.Effect<SimResponse>
    /** Looks up a key pair, for the HTTP face's signature check. */
    readonly credentials: (apiKey: string) => Effect.Effect<Option.Option<ApiCredentials>>
    /** Merges the given fault settings into the current ones. */
    readonly setFaults: (faults: Partial<Faults>) => Effect.Effect<void>
    /**
     * The next `n` jobs of `command` fail at execution with `code` (default 530) and `text`
     * (default: the command's real failure text, e.g. "Failed to assign load balancer rule").
     */
    readonly failNextJobs: (command: string, n: number, code?: number, text?: string) => Effect.Effect<void>
    /** Every call so far, oldest first. */
    readonly callLog: Effect.Effect<ReadonlyArray<CallRecord>>
    /** Calls per command so far. */
    readonly counters: Effect.Effect<ReadonlyMap<string, number>>
    /** A read-only snapshot of every table, jobs advanced to the current Clock time. */
    readonly state: Effect.Effect<SimState>
  }
>() {}
