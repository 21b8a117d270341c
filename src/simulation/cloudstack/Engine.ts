/**
 * The simulator's request dispatcher: resolves the caller, runs due async jobs, calls the
 * command's handler and wraps its answer in the real envelope with the real HTTP status.
 * Synchronous over the store it is given; time, randomness and faults come in as arguments.
 */
import { isAllowed, unavailable } from "./ApiCatalogue.js"
import type { SimResponse } from "./CloudStackSimulator.js"
import { discoveryCommands } from "./DiscoveryCommands.js"
import { advance, type Ctx, type Handler } from "./EngineContext.js"
import { listCommands } from "./ListCommands.js"
import { mutationCommands } from "./MutationCommands.js"
import type { Store } from "./Store.js"
import { authFail, errorBody, isFail, lowerParams, responseKey } from "./Wire.js"

const handlers: ReadonlyMap<string, Handler> = new Map(
  Object.entries({ ...discoveryCommands, ...listCommands, ...mutationCommands })
)


/** Whether the simulator implements `command` (exact, case-sensitive name like the real server). */
export const isCommand = (command: string): boolean => handlers.has(command)

/** Every implemented command name. */
export const commands: ReadonlyArray<string> = [...handlers.keys()]

export interface DispatchRequest {
  readonly command: string
  readonly params: Readonly<Record<string, string>>
  readonly apiKey: string | undefined
}

export interface DispatchOptions {
  readonly jobDurationMs: number
  readonly jobFails: boolean
  /** This call's job blocks its queue this long and is then cancelled (a stuck job). */
  readonly jobStuckMs?: number | undefined
}

/** Answers one request against the store at time `now` (epoch ms on the simulator's Clock). */
export const dispatch = (s: Store, req: DispatchRequest, now: number, options: DispatchOptions): SimResponse => {
  const handler = handlers.get(req.command)
  const caller = req.apiKey === undefined ? s.defaultAccount : s.keys.get(req.apiKey)
  // Unknown commands and unknown keys take the 401 path of ApiServlet (no cserrorcode).
  if (handler === undefined || caller === undefined) {
    const f = authFail(handler === undefined)
    return { status: f.code, body: errorBody(req.command, f) }
  }
  if (!isAllowed(caller.account, req.command)) {
    return { status: 432, body: errorBody(req.command, unavailable(req.command, caller.account.name)) }
  }
  advance(s, now)
  const ctx: Ctx = {
    s,
    now,
    caller,
    command: req.command,
    jobDurationMs: options.jobDurationMs,
    jobFails: options.jobFails,
    jobStuckMs: options.jobStuckMs
  }
  const answer = handler(ctx, lowerParams(req.params))
  // Jobs due now (jobDuration 0 on an idle queue) complete before the next request sees state.
  advance(s, now)
  if (isFail(answer)) return { status: answer.code, body: errorBody(req.command, answer) }
  return { status: 200, body: { [responseKey(req.command)]: answer } }
}
