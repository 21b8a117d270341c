/**
 * The simulator's HTTP face: a `node:http` server on 127.0.0.1 speaking CloudStack's protocol at
 * `/client/api` (GET query or POST form), checking signatures and `expires` like the real
 * management server (see RequestVerifier) before handing the call to `CloudStackSimulator.handle`.
 * It owns the socket only; every CloudStack rule lives in the simulator.
 */
import { Clock, Context, Data, Effect, FiberSet, Layer, Option } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { isAllowed, unavailable } from "./ApiCatalogue.js"
import type { OnCall } from "./CallRecorder.js"
import { CloudStackSimulator, type SimResponse } from "./CloudStackSimulator.js"
import { errorBody } from "./Fail.js"
import * as Verifier from "./RequestVerifier.js"

export const API_PATH = "/client/api"
/** Loopback only: the simulator is never reachable from another machine. */
export const HOST = "127.0.0.1"
/** Larger bodies get 413; real requests are a few KiB at most. */
const MAX_BODY_BYTES = 1 << 20

export interface SimulatorHttpServerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one (read it back from the service). */
  readonly port: number
  /** Whether a command name exists (case-sensitive); unknown ones get the 401 with `errorresponse`. */
  readonly isCommand: (command: string) => boolean
  /** Told about every API request once it is answered (401s and dropped connections included). */
  readonly onCall?: OnCall | undefined
}

export class SimulatorHttpServer extends Context.Tag("cloudstack-ccm/simulation/SimulatorHttpServer")<
  SimulatorHttpServer,
  {
    /** The bound port (the real one when 0 was asked for). */
    readonly port: number
    /** `http://127.0.0.1:<port>/client/api`, the `api-url` clients use. */
    readonly apiUrl: string
  }
>() {}

/** The server could not start listening (port taken, no permission). */
export class SimulatorServerError extends Data.TaggedError("SimulatorServerError")<{
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `cannot listen on ${HOST}:${this.port}: ${detail}`
  }
}

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const plain = (status: number, body: string): Answer => ({ status, contentType: "text/plain; charset=UTF-8", body })

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

const render = (status: number, body: unknown, json: boolean): Answer =>
  json || !isRecord(body)
    ? { status, contentType: Verifier.JSON_CONTENT_TYPE, body: JSON.stringify(body) }
    : { status, contentType: Verifier.XML_CONTENT_TYPE, body: Verifier.renderXml(body) }

const fromSimulator = (response: SimResponse, json: boolean): Answer =>
  response.text !== undefined ? plain(response.status, response.text) : render(response.status, response.body, json)

