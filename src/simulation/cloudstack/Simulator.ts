/**
 * The in-memory CloudStack simulator layer: seeds a store from a World, answers calls through the
 * engine, injects faults (seeded Random, latency on the Clock, API-down windows) and records a
 * call log. Also provides CloudStackTransport so the typed client runs against it without HTTP,
 * acting as the account of the configured api key exactly as the HTTP face does.
 *
 * Async jobs are evaluated lazily: every call (and `state`) first runs the jobs whose finish time
 * the Clock has passed, so TestClock.adjust drives them deterministically and no fiber is needed.
 * The store is mutable data owned by this layer instance and touched only inside one
 * `Effect.sync` per call, which is atomic on JS's single thread; copying immutable tables on
 * every call would make `handle` O(state) (throughput: bench/Simulator.bench.ts, figures in bench/results).
 */
import { Clock, Data, Duration, Effect, Either, Layer, Option, Random, Redacted } from "effect"
import { CloudStackTransportError } from "../../cloudstack/CloudStackError.js"
import { type CloudStackRawResponse, CloudStackTransport } from "../../cloudstack/CloudStackTransport.js"
import { CloudConfig } from "../../config/CloudConfig.js"
import {
  type ApiCredentials,
  type CallRecord,
  CloudStackSimulator,
  type Faults,
  type SimRequest,
  type SimResponse
} from "./CloudStackSimulator.js"
import { dispatch, isCommand } from "./Engine.js"
import { errorBody, Fail, USER_ERROR_MESSAGE } from "./Fail.js"
import { advance } from "./Jobs.js"
import * as Verifier from "./RequestVerifier.js"
import { seedSteps } from "./Seed.js"
import type { SimState } from "./SimModel.js"
import type { Store } from "./Store.js"
import type { World } from "./World.js"

export { isCommand }

/** The World references something it does not define (unknown zone, network, offering...). */
export class WorldSeedError extends Data.TaggedError("WorldSeedError")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `invalid simulator world: ${this.problems.join("; ")}`
  }
}

export interface SimulatorOptions {
  /** Seed of ids and of fault-injection randomness (default 1). */
  readonly seed?: number
  readonly faults?: Partial<Faults>
  /** Call log entries kept (oldest dropped first; default 100,000). */
  readonly callLogLimit?: number
}

export const defaultFaults: Faults = {
  errorRates: [],
  latency: Duration.zero,
  jobFailureRate: 0,
  jobDuration: Duration.zero,
  slowJobRate: 0,
  slowJobDuration: Duration.minutes(6),
  stuckJobRate: 0,
  jobCancelThreshold: Duration.minutes(60),
  apiDown: Option.none()
}

const INJECTED: Readonly<Record<number, readonly [number, string]>> = {
  429: [4545, "There are too many API calls, please wait and retry"],
  431: [4350, "Invalid parameter value (injected fault)"],
  530: [4250, USER_ERROR_MESSAGE],
  533: [4325, USER_ERROR_MESSAGE],
  534: [4380, USER_ERROR_MESSAGE],
  537: [4360, "Network rule conflict (injected fault)"]
}

/** What a proxy in front of the management server answers when it cannot reach it (not CloudStack's JSON). */
const PROXY_ANSWERS: Readonly<Record<number, string>> = {
  502: "502 Bad Gateway",
  503: "503 Service Unavailable",
  504: "504 Gateway Timeout"
}

/**
 * The answer to a call refused with `code` before it ran, as the real server words it: its error
 * envelope (431 InvalidParameterValue, 530/533/534 with the text non-admins see, 537...), or for
 * 502/503/504 the plain-text page of the proxy in front of it.
 */
export const injectedError = (command: string, code: number): SimResponse => {
  const proxy = PROXY_ANSWERS[code]
  if (proxy !== undefined) return { status: code, body: undefined, text: proxy }
  const [cs, text] = INJECTED[code] ?? [9999, `Injected fault ${code}`]
  return { status: code, body: errorBody(command, new Fail(code, cs, text)) }
}

const snapshot = (s: Store, now: number): SimState =>
  structuredClone({
    now,
    zones: [...s.zones.values()],
    projects: [...s.projects.values()],
    vpcs: [...s.vpcs.values()],
    networks: [...s.networks.values()],
    aclLists: [...s.aclLists.values()],
    aclItems: [...s.aclItems.values()],
    vms: [...s.vms.values()],
    publicIps: [...s.ips.values()],
    lbRules: [...s.lbRules.values()],
    firewallRules: [...s.fwRules.values()],
    healthChecks: [...s.healthChecks.values()],
    stickiness: [...s.stickiness.values()],
    tags: [...s.tags.values()].flatMap((m) => [...m.values()]),
    jobs: [...s.jobs.values()]
  })

