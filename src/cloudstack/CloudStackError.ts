/**
 * Every way a CloudStack call can fail, as tagged errors classified once at the boundary by HTTP
 * status, `errorcode` and `cserrorcode` (reference 2.2-2.4), never by message text.
 * Retrying is decided here (`isRetryable`), not by callers guessing.
 */
import { Data, Duration } from "effect"

/** Coarse class of an API error answer, used for retry decisions, metrics and messages. */
export type ApiErrorClass =
  | "auth" // 401: bad keys, signature, expired request, unknown command
  | "methodNotAllowed" // 405
  | "rateLimited" // 429
  | "malformedParameter" // 430
  | "parameter" // 431
  | "unsupported" // 432
  | "internal" // 530
  | "permission" // 531
  | "limit" // 532, 535
  | "capacity" // 533
  | "unavailable" // 534, 502, 503, 504
  | "inUse" // 536
  | "conflict" // 537
  | "unknown"

export const classifyErrorCode = (code: number): ApiErrorClass => {
  switch (code) {
    case 401:
    case 511:
      return "auth"
    case 405:
      return "methodNotAllowed"
    case 429:
      return "rateLimited"
    case 430:
      return "malformedParameter"
    case 431:
      return "parameter"
    case 432:
      return "unsupported"
    case 530:
      return "internal"
    case 531:
      return "permission"
    case 532:
    case 535:
      return "limit"
    case 533:
      return "capacity"
    case 534:
    case 502:
    case 503:
    case 504:
      return "unavailable"
    case 536:
      return "inUse"
    case 537:
      return "conflict"
    default:
      return "unknown"
  }
}

/** An error answer of the API: the envelope `{errorcode, cserrorcode, errortext, uuidList}`. */
export class CloudStackApiError extends Data.TaggedError("CloudStackApiError")<{
  readonly command: string
  readonly httpStatus: number
  readonly errorCode: number
  readonly csErrorCode: number | undefined
  readonly errorText: string
  readonly uuidList: ReadonlyArray<{ readonly uuid: string; readonly description?: string | undefined }>
}> {
  get errorClass(): ApiErrorClass {
    return classifyErrorCode(this.errorCode)
  }
  override get message(): string {
    const cs = this.csErrorCode === undefined ? "" : `, cserrorcode ${this.csErrorCode}`
    const hint = this.errorCode === 401
      ? " (check api-key and secret-key in the cloud-config, that the key pair is enabled, and the clock: signed requests expire)"
      : ""
    return `CloudStack ${this.command} failed (HTTP ${this.httpStatus}, errorcode ${this.errorCode}${cs}): ${this.errorText}${hint}`
  }
}

/** The request never got an HTTP answer (DNS, connect, TLS, reset) or timed out waiting for one. */
export class CloudStackTransportError extends Data.TaggedError("CloudStackTransportError")<{
  readonly command: string
  readonly reason: "Connect" | "Timeout" | "Tls" | "Reset" | "Other"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `CloudStack ${this.command}: ${this.reason.toLowerCase()} error: ${this.detail}`
  }
}

/**
 * The server answered with something that is not CloudStack's JSON envelope for the command (HTML
 * proxy page, truncated JSON, an empty body, another service's JSON). Never an answer: not even
 * "nothing found".
 */
export class CloudStackUnexpectedBodyError extends Data.TaggedError("CloudStackUnexpectedBodyError")<{
  readonly command: string
  readonly httpStatus: number
  readonly contentType: string
  /** First bytes of the body, for the operator to recognise what answered. */
  readonly bodyPrefix: string
}> {
  override get message(): string {
    const type = this.contentType === "" ? "no content type" : this.contentType
    return `CloudStack ${this.command}: the HTTP ${this.httpStatus} answer (${type}) is not CloudStack's answer to ${this.command} (check api-url): ${
      JSON.stringify(this.bodyPrefix)
    }`
  }
}

/** A JSON answer that does not match the command's response schema (missing or mistyped field). */
export class CloudStackDecodeError extends Data.TaggedError("CloudStackDecodeError")<{
  readonly command: string
  readonly detail: string
}> {
  override get message(): string {
    return `CloudStack ${this.command}: unexpected response shape: ${this.detail}`
  }
}