const isForm = (req: IncomingMessage): boolean =>
  (req.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded")

const write = (res: ServerResponse, answer: Answer): void => {
  res.writeHead(answer.status, {
    "Content-Type": answer.contentType,
    "Content-Length": Buffer.byteLength(answer.body)
  })
  res.end(answer.body)
}

/**
 * Builds the server inside the current scope: listening when this succeeds, closed (connections
 * included) and in-flight requests interrupted when the scope closes.
 */
export const make = (options: SimulatorHttpServerOptions) =>
  Effect.gen(function*() {
    const simulator = yield* CloudStackSimulator
    const runFork = yield* FiberSet.makeRuntime<never>()

    /** The answer to a parsed request (undefined when the simulator plays "unreachable"), with the caller's account. */
    const decide = (
      params: Verifier.RawParams
    ): Effect.Effect<{ readonly answer: Answer | undefined; readonly account: string | undefined }> =>
      Effect.gen(function*() {
        const json = Verifier.wantsJson(params)
        const apiKey = Verifier.apiKeyOf(params)
        const credentials = apiKey === undefined ? Option.none() : yield* simulator.credentials(apiKey)
        const account = Option.getOrUndefined(Option.map(credentials, (c) => c.account))
        const verdict = Verifier.verify(params, {
          now: yield* Clock.currentTimeMillis,
          secretKey: Option.map(credentials, (c) => c.secretKey),
          isCommand: options.isCommand,
          isAllowed: (command) => Option.exists(credentials, (c) => isAllowed(c, command))
        })
        if (verdict._tag === "Unavailable") {
          return {
            answer: render(432, errorBody(verdict.command, unavailable(verdict.command, account ?? "")), json),
            account
          }
        }
        if (verdict._tag === "Rejected") {
          yield* Effect.logDebug("request rejected").pipe(
            Effect.annotateLogs({ module: "SimulatorHttpServer", reason: verdict.reason })
          )
          return {
            answer: render(401, Verifier.unauthorizedBody(Verifier.rejectionKey(params, options.isCommand)), json),
            account
          }
        }
        const response = yield* simulator.handle({
          command: verdict.command,
          params: verdict.params,
          apiKey: verdict.apiKey
        })
        return { answer: response.unreachable === true ? undefined : fromSimulator(response, json), account }
      })

    const onCall = options.onCall
    /** `decide`, then the call log entry (if any) once the answer is known. */
    const answer = (params: Verifier.RawParams): Effect.Effect<Answer | undefined> =>
      onCall === undefined
        ? Effect.map(decide(params), (d) => d.answer)
        : Effect.gen(function*() {
          const at = yield* Clock.currentTimeMillis
          const { account, answer } = yield* decide(params)
          const done = yield* Clock.currentTimeMillis
          yield* onCall({
            at,
            command: params["command"] ?? "",
            params: Verifier.commandParams(params),
            status: answer?.status ?? 0,
            account,
            durationMs: done - at
          })
          return answer
        })

    const serve = (req: IncomingMessage, res: ServerResponse, body: string): void => {
      const target = req.url ?? "/"
      const mark = target.indexOf("?")
      const path = mark < 0 ? target : target.slice(0, mark)
      if (path !== API_PATH && path !== `${API_PATH}/`) return write(res, plain(404, "not found"))
      const query = mark < 0 ? "" : target.slice(mark + 1)
      const params = Verifier.parseParams(query, req.method === "POST" && isForm(req) ? body : "")
      runFork(
        answer(params).pipe(
          Effect.flatMap((a) => Effect.sync(() => (a === undefined ? req.socket.destroy() : write(res, a))))
        )
      )
    }

    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      if (req.method !== "GET" && req.method !== "POST") {
        res.setHeader("Allow", "GET, POST")
        return write(res, plain(405, "method not allowed"))
      }
      const chunks: Array<Buffer> = []
      let size = 0
      req.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size <= MAX_BODY_BYTES) chunks.push(chunk)
      })
      req.on("end", () =>
        size > MAX_BODY_BYTES
          ? write(res, plain(413, "request body too large"))
          : serve(req, res, Buffer.concat(chunks).toString("utf8")))
    }

    const server = yield* Effect.acquireRelease(
      Effect.async<Server, SimulatorServerError>((resume) => {
        // node's listen throws a RangeError (a defect here) for these: say it as the typed error.
        if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
          return resume(
            Effect.fail(
              new SimulatorServerError({ port: options.port, cause: "the port must be an integer in 0..65535" })
            )
          )
        }
        const s = createServer({ keepAlive: true }, onRequest)
        s.once("error", (cause) => resume(Effect.fail(new SimulatorServerError({ port: options.port, cause }))))
        s.listen(options.port, HOST, () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.close(() => resume(Effect.void))
          s.closeAllConnections()
        })
    )
    const address = server.address()
    const port = address !== null && typeof address === "object" ? address.port : options.port
    yield* Effect.logInfo("CloudStack simulator listening").pipe(
      Effect.annotateLogs({ module: "SimulatorHttpServer", port })
    )
    return SimulatorHttpServer.of({ port, apiUrl: `http://${HOST}:${port}${API_PATH}` })
  })

/** The HTTP face as a scoped layer over a `CloudStackSimulator`. */
export const layer = (
  options: SimulatorHttpServerOptions
): Layer.Layer<SimulatorHttpServer, SimulatorServerError, CloudStackSimulator> =>
  Layer.scoped(SimulatorHttpServer, make(options))
