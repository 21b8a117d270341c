import { Clock, Duration, Effect, Fiber } from "effect"
import { assert, describe, it } from "vitest"
import { CloudStackTransportError } from "../../src/cloudstack/CloudStackError.js"
import type { AsyncJobResult } from "../../src/cloudstack/commands/AsyncJobs.js"
import { JobId } from "../../src/cloudstack/Ids.js"
import * as JobLanes from "../../src/cloudstack/JobLanes.js"
import { runScoped, settled } from "../fakes/Virtual.js"

/** A CloudStack job queue: jobs run one at a time in submission order (or as `finishAt` says). */
const queue = (durationMs: number) =>
  Effect.sync(() => {
    let tail = 0
    const jobs = new Map<string, number>()
    const polls: Array<{ readonly job: string; readonly at: number }> = []
    const submit = (id: string, finishAt?: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const at = finishAt ?? Math.max(now, tail) + durationMs
        if (finishAt === undefined) tail = at
        jobs.set(id, at)
        return { id: JobId.make(id), submittedAt: now }
      })
    const poll = (id: string) =>
      Effect.map(Clock.currentTimeMillis, (now): AsyncJobResult => {
        polls.push({ job: id, at: now })
        return { jobId: JobId.make(id), jobStatus: now >= (jobs.get(id) ?? Infinity) ? 1 : 0 }
      })
    return { submit, poll, polls }
  })

// On virtual time (runVirtual): the lanes' polls at CPU speed, and the times measured are exact.
describe("JobLanes", () => {
  it("ten jobs queued on one lane: about one poll per job, each noticed within a poll of finishing", () =>
    Effect.gen(function*() {
      const lanes = yield* JobLanes.make
      const q = yield* queue(200)
      const finished = new Map<string, number>()
      const jobs = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => `j${i}`), (id) => q.submit(id))
      yield* Effect.forEach(jobs, (job) =>
        lanes.await("network:n1", job.id, job.submittedAt, q.poll(job.id)).pipe(
          Effect.zipRight(Clock.currentTimeMillis),
          Effect.tap((at) => Effect.sync(() => finished.set(job.id, at)))
        ), { concurrency: "unbounded" })
      // The first job has no estimate yet (found by polls 25, 50, 100, 200 ms apart); then under 2 per job.
      assert.isAtMost(q.polls.length, 18, JSON.stringify(q.polls))
      // the last job finishes at 2 s; it is noticed soon after (no 10 s backoff)
      assert.isAtMost(finished.get("j9") ?? Infinity, 2_200)
      // per-job polling (0, 1, 2, 3 s ... apart) would need ~4 polls per job here and notice j9 at 3 s or later
      // nobody behind the head polled before being woken or the slow fallback
      assert.isTrue(q.polls.every((p) => p.at < Duration.toMillis(JobLanes.BEHIND_POLL)))
    }).pipe(runScoped))

  it("the order is a guess only: a job behind that finishes first is still returned (the slow poll)", () =>
    Effect.gen(function*() {
      const lanes = yield* JobLanes.make
      const q = yield* queue(200)
      const slow = yield* q.submit("slow", 60_000)
      const quick = yield* q.submit("quick", 300)
      // joined in submission order: the slow one is the head
      const first = yield* Effect.fork(
        lanes.await("l", slow.id, slow.submittedAt, q.poll(slow.id)).pipe(Effect.timeout("20 seconds"), Effect.either)
      )
      // the slow one has joined the lane (as its head) before the quick one does
      yield* settled
      const at = yield* Effect.all([
        Fiber.join(first),
        lanes.await("l", quick.id, quick.submittedAt, q.poll(quick.id)).pipe(Effect.zipRight(Clock.currentTimeMillis))
      ], { concurrency: "unbounded" })
      assert.strictEqual(at[1], 10_000, "found by the waiter's own 10 s poll")
      assert.strictEqual(at[0]._tag, "Left", "the slow one is still pending (timed out by the caller)")
    }).pipe(runScoped))

  it("a head that fails (or is interrupted) hands the lane on: the next one polls at once", () =>
    Effect.gen(function*() {
      const lanes = yield* JobLanes.make
      const q = yield* queue(200)
      const a = yield* q.submit("a")
      const b = yield* q.submit("b")
      const broken = Effect.fail(
        new CloudStackTransportError({ command: "queryAsyncJobResult", reason: "Connect", detail: "down" })
      )
      const result = yield* Effect.all([
        lanes.await("l", a.id, a.submittedAt, broken).pipe(Effect.either),
        lanes.await("l", b.id, b.submittedAt, q.poll(b.id)).pipe(Effect.zipRight(Clock.currentTimeMillis))
      ], { concurrency: "unbounded" })
      assert.strictEqual(result[0]._tag, "Left")
      assert.isAtMost(result[1], 1_500, "b did not wait for the 10 s fallback")
    }).pipe(runScoped))

  it("instant jobs (the simulator's default): polled at once, never a sleep", () =>
    Effect.gen(function*() {
      const lanes = yield* JobLanes.make
      const q = yield* queue(0)
      const start = yield* Clock.currentTimeMillis
      for (const id of ["x", "y", "z"]) {
        const job = yield* q.submit(id)
        yield* lanes.await("l", job.id, job.submittedAt, q.poll(job.id))
      }
      assert.strictEqual(q.polls.length, 3)
      // no clock movement at all (on virtual time a sleep would move it)
      assert.strictEqual(yield* Clock.currentTimeMillis, start)
    }).pipe(runScoped))
  // A slow job (a 6-minute one, a queue stuck until CloudStack cancels it) taught the lane an estimate
  // of minutes: every later head slept that long before its first poll and the lane crawled at the
  // fallback's pace (one job per 10 s) long after jobs were quick again (chaos seed 52).
  it("one slow job does not slow the lane down afterwards: the jobs after it are noticed within a poll", () =>
    Effect.gen(function*() {
      const lanes = yield* JobLanes.make
      const q = yield* queue(200)
      const run = (ids: ReadonlyArray<string>) =>
        Effect.flatMap(
          Effect.forEach(ids, (id) => q.submit(id)),
          (jobs) =>
            Effect.forEach(jobs, (job) => lanes.await("l", job.id, job.submittedAt, q.poll(job.id)), {
              concurrency: "unbounded"
            })
        )
      // the lane knows its jobs take 200 ms
      yield* run(["a", "b", "c", "d", "e"])
      const now = yield* Clock.currentTimeMillis
      const slow = yield* q.submit("slow", now + 360_000)
      yield* lanes.await("l", slow.id, slow.submittedAt, q.poll(slow.id))
      const start = yield* Clock.currentTimeMillis
      const jobs = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => `j${i}`), (id) => q.submit(id))
      const done = yield* Effect.forEach(
        jobs,
        (job) =>
          lanes.await("l", job.id, job.submittedAt, q.poll(job.id)).pipe(Effect.zipRight(Clock.currentTimeMillis)),
        {
          concurrency: "unbounded"
        }
      ).pipe(Effect.timeout("100 seconds"), Effect.either)
      assert.strictEqual(done._tag, "Right", "all ten done within 100 s")
      if (done._tag === "Right") {
        assert.isAtMost(
          Math.max(...done.right) - start,
          2_500,
          "the last of ten 200 ms jobs (done at 2 s) noticed soon after"
        )
      }
    }).pipe(runScoped))
})