/** An async job finished with jobstatus 2. */
export class AsyncJobFailedError extends Data.TaggedError("AsyncJobFailedError")<{
  readonly command: string
  readonly jobId: string
  readonly errorCode: number
  readonly errorText: string
}> {
  get errorClass(): ApiErrorClass {
    return classifyErrorCode(this.errorCode)
  }
  override get message(): string {
    return `CloudStack ${this.command} job ${this.jobId} failed (errorcode ${this.errorCode}): ${this.errorText}`
  }
}

/** An async job was still pending when the overall wait ran out; it may still complete later. */
export class AsyncJobTimeoutError extends Data.TaggedError("AsyncJobTimeoutError")<{
  readonly command: string
  readonly jobId: string
  readonly waited: Duration.Duration
}> {
  override get message(): string {
    return `CloudStack ${this.command} job ${this.jobId} still pending after ${Duration.format(this.waited)}`
  }
}

/**
 * A job started earlier (by an attempt or a process whose wait ended) is still running: its entity
 * is in a transitional state. Waited for (a retry later), never started a second time.
 */
export class AsyncJobPendingError extends Data.TaggedError("AsyncJobPendingError")<{
  readonly command: string
  /** What the job works on (an address, an id). */
  readonly entity: string
}> {
  override get message(): string {
    return `CloudStack ${this.command} of ${this.entity} is still running`
  }
}

export type CloudStackError =
  | CloudStackApiError
  | CloudStackTransportError
  | CloudStackUnexpectedBodyError
  | CloudStackDecodeError
  | AsyncJobFailedError
  | AsyncJobTimeoutError
  | AsyncJobPendingError

const RETRYABLE_CLASSES: ReadonlySet<ApiErrorClass> = new Set(["rateLimited", "unavailable"])

/**
 * Whether repeating the same read may succeed: transport errors and timeouts, 429, unavailable-type
 * answers (534, 502/503/504), and any answer that is not CloudStack's (a proxy or a captive portal
 * in the way may step aside). 401, 430, 431, 531 and 537 never retry. Job failures and job timeouts are not retried here: the
 * job may have had effects, so the caller re-reads state and decides.
 */
export const isRetryable = (error: CloudStackError): boolean => {
  switch (error._tag) {
    case "CloudStackTransportError":
      return true
    case "CloudStackApiError":
      return RETRYABLE_CLASSES.has(error.errorClass)
    case "CloudStackUnexpectedBodyError":
      return true
    default:
      return false
  }
}

/**
 * Whether a failed *mutation* may be sent again: only when the failure proves the server did not
 * execute it. That is a transport failure before the request was written (`Connect`: refused, DNS,
 * connect timeout), or a 429/503 answer (rate limiter or a proxy/load balancer turning the request
 * away before CloudStack accepted it). A timeout, a reset, or any other error answer may come after
 * the command ran (async commands may already have created an entity), so they are never repeated.
 */
export const isRetryableMutation = (error: CloudStackError): boolean => {
  switch (error._tag) {
    case "CloudStackTransportError":
      return error.reason === "Connect"
    case "CloudStackApiError":
      return error.httpStatus === 429 || error.httpStatus === 503 || error.errorCode === 429
    case "CloudStackUnexpectedBodyError":
      return error.httpStatus === 429 || error.httpStatus === 503
    default:
      return false
  }
}

/** The text of CloudStack's 431 when the network's Lb provider cannot balance a rule (the virtual router and UDP). */
export const LB_PROVIDER_REFUSAL = "LB service provider cannot support this rule"

/**
 * The provider refusing a rule it cannot balance. CloudStack gives this 431 no code of its own, so
 * its text is the only mark: any other 431 (an invalid value, an answer from something in between)
 * says nothing of the protocol.
 */
export const isLbProviderRefusal = (error: CloudStackError): boolean =>
  error._tag === "CloudStackApiError" && error.errorCode === 431 && error.errorText.includes(LB_PROVIDER_REFUSAL)

/** The configured `project-id` could not be resolved to exactly one project at start-up. */
export class CloudStackProjectError extends Data.TaggedError("CloudStackProjectError")<{
  readonly project: string
  readonly reason: "NotFound" | "Ambiguous"
  /** Ids of the matching projects when ambiguous. */
  readonly candidates: ReadonlyArray<string>
}> {
  override get message(): string {
    return this.reason === "NotFound"
      ? `CloudStack project ${
        JSON.stringify(this.project)
      } not found (check project-id in the cloud-config and that the API key's account is a member)`
      : `CloudStack project name ${JSON.stringify(this.project)} is ambiguous (${
        this.candidates.join(", ")
      }); set project-id to the project's UUID`
  }
}
