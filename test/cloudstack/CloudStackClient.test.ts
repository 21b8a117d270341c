import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Logger, LogLevel, Option, Ref, Stream, TestClock } from "effect"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { CloudStackTransportError } from "../../src/cloudstack/CloudStackError.js"
import type { CloudStackRequest } from "../../src/cloudstack/CloudStackTransport.js"
import { ownedOnly } from "../../src/cloudstack/Command.js"
import { associateIpAddress } from "../../src/cloudstack/commands/Addresses.js"
import { queryAsyncJobResult } from "../../src/cloudstack/commands/AsyncJobs.js"
import {
  assignToLoadBalancerRule,
  createLoadBalancerRule,
  listLoadBalancerRules
} from "../../src/cloudstack/commands/LoadBalancers.js"
import { listZones } from "../../src/cloudstack/commands/Zones.js"
import { JobId, LbRuleId, VmId } from "../../src/cloudstack/Ids.js"
import { Metrics } from "../../src/metrics/Metrics.js"
import { clientLayer } from "../fakes/CloudStackTestEnv.js"
import { apiError, type Handler, html, job, ok, script, ScriptedLog } from "../fakes/ScriptedTransport.js"

const zone = (i: number) => ({ id: `z-${i}`, name: `zone-${i}` })
const rule = {
  id: "r-1",
  name: "a1234",
  algorithm: "roundrobin",
  publicip: "192.0.2.10",
  publicipid: "ip-1",
  publicport: "80",
  privateport: "30080",
  state: "Add",
  protocol: "tcp"
}

const { publicipid: _publicipid, ...ruleWithoutIp } = rule

/** Answers pages of `total` zones like BaseListCmd: `count` = total, items sliced by page/pagesize. */
const pagedZones = (total: number): Handler => (request) => {
  const page = Number(request.params["page"])
  const size = Number(request.params["pagesize"])
  const items = Array.from({ length: total }, (_, i) => zone(i)).slice((page - 1) * size, page * size)
  return Effect.succeed(
    ok("listZones", total === 0 ? {} : items.length === 0 ? { count: total } : { count: total, zone: items })
  )
}

const requests = Effect.flatMap(ScriptedLog, (log) => log.requests)
const counter = (name: "apiRequests" | "apiRetries", labels: Record<string, string>) =>
  Effect.flatMap(Metrics, (m) =>
    Effect.promise(() => m[name].get()).pipe(
      Effect.map((v) =>
        v.values.filter((x) => {
          const have = new Map(Object.entries(x.labels))
          return Object.entries(labels).every(([k, l]) => have.get(k) === l)
        })
          .reduce((n, x) => n + x.value, 0)
      )
    ))

