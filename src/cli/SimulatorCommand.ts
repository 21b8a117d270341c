/**
 * `cloudstack-ccm simulator`: serves the CloudStack simulator's HTTP face on 127.0.0.1 with a
 * scenario file (JSON or YAML) or the built-in demo world, prints how to connect, and runs until
 * interrupted (SIGINT/SIGTERM close the server through the layer's finalizer).
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Clock, Console, Data, Duration, Effect, Either, Layer, Option, ParseResult, Random } from "effect"
import * as YAML from "yaml"
import { fileRecorder } from "../simulation/cloudstack/CallRecorder.js"
import { CloudStackSimulator } from "../simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../simulation/cloudstack/DemoWorld.js"
import { isCommand, layer as simulatorLayer } from "../simulation/cloudstack/Simulator.js"
import * as HttpFace from "../simulation/cloudstack/SimulatorHttpServer.js"
import { decodeWorld, type World } from "../simulation/cloudstack/World.js"
import { type KeyPair, keysOf, withKeys } from "../simulation/cloudstack/WorldKeys.js"
import * as CliOptions from "./CliOptions.js"
import * as Faults from "./SimulatorFaults.js"

/** A scenario file that cannot be read, parsed or decoded; the message names the file and every problem. */
export class ScenarioError extends Data.TaggedError("ScenarioError")<{
  readonly path: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `scenario ${this.path}: ${this.detail}`
  }
}

/** A larger scenario file is refused before it is read (above a world at every WorldLimits bound, in JSON). */
export const MAX_SCENARIO_BYTES = 32 * 1024 * 1024
/** YAML parses far slower than JSON (seconds for a big world): larger scenarios must be JSON. */
export const MAX_YAML_BYTES = 1024 * 1024

