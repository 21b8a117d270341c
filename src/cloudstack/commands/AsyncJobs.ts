/**
 * Async job plumbing (reference 3): the immediate `{jobid}` / `{id, jobid}` answer and
 * queryAsyncJobResult. `jobresult` stays `unknown` here; the submitting command decodes it.
 */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { JobId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

/** The answer of an async command before its job runs; `id` is the new entity for create-style commands. */
export const JobSubmitted = Schema.Struct({
  jobId: Wire.required("jobid", JobId),
  id: Schema.optional(Schema.String)
})
export type JobSubmitted = typeof JobSubmitted.Type

export const JobStatus = Schema.Literal(0, 1, 2)

export const AsyncJobResult = Schema.Struct({
  jobId: Wire.required("jobid", JobId),
  /** 0 pending, 1 succeeded, 2 failed. */
  jobStatus: Wire.required("jobstatus", JobStatus),
  jobResultCode: Wire.optional("jobresultcode", Schema.Int),
  jobResult: Wire.optional("jobresult", Schema.Unknown),
  jobInstanceType: Wire.optional("jobinstancetype", Schema.String),
  jobInstanceId: Wire.optional("jobinstanceid", Schema.String)
})
export type AsyncJobResult = typeof AsyncJobResult.Type

/** `jobresult` of a failed job: `{errorcode, errortext}`, no cserrorcode. */
export const JobFailure = Schema.Struct({
  errorCode: Wire.optional("errorcode", Schema.Int),
  errorText: Wire.optional("errortext", Schema.String)
})

export const queryAsyncJobResult = Command.sync({
  name: "queryAsyncJobResult",
  method: "GET",
  response: AsyncJobResult,
  params: { jobId: Param.string<JobId>("jobid") }
})