describe("CloudStackClient paging", () => {
  it.effect("600 items take two calls of pagesize 500; list calls carry listall=true", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const zones = yield* client.list(listZones, {})
      assert.strictEqual(zones.length, 600)
      assert.strictEqual(zones[599]?.name, "zone-599")
      const sent = yield* requests
      assert.deepStrictEqual(sent.map((r) => [r.params["page"], r.params["pagesize"], r.method]), [
        ["1", "500", "GET"],
        ["2", "500", "GET"]
      ])
      // listZones is not account-scoped
      assert.isUndefined(sent[0]?.params["listall"])
    }).pipe(Effect.provide(clientLayer(pagedZones(600)))))

  it.effect("`{}` is an empty list after one call", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      assert.deepStrictEqual(yield* client.list(listZones, {}), [])
      assert.strictEqual((yield* requests).length, 1)
    }).pipe(Effect.provide(clientLayer(pagedZones(0)))))

  it.effect("an empty page before `count` is reached stops the loop: an incomplete listing is an error, never a short result", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const error = yield* Effect.flip(client.list(listLoadBalancerRules, {}))
      assert.deepInclude(error, { _tag: "CloudStackDecodeError", command: "listLoadBalancerRules" })
      assert.include(error.message, "page 2 is empty but count is 3")
      const streamed = yield* Effect.flip(Stream.runCollect(client.stream(listLoadBalancerRules, {})))
      assert.strictEqual(streamed._tag, "CloudStackDecodeError")
      const sent = yield* requests
      assert.strictEqual(sent.length, 4)
      assert.strictEqual(sent[0]?.params["listall"], "true")
    }).pipe(Effect.provide(clientLayer(script([
      ok("listLoadBalancerRules", { count: 3, loadbalancerrule: [rule] }),
      ok("listLoadBalancerRules", { count: 3 }),
      ok("listLoadBalancerRules", { count: 3, loadbalancerrule: [rule] }),
      ok("listLoadBalancerRules", { count: 3 })
    ])))))

  it.effect("stream fetches lazily: taking 10 items makes one call", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const first = yield* Stream.runCollect(Stream.take(client.stream(listZones, {}), 10))
      assert.strictEqual(first.length, 10)
      assert.strictEqual((yield* requests).length, 1)
    }).pipe(Effect.provide(clientLayer(pagedZones(1200)))))

  it.effect("a missing required field is a decode error naming command and field path", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const error = yield* Effect.flip(client.list(listLoadBalancerRules, {}))
      assert.strictEqual(error._tag, "CloudStackDecodeError")
      assert.strictEqual(error._tag === "CloudStackDecodeError" && error.command, "listLoadBalancerRules")
      assert.include(error.message, "publicipid")
      assert.include(error.message, "0")
      // decode errors are never retried
      assert.strictEqual((yield* requests).length, 1)
      assert.strictEqual(yield* counter("apiRequests", { command: "listLoadBalancerRules", outcome: "decode" }), 1)
    }).pipe(
      Effect.provide(
        clientLayer(script([ok("listLoadBalancerRules", { count: 1, loadbalancerrule: [ruleWithoutIp] })]))
      )
    ))
})

const submitted = (command: string, id?: string) => ok(command, { jobid: "job-1", ...(id === undefined ? {} : { id }) })

describe("CloudStackClient async jobs", () => {
  it.effect("create-style: entity id known at submit; polls at 0s, 1s, 3s until success", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const job1 = yield* client.submit(createLoadBalancerRule, {
        name: "n",
        algorithm: "roundrobin",
        privatePort: 30080,
        publicPort: 80
      })
      assert.deepStrictEqual(job1.entityId, Option.some("r-1"))
      assert.strictEqual(job1.jobId, "job-1")
      const fiber = yield* Effect.fork(client.waitForJob(createLoadBalancerRule, job1))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual((yield* requests).length, 2) // submit + first poll
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* requests).length, 3)
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual((yield* requests).length, 3)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.id, "r-1")
      assert.strictEqual(result.publicPort, 80)
      assert.strictEqual(result.privatePort, 30080)
      const sent = yield* requests
      assert.deepStrictEqual(sent.map((r) => [r.command, r.method]), [
        ["createLoadBalancerRule", "POST"],
        ["queryAsyncJobResult", "GET"],
        ["queryAsyncJobResult", "GET"],
        ["queryAsyncJobResult", "GET"]
      ])
      assert.strictEqual(sent[1]?.params["jobid"], "job-1")
      const m = yield* Metrics
      const wait = yield* Effect.promise(() => m.asyncJobWait.get())
      assert.isTrue(
        wait.values.some((v) => v.labels.result === "success" && v.metricName?.endsWith("_sum") && v.value === 3)
      )
    }).pipe(Effect.provide(clientLayer(script([
      submitted("createLoadBalancerRule", "r-1"),
      job("job-1", 0),
      job("job-1", 0),
      job("job-1", 1, { loadbalancer: rule })
    ])))))

  it.effect("both immediate shapes: `{jobid}` for plain async commands", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const ok1 = yield* client.run(assignToLoadBalancerRule, {
        id: LbRuleId.make("r-1"),
        virtualMachineIds: [VmId.make("v")]
      })
      assert.strictEqual(ok1, true)
    }).pipe(
      Effect.provide(clientLayer(script([submitted("assignToLoadBalancerRule"), job("job-1", 1, { success: true })])))
    ))

  it.effect("a create-style answer without id is a decode error", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const error = yield* Effect.flip(client.submit(associateIpAddress, {}))
      assert.deepInclude(error, { _tag: "CloudStackDecodeError", command: "associateIpAddress" })
    }).pipe(Effect.provide(clientLayer(script([submitted("associateIpAddress")])))))

  it.effect("jobstatus 2 is AsyncJobFailedError with the job's errorcode and errortext", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const error = yield* Effect.flip(client.run(assignToLoadBalancerRule, { id: LbRuleId.make("r-1") }))
      assert.deepInclude(error, {
        _tag: "AsyncJobFailedError",
        command: "assignToLoadBalancerRule",
        jobId: "job-1",
        errorCode: 530,
        errorText: "Failed to assign load balancer rule"
      })
    }).pipe(Effect.provide(clientLayer(script([
      submitted("assignToLoadBalancerRule"),
      job("job-1", 2, { errorcode: 530, errortext: "Failed to assign load balancer rule" })
    ])))))

  it.effect("a job still pending at asyncJobTimeout is AsyncJobTimeoutError with the job id; polls are capped at 10s apart", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const fiber = yield* Effect.fork(Effect.flip(client.waitForJob(assignToLoadBalancerRule, {
        command: "assignToLoadBalancerRule",
        jobId: JobId.make("job-9"),
        entityId: Option.none(),
        lane: Option.none(),
        submittedAt: 0
      })))
      yield* TestClock.adjust("2 minutes")
      const error = yield* Fiber.join(fiber)
      assert.deepInclude(error, { _tag: "AsyncJobTimeoutError", jobId: "job-9" })
      // 0,1,3,6,10,15,21,28,36,45,55 then every 10 s to 115 s: 17 polls
      assert.strictEqual((yield* requests).length, 17)
    }).pipe(
      Effect.provide(clientLayer(() => Effect.succeed(job("job-9", 0)), { asyncJobTimeout: Duration.minutes(2) }))
    ))

  it.effect("queryAsyncJobResult itself is a plain sync read", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const r = yield* client.call(queryAsyncJobResult, { jobId: JobId.make("j") })
      assert.strictEqual(r.jobStatus, 0)
    }).pipe(Effect.provide(clientLayer(script([job("j", 0)])))))
})

