/**
 * A scripted in-test `CloudStackTransport`: a handler answers each request (by command, params or
 * call index) and every request is logged, so tests assert on what reached the wire. Answers are
 * built with the helpers below in the exact envelope shapes of reference section 2.
 */
import { Context, Effect, Layer, Ref } from "effect"
import type { CloudStackTransportError } from "../../src/cloudstack/CloudStackError.js"
import {
  type CloudStackRawResponse,
  type CloudStackRequest,
  CloudStackTransport
} from "../../src/cloudstack/CloudStackTransport.js"
import * as ResponseKey from "../../src/cloudstack/ResponseKey.js"

export type Handler = (
  request: CloudStackRequest,
  index: number
) => Effect.Effect<CloudStackRawResponse, CloudStackTransportError>

export class ScriptedLog extends Context.Tag("cloudstack-ccm/test/ScriptedLog")<ScriptedLog, {
  /** Every request sent so far, in order. */
  readonly requests: Effect.Effect<ReadonlyArray<CloudStackRequest>>
}>() {}

/** The transport plus its request log, one fresh log per layer build. */
export const layer = (handler: Handler): Layer.Layer<CloudStackTransport | ScriptedLog> =>
  Layer.effectContext(Effect.gen(function*() {
    const log = yield* Ref.make<ReadonlyArray<CloudStackRequest>>([])
    const send = (request: CloudStackRequest) =>
      Ref.modify(log, (xs) => [xs.length, [...xs, request]] as const).pipe(
        Effect.flatMap((index) => handler(request, index))
      )
    return Context.make(CloudStackTransport, CloudStackTransport.of({ send })).pipe(
      Context.add(ScriptedLog, { requests: Ref.get(log) })
    )
  }))

/** Answers in order; a request past the end of the script is a test bug (defect). */
export const script = (steps: ReadonlyArray<Handler | CloudStackRawResponse>): Handler => (request, index) => {
  const step = steps[index]
  if (step === undefined) return Effect.dieMessage(`unscripted request #${index}: ${request.command}`)
  return typeof step === "function" ? step(request, index) : Effect.succeed(step)
}

export const json = (status: number, body: unknown): CloudStackRawResponse => ({
  status,
  contentType: "application/json; charset=UTF-8",
  body: JSON.stringify(body)
})

/** `{"<command>response": inner}` (the command's envelope key) with HTTP 200. */
export const ok = (command: string, inner: unknown): CloudStackRawResponse =>
  json(200, { [ResponseKey.of(command)]: inner })

/** An API error envelope; `cs` omitted like the 401 auth path. */
export const apiError = (command: string, code: number, text: string, cs?: number): CloudStackRawResponse =>
  json(code, {
    [ResponseKey.of(command)]: {
      uuidList: [],
      errorcode: code,
      ...(cs === undefined ? {} : { cserrorcode: cs }),
      errortext: text
    }
  })

export const html = (status: number, body: string): CloudStackRawResponse => ({
  status,
  contentType: "text/html",
  body
})

/** A queryAsyncJobResult answer. */
export const job = (jobId: string, status: 0 | 1 | 2, result?: unknown): CloudStackRawResponse =>
  ok("queryAsyncJobResult", {
    jobid: jobId,
    jobstatus: status,
    jobprocstatus: 0,
    jobresultcode: status === 2 && typeof result === "object" && result !== null && "errorcode" in result
      ? result.errorcode
      : 0,
    jobresulttype: "object",
    ...(result === undefined ? {} : { jobresult: result })
  })
