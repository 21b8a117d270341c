/**
 * The simulator's `--record FILE` call log: one JSON line per API call the HTTP face answered
 * (time, account, command, parameters with secrets redacted, HTTP status, duration). Formatting is
 * pure; `fileRecorder` owns the file for the scope and writes the lines one at a time, in order.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Data, DateTime, Effect, type Scope } from "effect"

export interface RecordedCall {
  /** Epoch ms on the simulator's Clock when the request arrived. */
  readonly at: number
  /** The `command` parameter as sent ("" when missing). */
  readonly command: string
  /** The command's parameters (authentication parameters already removed). */
  readonly params: Readonly<Record<string, string>>
  /** The answer's HTTP status; 0 when the connection was dropped (an `unreachable` API-down window). */
  readonly status: number
  /** The account of the request's api key, when the key is known. */
  readonly account: string | undefined
  readonly durationMs: number
}

/** The answer to a call: what the face tells the recorder. */
export type OnCall = (call: RecordedCall) => Effect.Effect<void>

/** Parameter names whose values never reach the log (last segment of a map key, any case). */
const SECRET_NAMES: ReadonlySet<string> = new Set([
  "apikey",
  "secretkey",
  "signature",
  "password",
  "currentpassword",
  "sessionkey",
  "token",
  "userdata"
])

export const REDACTED = "<redacted>"

const isSecret = (name: string): boolean => {
  const last = (name.split(".").pop() ?? name).toLowerCase()
  return SECRET_NAMES.has(last) || last.endsWith("password") || last.endsWith("secretkey")
}

/** The parameters with every secret value replaced by `<redacted>`. */
export const redact = (params: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(params).map(([name, value]) => [name, isSecret(name) ? REDACTED : value]))

/** One line of the log: `{"time","account","command","params","status","ms"}` (no newline). */
export const toJsonLine = (call: RecordedCall): string =>
  JSON.stringify({
    time: DateTime.formatIso(DateTime.unsafeMake(call.at)),
    ...(call.account === undefined ? {} : { account: call.account }),
    command: call.command,
    params: redact(call.params),
    status: call.status,
    ms: call.durationMs
  })

/** The call log file cannot be created or written. */
export class CallRecordError extends Data.TaggedError("CallRecordError")<{
  readonly path: string
  readonly cause: PlatformError
}> {
  override get message(): string {
    return `--record ${this.path}: cannot write the call log: ${this.cause.message}`
  }
}

/**
 * Creates (or truncates) `path` and returns the writer. A failed write is logged once per call and
 * never fails the call it records.
 */
export const fileRecorder = (
  path: string
): Effect.Effect<OnCall, CallRecordError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const file = yield* fs.open(path, { flag: "w" }).pipe(
      Effect.mapError((cause) => new CallRecordError({ path, cause }))
    )
    const lock = yield* Effect.makeSemaphore(1)
    const encoder = new TextEncoder()
    return (call: RecordedCall) =>
      lock.withPermits(1)(file.writeAll(encoder.encode(`${toJsonLine(call)}\n`))).pipe(
        Effect.catchAll((cause) =>
          Effect.logWarning("call log write failed").pipe(
            Effect.annotateLogs({ module: "CallRecorder", path, error: cause.message })
          )
        )
      )
  })