const failing = (responses: ReadonlyArray<Handler | ReturnType<typeof ok>>) => script(responses)
const connectError = (r: CloudStackRequest) =>
  Effect.fail(new CloudStackTransportError({ command: r.command, reason: "Connect", detail: "ECONNREFUSED" }))
const timeoutError = (r: CloudStackRequest) =>
  Effect.fail(new CloudStackTransportError({ command: r.command, reason: "Timeout", detail: "no answer" }))

describe("CloudStackClient retries", () => {
  it.effect("reads retry a 503 with jittered backoff from 500 ms (x0.8..1.2), counted in api_retries_total", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const fiber = yield* Effect.fork(client.list(listZones, {}))
      yield* TestClock.adjust("399 millis")
      assert.strictEqual((yield* requests).length, 1)
      yield* TestClock.adjust("201 millis")
      assert.strictEqual((yield* requests).length, 2)
      yield* TestClock.adjust("1199 millis") // second delay is 1 s x (0.8..1.2)
      assert.isAtMost((yield* requests).length, 3)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber)).length, 1)
      assert.strictEqual((yield* requests).length, 3)
      assert.strictEqual(yield* counter("apiRetries", { command: "listZones" }), 2)
      assert.strictEqual(yield* counter("apiRequests", { command: "listZones", outcome: "unexpected_body" }), 1)
      assert.strictEqual(yield* counter("apiRequests", { command: "listZones", outcome: "534" }), 1)
      assert.strictEqual(yield* counter("apiRequests", { command: "listZones", outcome: "success" }), 1)
    }).pipe(Effect.provide(clientLayer(failing([
      html(503, "<h1>Service Unavailable</h1>"),
      apiError("listZones", 534, "resource unavailable", 4380),
      ok("listZones", { count: 1, zone: [zone(1)] })
    ])))))

  it.effect("a read gives up after 5 attempts", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const fiber = yield* Effect.fork(Effect.flip(client.list(listZones, {})))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert.deepInclude(error, { _tag: "CloudStackApiError", errorCode: 534 })
      assert.strictEqual((yield* requests).length, 5)
    }).pipe(Effect.provide(clientLayer(() => Effect.succeed(apiError("listZones", 534, "unavailable", 4380))))))

  for (const [code, cs] of [[401, undefined], [430, 9999], [431, 4350], [531, 4365], [537, 4360]] as const) {
    it.effect(`${code} is never retried`, () =>
      Effect.gen(function*() {
        const client = yield* CloudStackClient
        const error = yield* Effect.flip(client.list(listZones, {}))
        assert.deepInclude(error, { _tag: "CloudStackApiError", errorCode: code })
        assert.strictEqual((yield* requests).length, 1)
      }).pipe(Effect.provide(clientLayer(() => Effect.succeed(apiError("listZones", code, "no", cs))))))
  }

  it.effect("mutations retry a connect failure and a 429", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const fiber = yield* Effect.fork(client.submit(assignToLoadBalancerRule, { id: LbRuleId.make("r") }))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).jobId, "job-1")
      assert.strictEqual((yield* requests).length, 3)
    }).pipe(Effect.provide(clientLayer(failing([
      connectError,
      apiError("assignToLoadBalancerRule", 429, "too many requests"),
      submitted("assignToLoadBalancerRule")
    ])))))

  it.effect("mutations never retry a timeout, a 534 or a 502: the command may have run", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      for (const expected of ["CloudStackTransportError", "CloudStackApiError", "CloudStackUnexpectedBodyError"]) {
        const error = yield* Effect.flip(client.submit(assignToLoadBalancerRule, { id: LbRuleId.make("r") }))
        assert.strictEqual(error._tag, expected)
      }
      assert.strictEqual((yield* requests).length, 3)
    }).pipe(Effect.provide(clientLayer(failing([
      timeoutError,
      apiError("assignToLoadBalancerRule", 534, "unavailable", 4380),
      html(502, "bad gateway")
    ])))))
})

