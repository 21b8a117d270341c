/**
 * Test helpers over the in-memory simulator: a demo-world layer, `call` returning the inner body
 * of `<command>response`, and `job` that submits an async command and reads its final result.
 */
import { Effect, Layer, TestClock } from "effect"
import { CloudConfig } from "../../../src/config/CloudConfig.js"
import { CloudStackSimulator, type Faults } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../../src/simulation/cloudstack/Simulator.js"
import type { World } from "../../../src/simulation/cloudstack/World.js"
import { defaultAccountKeys, simulatedCloudConfig } from "../../../src/simulation/SimulatedCloudConfig.js"

/** The simulator, and its in-memory transport signing as the world's default account. */
export const simLayer = (world: World = demoWorld, faults?: Partial<Faults>) =>
  Simulator.layerWithTransport(world, faults === undefined ? { seed: 42 } : { seed: 42, faults }).pipe(
    Layer.provide(Layer.succeed(CloudConfig, simulatedCloudConfig(defaultAccountKeys(world)))),
    Layer.orDie
  )

export type Json = Record<string, unknown>

export interface Answer {
  readonly status: number
  readonly body: unknown
  /** The value of the single top-level key (`<command>response` / `errorresponse`). */
  readonly inner: Json
  readonly key: string
}

const isObj = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

export const obj = (u: unknown): Json => (isObj(u) ? u : {})
export const arr = (u: unknown): ReadonlyArray<Json> => (Array.isArray(u) ? u.map(obj) : [])
export const str = (u: unknown): string => (typeof u === "string" ? u : "")

export const call = (command: string, params: Record<string, string> = {}, apiKey?: string) =>
  Effect.gen(function*() {
    const sim = yield* CloudStackSimulator
    const r = yield* sim.handle({ command, params, apiKey })
    const body = obj(r.body)
    const key = Object.keys(body)[0] ?? ""
    return { status: r.status, body: r.body, inner: obj(body[key]), key } satisfies Answer
  })

/** The list under `key` of a list answer (empty when the answer is `{}`). */
export const items = (a: Answer, key: string): ReadonlyArray<Json> => arr(a.inner[key])

/** Submits an async command, then reads queryAsyncJobResult (jobs due now have completed). */
export const job = (command: string, params: Record<string, string> = {}, apiKey?: string) =>
  Effect.gen(function*() {
    const submitted = yield* call(command, params, apiKey)
    if (submitted.status !== 200) return { submitted, result: submitted }
    const result = yield* call("queryAsyncJobResult", { jobid: str(submitted.inner.jobid) }, apiKey)
    return { submitted, result }
  })

/** Advances the TestClock and returns nothing: jobs are evaluated lazily on the next call. */
export const wait = (ms: number) => TestClock.adjust(ms)

export const byName = (command: string, key: string, name: string, params: Record<string, string> = {}) =>
  Effect.map(call(command, { listall: "true", ...params }), (a) => {
    const found = items(a, key).find((x) => x.name === name)
    return str(found?.id)
  })