/** A timer turn of the event loop between synchronous start-up steps, so SIGTERM is acted on between them. */
const eventLoopTurn = Effect.sleep(Duration.zero)

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`

/** JSON first (fast); YAML 1.2 (a superset of JSON) for files small enough to parse quickly. */
const parseScenario = (path: string, text: string, bytes: number) =>
  Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: (cause) => cause
  }).pipe(
    Effect.orElse(() =>
      bytes > MAX_YAML_BYTES
        ? Effect.fail(
          new ScenarioError({
            path,
            detail: `not JSON, and YAML scenarios are limited to ${
              mib(MAX_YAML_BYTES)
            } (YAML parses slowly); write larger ones as JSON`
          })
        )
        : Effect.try({
          try: (): unknown => YAML.parse(text, { prettyErrors: true }),
          catch: (cause) =>
            new ScenarioError({
              path,
              detail: `not JSON/YAML: ${cause instanceof Error ? cause.message : String(cause)}`,
              cause
            })
        })
    )
  )

/**
 * Reads a JSON or YAML scenario and decodes it with the World schema (whose bounds keep any world
 * small). Files over MAX_SCENARIO_BYTES are refused unread; the event loop gets a turn between the
 * synchronous steps (parse, decode), so a signal during start-up is acted on promptly.
 */
export const loadScenario = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const cannotRead = (cause: PlatformError) =>
      new ScenarioError({ path, detail: `cannot read: ${cause.message}`, cause })
    const bytes = Number((yield* fs.stat(path).pipe(Effect.mapError(cannotRead))).size)
    if (bytes > MAX_SCENARIO_BYTES) {
      return yield* new ScenarioError({
        path,
        detail: `${mib(bytes)} is larger than the ${mib(MAX_SCENARIO_BYTES)} a scenario may have`
      })
    }
    const text = yield* fs.readFileString(path).pipe(Effect.mapError(cannotRead))
    yield* eventLoopTurn
    const parsed = yield* parseScenario(path, text, bytes)
    yield* eventLoopTurn
    const world = yield* decodeWorld(parsed).pipe(
      Effect.mapError((cause) =>
        new ScenarioError({
          path,
          detail: `not a valid scenario:\n${ParseResult.TreeFormatter.formatErrorSync(cause)}`,
          cause
        })
      )
    )
    yield* eventLoopTurn
    return world
  })

/** A key like CloudStack's: 64 random bytes, base64url (86 characters). */
export const generateKey: Effect.Effect<string> = Effect.map(
  Effect.replicateEffect(Random.nextIntBetween(0, 256), 64),
  (bytes) => Buffer.from(bytes).toString("base64url")
)

/** What the command prints once listening (pure); `notes` (faults, the call log) follow the first line. */
export const banner = (
  apiUrl: string,
  keys: KeyPair,
  world: World,
  source: string,
  notes: ReadonlyArray<string> = []
): string => {
  const zone = world.zones[0].name
  return [
    `CloudStack simulator (${source}) listening on ${apiUrl}`,
    ...notes.map((n) => `  ${n}`),
    "",
    `api-url:    ${apiUrl}`,
    `api-key:    ${keys.apiKey}`,
    `secret-key: ${keys.secretKey}`,
    "",
    "cloud-config for cloudstack-ccm (or the Go CCM):",
    "[Global]",
    `api-url = ${apiUrl}`,
    `api-key = ${keys.apiKey}`,
    `secret-key = ${keys.secretKey}`,
    `zone = ${zone}`,
    "",
    "python3-cs:",
    `CLOUDSTACK_ENDPOINT=${apiUrl} CLOUDSTACK_KEY=${keys.apiKey} CLOUDSTACK_SECRET=${keys.secretKey} cs listZones`,
    "cmk:",
    `cmk set url ${apiUrl}; cmk set apikey ${keys.apiKey}; cmk set secretkey ${keys.secretKey}`,
    "",
    "Ctrl-C stops it."
  ].join("\n")
}

const port = CliOptions.integer("port", { min: 0, max: 65535 }).pipe(
  Options.withDefault(8080),
  Options.withDescription("TCP port on 127.0.0.1, 0..65535 (0 picks a free one)")
)
const seed = CliOptions.integer("seed", CliOptions.anyInteger).pipe(
  Options.withDefault(1),
  Options.withDescription("seed for generated ids and fault injection: the same seed gives the same run")
)
const scenario = Options.file("scenario", { exists: "yes" }).pipe(
  Options.optional,
  Options.withDescription("scenario file (JSON or YAML, see docs/simulator.md); default: the built-in demo world")
)
const apiKey = CliOptions.nonEmptyText("api-key").pipe(
  Options.optional,
  Options.withDescription(
    "api key of the default account (generated when neither the flag nor the scenario gives one; must not be empty)"
  )
)
const secretKey = CliOptions.nonEmptyText("secret-key").pipe(
  Options.optional,
  Options.withDescription("secret key of the default account (generated likewise; must not be empty)")
)

const orUsageError = <A>(parsed: Either.Either<A, string>) =>
  Either.match(parsed, {
    onLeft: (message) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message))),
    onRight: Effect.succeed
  })

const checked =
  <A>(parse: (text: string) => Either.Either<A, string>) => (self: Options.Options<string>): Options.Options<A> =>
    Options.mapEffect(self, (text) => orUsageError(parse(text)))

const jobDuration = Options.text("job-duration").pipe(
  Options.withPseudoName("duration"),
  checked((t) => Faults.parseDelay("job-duration", t)),
  Options.optional,
  Options.withDescription("time from submitting an async job to its result (real clouds: seconds), e.g. 5s; default 0")
)
const latency = Options.text("latency").pipe(
  Options.withPseudoName("duration"),
  checked((t) => Faults.parseDelay("latency", t)),
  Options.optional,
  Options.withDescription("delay before every answer, e.g. 200ms; default 0")
)
const jobFailureRate = Options.text("job-failure-rate").pipe(
  Options.withPseudoName("rate"),
  checked((t) => Faults.parseRate("job-failure-rate", t)),
  Options.optional,
  Options.withDescription("share of async jobs that fail with 530, 0..1 or a percentage (5%)")
)
const errorRate = Options.text("error-rate").pipe(
  Options.withPseudoName("COMMAND:CODE:RATE"),
  Options.repeated,
  Options.mapEffect((texts) => orUsageError(Either.all(texts.map((t) => Faults.parseErrorRate(t, isCommand))))),
  Options.withDescription(
    "COMMAND:CODE:RATE, repeatable: answer CODE (400..599) to that share of COMMAND calls (* = every command), e.g. createLoadBalancerRule:530:0.2"
  )
)
const apiDown = Options.text("api-down").pipe(
  Options.withPseudoName("FROM..UNTIL"),
  checked(Faults.parseApiDown),
  Options.optional,
  Options.withDescription(
    "FROM..UNTIL[:unreachable|unavailable], seconds after start: connections dropped (default) or HTTP 503 meanwhile, e.g. 30..90"
  )
)
const record = Options.text("record").pipe(
  Options.withPseudoName("FILE"),
  CliOptions.nonEmpty("record"),
  Options.optional,
  Options.withDescription(
    "write every API call to FILE, one JSON line each (time, account, command, params without secrets, status, ms)"
  )
)

interface KeyFlags {
  readonly apiKey: Option.Option<string>
  readonly secretKey: Option.Option<string>
}

/**
 * Flags win; otherwise a scenario file's own keys are kept; the demo world gets fresh random keys.
 * A missing half of a pair given by flags is generated.
 */
const resolveKeys = (world: World, fromFile: boolean, flags: KeyFlags) =>
  Effect.gen(function*() {
    const own = keysOf(world)
    const noFlags = Option.isNone(flags.apiKey) && Option.isNone(flags.secretKey)
    if (noFlags && fromFile && Option.isSome(own)) return own.value
    return {
      apiKey: Option.isSome(flags.apiKey) ? flags.apiKey.value : yield* generateKey,
      secretKey: Option.isSome(flags.secretKey) ? flags.secretKey.value : yield* generateKey
    }
  })

export const command = Command.make(
  "simulator",
  { port, seed, scenario, apiKey, secretKey, jobDuration, latency, jobFailureRate, errorRate, apiDown, record },
  (options) =>
    Effect.gen(function*() {
      const fromFile = Option.isSome(options.scenario)
      const loaded = Option.isSome(options.scenario) ? yield* loadScenario(options.scenario.value) : demoWorld
      const keys = yield* resolveKeys(loaded, fromFile, options)
      const world = withKeys(loaded, keys)
      const source = Option.getOrElse(options.scenario, () => "demo world")
      const faultFlags: Faults.FaultFlags = { ...options, errorRates: options.errorRate }
      const onCall = Option.isSome(options.record) ? yield* fileRecorder(options.record.value) : undefined
      const notes = [
        ...Faults.describeFaults(faultFlags),
        ...Option.match(options.record, {
          onNone: () => [],
          onSome: (file) => [`call log: ${file} (one JSON line per call)`]
        })
      ]
      const face = HttpFace.layer({ port: options.port, isCommand, onCall }).pipe(
        Layer.provideMerge(simulatorLayer(world, { seed: options.seed }))
      )
      yield* Effect.gen(function*() {
        const server = yield* HttpFace.SimulatorHttpServer
        // "seconds after start" counts from here: a large world may take seconds to seed first.
        yield* (yield* CloudStackSimulator).setFaults(Faults.faultsOf(faultFlags, yield* Clock.currentTimeMillis))
        yield* Console.log(banner(server.apiUrl, keys, world, source, notes))
        return yield* Effect.never
      }).pipe(Effect.provide(face))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Serve the CloudStack simulator on 127.0.0.1 (the real API protocol at /client/api)"))