describe("CloudStackClient project scope", () => {
  const project = (id: string, name: string) => ({ id, name, state: "Active" })

  it.effect("a project name is resolved once with listProjects name+listall; lists then carry projectid and listall", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      assert.deepStrictEqual(client.projectId, Option.some("p-1"))
      yield* client.list(listLoadBalancerRules, {})
      yield* client.submit(associateIpAddress, {})
      yield* client.list(listZones, {})
      const [resolve, rules, acquire, zones] = yield* requests
      assert.deepInclude(resolve?.params, { name: "k8s", listall: "true" })
      assert.isUndefined(resolve?.params["projectid"])
      assert.deepInclude(rules?.params, { projectid: "p-1", listall: "true" })
      assert.deepStrictEqual(acquire?.params, { projectid: "p-1" })
      assert.isUndefined(zones?.params["projectid"])
    }).pipe(Effect.provide(clientLayer(
      script([
        ok("listProjects", { count: 2, project: [project("p-0", "k8s-old"), project("p-1", "K8s")] }),
        ok("listLoadBalancerRules", {}),
        submitted("associateIpAddress", "ip-1"),
        ok("listZones", {})
      ]),
      { projectId: Option.some("k8s") }
    ))))

  it.effect("an ownedOnly listing carries the project but never listall (the key's own account or project only)", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      yield* client.list(ownedOnly(listLoadBalancerRules), {})
      const [rules] = yield* requests
      assert.strictEqual(rules?.params["projectid"], "0f4a8e0c-2f4c-4d3a-9c58-111111111111")
      assert.isUndefined(rules?.params["listall"])
    }).pipe(
      Effect.provide(
        clientLayer(script([ok("listLoadBalancerRules", {})]), {
          projectId: Option.some("0f4a8e0c-2f4c-4d3a-9c58-111111111111")
        })
      )
    ))

  it.effect("a UUID project id is used as is, without a lookup", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      assert.deepStrictEqual(client.projectId, Option.some("0f4a8e0c-2f4c-4d3a-9c58-111111111111"))
      assert.strictEqual((yield* requests).length, 0)
    }).pipe(
      Effect.provide(clientLayer(script([]), { projectId: Option.some("0f4a8e0c-2f4c-4d3a-9c58-111111111111") }))
    ))

  it.effect("an unknown or ambiguous project name fails the layer with CloudStackProjectError", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(
        Effect.provide(
          CloudStackClient,
          clientLayer(script([ok("listProjects", {})]), { projectId: Option.some("k8s") })
        )
      )
      assert.deepInclude(missing, { _tag: "CloudStackProjectError", reason: "NotFound", project: "k8s" })
      const twice = yield* Effect.flip(Effect.provide(
        CloudStackClient,
        clientLayer(script([ok("listProjects", { count: 2, project: [project("a", "k8s"), project("b", "k8s")] })]), {
          projectId: Option.some("k8s")
        })
      ))
      assert.deepInclude(twice, { _tag: "CloudStackProjectError", reason: "Ambiguous" })
      assert.include(twice.message, "UUID")
    }))
})

