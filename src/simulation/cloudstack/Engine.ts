/**
 * The simulator's request dispatcher: resolves the caller, runs due async jobs, calls the
 * command's handler and wraps its answer in the real envelope with the real HTTP status.
 * Synchronous over the store it is given; time, randomness and faults come in as arguments.
 */
import { Either } from "effect"
import { isAllowed, unavailable } from "./ApiCatalogue.js"
import type { SimResponse } from "./CloudStackSimulator.js"
import * as Addresses from "./commands/Addresses.js"
import * as AsyncJobs from "./commands/AsyncJobs.js"
import * as Discovery from "./commands/Discovery.js"
import * as Firewall from "./commands/Firewall.js"
import * as LoadBalancerMembers from "./commands/LoadBalancerMembers.js"
import * as LoadBalancerPolicies from "./commands/LoadBalancerPolicies.js"
import * as LoadBalancers from "./commands/LoadBalancers.js"
import * as NetworkAcls from "./commands/NetworkAcls.js"
import * as Networks from "./commands/Networks.js"
import * as Projects from "./commands/Projects.js"
import * as Tags from "./commands/Tags.js"
import * as VirtualMachineCatalogue from "./commands/VirtualMachineCatalogue.js"
import * as VirtualMachineLifecycle from "./commands/VirtualMachineLifecycle.js"
import * as VirtualMachines from "./commands/VirtualMachines.js"
import * as Zones from "./commands/Zones.js"
import { authFail, errorBody, responseKey } from "./Fail.js"
import type { Ctx, Handler } from "./Handler.js"
import { advance } from "./Jobs.js"
import { Params } from "./Params.js"
import type { Store } from "./Store.js"

const handlers: ReadonlyMap<string, Handler> = new Map(
  [
    Discovery,
    Zones,
    Projects,
    Networks,
    NetworkAcls,
    VirtualMachines,
    VirtualMachineCatalogue,
    VirtualMachineLifecycle,
    Addresses,
    LoadBalancers,
    LoadBalancerMembers,
    LoadBalancerPolicies,
    Firewall,
    Tags,
    AsyncJobs
  ].flatMap((resource) => Object.entries(resource.commands))
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
  const answer = handler(ctx, Params.from(req.params, req.command))
  // Jobs due now (jobDuration 0 on an idle queue) complete before the next request sees state.
  advance(s, now)
  return Either.match(answer, {
    onLeft: (f) => ({ status: f.code, body: errorBody(req.command, f) }),
    onRight: (body) => ({ status: 200, body: { [responseKey(req.command)]: body } })
  })
}
