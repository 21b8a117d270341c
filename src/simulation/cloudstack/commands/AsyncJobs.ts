/** The simulator's async-job results: queryAsyncJobResult and a job's rendering. Read-only. */
import { Either } from "effect"
import type { Commands, Obj } from "../Handler.js"
import { formatDate } from "../Render.js"
import type { JobRow } from "../SimModel.js"

export const renderJob = (j: JobRow): Obj => {
  const out: Obj = {
    accountid: j.accountUuid,
    userid: j.userUuid,
    cmd: j.cmdClass,
    jobstatus: j.status,
    jobprocstatus: 0,
    jobresultcode: j.resultCode,
    jobresulttype: "object"
  }
  if (j.status !== 0) out.jobresult = j.result
  if (j.instanceType !== undefined) out.jobinstancetype = j.instanceType
  if (j.instanceUuid !== undefined) out.jobinstanceid = j.instanceUuid
  out.created = formatDate(j.created)
  if (j.completed !== undefined) out.completed = formatDate(j.completed)
  out.jobid = j.uuid
  return out
}

export const commands: Commands = {
  queryAsyncJobResult: (c, p) => Either.map(p.reqUuid("jobid", c.s.jobs), renderJob)
}