/** Builds a simulator over `world`; fails when the world's references do not resolve. */
/**
 * Seeds the store in chunks with a zero sleep between them: on the live Clock that is a timer turn
 * of the event loop, so SIGTERM during the seeding of a large world is acted on at once (an
 * interruption point); on the TestClock it returns immediately.
 */
const seedInterruptibly = (world: World, seed: number, now: number) =>
  Effect.gen(function*() {
    const steps = seedSteps(world, seed, now)
    for (let step = steps.next();; step = steps.next()) {
      if (step.done === true) return step.value
      yield* Effect.sleep(Duration.zero)
    }
  })

export const make = (world: World, options: SimulatorOptions = {}) =>
  Effect.gen(function*() {
    const seed = options.seed ?? 1
    const start = yield* Clock.currentTimeMillis
    const seeded = yield* seedInterruptibly(world, seed, start)
    if (Either.isLeft(seeded)) return yield* new WorldSeedError({ problems: seeded.left })
    const store = seeded.right
    const rng = Random.make(seed)
    const limit = options.callLogLimit ?? 100_000
    // Owned by this instance; mutated only inside single Effect.sync steps (see module doc).
    const box = { faults: { ...defaultFaults, ...options.faults } }
    const log: Array<CallRecord> = []
    const counters = new Map<string, number>()

    const record = (at: number, request: SimRequest, status: number) => {
      counters.set(request.command, (counters.get(request.command) ?? 0) + 1)
      if (log.length >= limit) log.splice(0, Math.max(1, limit >> 1))
      log.push({ at, command: request.command, params: request.params, status })
    }

    const roll = (rate: number) => rate <= 0 ? Effect.succeed(false) : Effect.map(rng.next, (x) => x < rate)

    /** The synchronous part of a call: dispatch (or an injected error) and the call record. */
    const answer = (
      request: SimRequest,
      now: number,
      injected: number | undefined,
      jobFails: boolean,
      jobDurationMs: number,
      jobStuckMs?: number
    ) => {
      const response = injected !== undefined && isCommand(request.command)
        ? injectedError(request.command, injected)
        : dispatch(store, request, now, { jobDurationMs, jobFails, jobStuckMs })
      record(now, request, response.status)
      return response
    }

    const faulty = (request: SimRequest, faults: Faults) =>
      Effect.gen(function*() {
        const latency = Duration.decode(faults.latency)
        if (Duration.greaterThan(latency, Duration.zero)) yield* Effect.sleep(latency)
        const now = yield* Clock.currentTimeMillis
        if (Option.isSome(faults.apiDown) && now >= faults.apiDown.value.from && now < faults.apiDown.value.until) {
          const down: SimResponse = faults.apiDown.value.mode === "unreachable"
            ? { status: 0, body: undefined, unreachable: true }
            : { status: 503, body: undefined, text: "503 Service Unavailable" }
          yield* Effect.sync(() => record(now, request, down.status))
          return down
        }
        let injected: number | undefined
        for (const r of faults.errorRates) {
          if ((r.command === "*" || r.command === request.command) && (yield* roll(r.rate))) {
            injected = r.code
            break
          }
        }
        const jobFails = yield* roll(faults.jobFailureRate)
        const slow = yield* roll(faults.slowJobRate)
        const stuck = yield* roll(faults.stuckJobRate)
        const jobDurationMs = Duration.toMillis(Duration.decode(faults.jobDuration)) +
          (slow ? Duration.toMillis(Duration.decode(faults.slowJobDuration)) : 0)
        const jobStuckMs = stuck ? Duration.toMillis(Duration.decode(faults.jobCancelThreshold)) : undefined
        return yield* Effect.sync(() => answer(request, now, injected, jobFails, jobDurationMs, jobStuckMs))
      })

    // No span per call: this is the simulator's hot path (every call of every bench); without faults it is
    // one Clock read and one synchronous step.
    const handle = (request: SimRequest): Effect.Effect<SimResponse> => {
      const faults = box.faults
      const plain = faults.errorRates.length === 0 && faults.jobFailureRate <= 0 && Option.isNone(faults.apiDown) &&
        faults.slowJobRate <= 0 && faults.stuckJobRate <= 0 && Duration.toMillis(Duration.decode(faults.latency)) <= 0
      if (!plain) return faulty(request, faults)
      const jobDurationMs = Duration.toMillis(Duration.decode(faults.jobDuration))
      return Effect.clockWith((clock) =>
        Effect.sync(() => answer(request, clock.unsafeCurrentTimeMillis(), undefined, false, jobDurationMs))
      )
    }

    const credentials = (apiKey: string) =>
      Effect.sync((): Option.Option<ApiCredentials> => {
        const c = store.keys.get(apiKey)
        return c === undefined ? Option.none() : Option.some({
          apiKey: c.apiKey,
          secretKey: c.secretKey,
          account: c.account.name,
          role: c.account.role,
          deniedApis: c.account.deniedApis
        })
      })

    const setFaults = Effect.fn("CloudStackSimulator.setFaults")((faults: Partial<Faults>) =>
      Effect.sync(() => {
        box.faults = { ...box.faults, ...faults }
      })
    )

    const failNextJobs = Effect.fn("CloudStackSimulator.failNextJobs")(
      (command: string, n: number, code: number = 530, text?: string) =>
        Effect.sync(() => {
          const queue = store.forcedFailures.get(command) ?? []
          for (let i = 0; i < n; i++) queue.push({ code, text })
          store.forcedFailures.set(command, queue)
        })
    )

    const state = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        advance(store, now)
        return snapshot(store, now)
      }))

    return CloudStackSimulator.of({
      handle,
      credentials,
      setFaults,
      failNextJobs,
      callLog: Effect.sync(() => [...log]),
      counters: Effect.sync(() => new Map(counters)),
      state
    })
  })

const JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

/** What the HTTP face answers a request whose api key no account has: the 401 of reference 1.7. */
const unauthorized = (command: string): CloudStackRawResponse => ({
  status: 401,
  contentType: JSON_CONTENT_TYPE,
  body: JSON.stringify(Verifier.unauthorizedBody(Verifier.rejectionKey({ command }, isCommand)))
})

/**
 * A simulator answer as the HTTP face would put it on the wire: JSON envelopes, a proxy's plain
 * text, or (API-down "unreachable") a connection the client cannot make.
 */
export const toRawResponse = (
  command: string,
  r: SimResponse
): Effect.Effect<CloudStackRawResponse, CloudStackTransportError> =>
  r.unreachable === true
    ? Effect.fail(
      new CloudStackTransportError({
        command,
        reason: "Connect",
        detail: "connection refused (simulated API-down window)"
      })
    )
    : Effect.succeed({
      status: r.status,
      contentType: r.text !== undefined ? "text/plain; charset=UTF-8" : JSON_CONTENT_TYPE,
      body: r.text ?? JSON.stringify(r.body)
    })

/**
 * The in-memory transport: the typed client's raw requests answered by the simulator as the
 * account that owns `apiKey`, exactly as the HTTP face does after checking the signature; an
 * unknown key gets the same 401 answer (and, like there, never reaches the engine).
 */
export const transportFrom = (simulator: CloudStackSimulator["Type"], apiKey: string): CloudStackTransport["Type"] =>
  CloudStackTransport.of({
    send: (request) =>
      Effect.flatMap(simulator.credentials(apiKey), (known) =>
        Option.isNone(known)
          ? Effect.succeed(unauthorized(request.command))
          : Effect.flatMap(
            simulator.handle({ command: request.command, params: request.params, apiKey }),
            (r) => toRawResponse(request.command, r)
          ))
  })

/** CloudStackSimulator seeded from `world` (no transport: see `layerTransport`). */
export const layer = (world: World, options: SimulatorOptions = {}): Layer.Layer<CloudStackSimulator, WorldSeedError> =>
  Layer.effect(CloudStackSimulator, make(world, options))

/** The in-memory CloudStackTransport over the simulator, acting as the configured `api-key`'s account. */
export const layerTransport: Layer.Layer<CloudStackTransport, never, CloudStackSimulator | CloudConfig> = Layer.effect(
  CloudStackTransport,
  Effect.map(
    Effect.all([CloudStackSimulator, CloudConfig]),
    ([simulator, config]) => transportFrom(simulator, Redacted.value(config.apiKey))
  )
)

/** The simulator seeded from `world` plus the in-memory transport over it (keys from CloudConfig). */
export const layerWithTransport = (
  world: World,
  options: SimulatorOptions = {}
): Layer.Layer<CloudStackSimulator | CloudStackTransport, WorldSeedError, CloudConfig> =>
  Layer.provideMerge(layerTransport, layer(world, options))