describe("CloudStackClient limits", () => {
  it.effect("at most maxInFlight requests are outstanding at once", () =>
    Effect.gen(function*() {
      const inFlight = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const slow: Handler = () =>
        Effect.gen(function*() {
          const n = yield* Ref.updateAndGet(inFlight, (x) => x + 1)
          yield* Ref.update(peak, (p) => Math.max(p, n))
          yield* Effect.sleep("1 second")
          yield* Ref.update(inFlight, (x) => x - 1)
          return ok("listZones", {})
        })
      yield* Effect.gen(function*() {
        const client = yield* CloudStackClient
        const fiber = yield* Effect.fork(
          Effect.all(Array.from({ length: 7 }, () => client.list(listZones, {})), { concurrency: "unbounded" })
        )
        yield* TestClock.adjust("10 seconds")
        yield* Fiber.join(fiber)
      }).pipe(Effect.provide(clientLayer(slow, { maxInFlight: 2 })))
      assert.strictEqual(yield* Ref.get(peak), 2)
    }))

  it.effect("requests-per-second spreads a burst over time (token bucket on Clock)", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 6 }, () => client.list(listZones, {})), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* requests).length, 2)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* requests).length, 4)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* requests).length, 6)
    }).pipe(Effect.provide(clientLayer(() => Effect.succeed(ok("listZones", {})), { requestsPerSecond: 2 }))))
})

describe("CloudStackClient request trace (-v >= 6)", () => {
  const traced = (level: LogLevel.LogLevel) =>
    Effect.gen(function*() {
      const lines: Array<
        { readonly level: string; readonly message: unknown; readonly annotations: Record<string, unknown> }
      > = []
      const logger = Logger.make(({ annotations, logLevel, message }) =>
        void lines.push({ level: logLevel.label, message, annotations: Object.fromEntries(annotations) })
      )
      const client = yield* CloudStackClient
      yield* client.list(listZones, { name: "private-zone-name" }).pipe(
        Effect.zipRight(Effect.either(client.list(listLoadBalancerRules, {}))),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(level)
      )
      return lines.filter((l) => Array.isArray(l.message) && l.message[0] === "CloudStack request")
    }).pipe(Effect.provide(clientLayer(script([
      ok("listZones", { count: 1, zone: [zone(1)] }),
      apiError("listLoadBalancerRules", 431, "bad")
    ]))))

  it.effect("at Trace: one line per request with command, method, parameter names, status, duration and outcome; no value", () =>
    Effect.gen(function*() {
      const lines = yield* traced(LogLevel.Trace)
      assert.deepStrictEqual(lines.map((l) => [l.level, l.annotations]), [
        ["TRACE", {
          command: "listZones",
          method: "GET",
          params: "name,page,pagesize",
          status: 200,
          durationMs: 0,
          outcome: "success"
        }],
        ["TRACE", {
          command: "listLoadBalancerRules",
          method: "GET",
          params: "listall,page,pagesize",
          status: 431,
          durationMs: 0,
          outcome: "431"
        }]
      ])
      assert.notInclude(JSON.stringify(lines), "private-zone-name")
    }))

  it.effect("below Trace: no request line", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* traced(LogLevel.Debug), [])
    }))
})
