import { assert, describe, it } from "@effect/vitest"
import { Data, Deferred, Duration, Effect, Exit, Fiber, Logger, LogLevel, Ref, Scope, TestClock } from "effect"
import * as WorkQueue from "../../src/controllers/WorkQueue.js"
import { ReconcileResult } from "../../src/controllers/WorkQueue.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as CapturingLogger from "../fakes/CapturingLogger.js"
import { runScoped, settled } from "../fakes/Virtual.js"

const TestMetrics = Metrics.layer

type Labelled = { readonly labels: Partial<Record<string, string | number>>; readonly value: number }
/** Sum of a metric's samples whose labels include `labels`. */
const counter = (
  pick: (m: Metrics.MetricsShape) => { get: () => Promise<{ values: ReadonlyArray<Labelled> }> },
  labels: Record<string, string>
) =>
  Effect.flatMap(Metrics.Metrics, (m) =>
    Effect.promise(() => pick(m).get()).pipe(
      Effect.map((metric) =>
        metric.values
          .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
          .reduce((sum, v) => sum + v.value, 0)
      )
    ))

const seconds = (s: number) => TestClock.adjust(Duration.seconds(s))

describe("WorkQueue", () => {
  it.scoped("deduplicates keys while they wait", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "test" })
      yield* q.add("a")
      yield* q.add("b")
      yield* q.add("a")
      assert.strictEqual(yield* q.len, 2)
      assert.strictEqual(yield* q.take, "a")
      assert.strictEqual(yield* q.take, "b")
      assert.strictEqual(yield* counter((m) => m.workqueueAdds, { name: "test" }), 2)
      assert.strictEqual(yield* counter((m) => m.workqueueDepth, { name: "test" }), 0)
    }).pipe(Effect.provide(TestMetrics)))

  it("awaitIdle completes when the last processing key is done, without polling the clock", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "test" })
      yield* q.awaitIdle
      yield* q.add("a")
      yield* q.add("b")
      const a = yield* q.take
      const b = yield* q.take
      const idle = yield* Effect.fork(q.awaitIdle)
      yield* q.done(a)
      yield* settled
      assert.isNull(idle.unsafePoll(), "b still processing")
      yield* q.done(b)
      // settled does not move the clock: a signal, not a timer, ends the wait.
      yield* settled
      assert.isTrue(Exit.isExit(idle.unsafePoll()))
    }).pipe(Effect.provide(TestMetrics), runScoped))

  it.scoped("never hands a processing key out again before done, then re-queues it once", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "test" })
      yield* q.add("a")
      const key = yield* q.take
      yield* q.add("a")
      yield* q.add("a")
      assert.strictEqual(yield* q.len, 0, "added while processing: must not be takeable")
      const second = yield* Effect.fork(q.take)
      yield* seconds(1)
      assert.isNull(second.unsafePoll(), "a second worker is blocked while the key processes")
      yield* q.done(key)
      assert.strictEqual(yield* Fiber.join(second), "a")
      assert.strictEqual(yield* q.len, 0)
    }).pipe(Effect.provide(TestMetrics)))

  it.scoped("backs off 5, 10, 20 .. 300 s per key and resets on forget", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "test" })
      const expected = [5, 10, 20, 40, 80, 160, 300, 300]
      for (const delay of expected) {
        yield* q.addRateLimited("k")
        yield* TestClock.adjust(Duration.millis(delay * 1000 - 1))
        assert.strictEqual(yield* q.len, 0, `not before ${delay}s`)
        yield* TestClock.adjust(Duration.millis(1))
        assert.strictEqual(yield* q.len, 1, `at ${delay}s`)
        yield* q.done(yield* q.take)
      }
      assert.strictEqual(yield* q.numRequeues("k"), expected.length)
      // another key has its own backoff
      yield* q.addRateLimited("other")
      yield* seconds(5)
      assert.strictEqual(yield* q.len, 1)
      yield* q.done(yield* q.take)
      yield* q.forget("k")
      yield* q.addRateLimited("k")
      yield* seconds(5)
      assert.strictEqual(yield* q.len, 1, "forget resets the backoff to 5 s")
      assert.strictEqual(yield* counter((m) => m.workqueueRetries, { name: "test" }), expected.length + 2)
    }).pipe(Effect.provide(TestMetrics)))

  it.scoped("addAfter waits on the Clock and keeps the earliest of several delays", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "test" })
      yield* q.addAfter("a", "10 seconds")
      yield* seconds(9)
      assert.strictEqual(yield* q.len, 0)
      yield* seconds(1)
      assert.strictEqual(yield* q.len, 1)
      yield* q.done(yield* q.take)

      yield* q.addAfter("b", "10 seconds")
      yield* q.addAfter("b", "3 seconds")
      yield* q.addAfter("b", "20 seconds")
      yield* seconds(3)
      assert.strictEqual(yield* q.len, 1, "the earlier delay replaced the later one")
      yield* q.done(yield* q.take)
      yield* seconds(30)
      assert.strictEqual(yield* q.len, 0, "no second delivery from the superseded delays")
    }).pipe(Effect.provide(TestMetrics)))

  it.effect("shutdown by scope: adds are ignored and blocked takers are interrupted", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const q = yield* WorkQueue.make<string>({ name: "test" }).pipe(Scope.extend(scope))
      yield* q.addAfter("late", "5 seconds")
      const taker = yield* Effect.fork(q.take)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(taker)
      assert.isTrue(exit._tag === "Failure")
      yield* q.add("x")
      yield* seconds(10)
      assert.strictEqual(yield* q.len, 0)
    }).pipe(Effect.provide(TestMetrics)))
})

describe("runWorkers", () => {
  it.scoped("N workers never reconcile one key concurrently; events during processing coalesce into one rerun", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "svc" })
      const active = yield* Ref.make(new Map<string, number>())
      const maxActive = yield* Ref.make(0)
      const runs = yield* Ref.make(new Map<string, number>())
      const reconcile = (key: string) =>
        Effect.gen(function*() {
          const now = yield* Ref.updateAndGet(active, (m) => new Map(m).set(key, (m.get(key) ?? 0) + 1))
          yield* Ref.update(maxActive, (n) => Math.max(n, now.get(key) ?? 0))
          yield* Ref.update(runs, (m) => new Map(m).set(key, (m.get(key) ?? 0) + 1))
          yield* Effect.sleep("1 second")
          yield* Ref.update(active, (m) => new Map(m).set(key, (m.get(key) ?? 1) - 1))
          return ReconcileResult.Done()
        })
      yield* WorkQueue.runWorkers(q, 4, reconcile, { controller: "svc" })
      yield* q.add("a")
      yield* q.add("b")
      yield* TestClock.adjust("100 millis")
      // while "a" is processing, three more events arrive for it
      yield* q.add("a")
      yield* q.add("a")
      yield* q.add("a")
      yield* seconds(5)
      assert.strictEqual(yield* Ref.get(maxActive), 1)
      const counts = yield* Ref.get(runs)
      assert.strictEqual(counts.get("a"), 2, "the three adds coalesce into one more run")
      assert.strictEqual(counts.get("b"), 1)
      assert.strictEqual(yield* counter((m) => m.reconciles, { controller: "svc", result: "success" }), 3)
    }).pipe(Effect.provide(TestMetrics)))

  class UserError extends Data.TaggedError("UserError")<{ readonly detail: string }> {
    override get message() {
      return this.detail
    }
  }
  const byTag = (e: unknown) => (e instanceof UserError ? "user" as const : "transient" as const)

  it.scoped("maps results: failure backs off, success forgets, RequeueAfter waits, a user error retries on the capped backoff", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "svc" })
      const calls = yield* Ref.make<ReadonlyArray<string>>([])
      const plan = new Map<string, Array<"fail" | "ok" | "after">>([
        ["flaky", ["fail", "fail", "ok"]],
        ["slow", ["after", "ok"]]
      ])
      const reconcile = (key: string): Effect.Effect<ReconcileResult, Error | UserError> =>
        Effect.gen(function*() {
          const now = yield* TestClock.currentTimeMillis
          yield* Ref.update(calls, (c) => [...c, `${key}@${now / 1000}`])
          if (key === "bad") return yield* Effect.fail(new UserError({ detail: "invalid annotation" }))
          const step = plan.get(key)?.shift() ?? "ok"
          switch (step) {
            case "fail":
              return yield* Effect.fail(new Error("boom"))
            case "after":
              return ReconcileResult.RequeueAfter({ delay: Duration.seconds(30) })
            case "ok":
              return ReconcileResult.Done()
          }
        })
      yield* WorkQueue.runWorkers(q, 2, reconcile, { controller: "svc", classify: byTag })
      yield* q.add("flaky")
      yield* q.add("slow")
      yield* q.add("bad")
      yield* seconds(600)
      const log = yield* Ref.get(calls)
      assert.deepStrictEqual(log.filter((c) => c.startsWith("flaky")), ["flaky@0", "flaky@5", "flaky@15"])
      assert.deepStrictEqual(log.filter((c) => c.startsWith("slow")), ["slow@0", "slow@30"])
      // 5, 10, 20 .. capped at 300 s: a user who fixes the cause is picked up, never a hot loop
      assert.deepStrictEqual(log.filter((c) => c.startsWith("bad")), [
        "bad@0",
        "bad@5",
        "bad@15",
        "bad@35",
        "bad@75",
        "bad@155",
        "bad@315"
      ])
      assert.strictEqual(yield* q.numRequeues("flaky"), 0, "success forgets the backoff")
      assert.strictEqual(yield* counter((m) => m.reconciles, { controller: "svc", result: "error" }), 2)
      assert.strictEqual(yield* counter((m) => m.reconciles, { controller: "svc", result: "user_error" }), 7)
      assert.strictEqual(yield* counter((m) => m.reconciles, { controller: "svc", result: "requeue_after" }), 1)
      assert.strictEqual(yield* counter((m) => m.reconciles, { controller: "svc", result: "success" }), 2)
    }).pipe(Effect.provide(TestMetrics)))

  it.scoped("error policy: a transient failure is Debug until it persists, a user error is one Error line per cause, a defect keeps its stack", () => {
    class VmNotFoundError extends Data.TaggedError("VmNotFoundError")<{ readonly node: string }> {
      override get message() {
        return `no VM for node ${this.node}`
      }
    }
    const log = CapturingLogger.make()
    return Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "svc" })
      const attempts = new Map<string, number>()
      yield* WorkQueue.runWorkers(q, 1, (key: string): Effect.Effect<ReconcileResult, VmNotFoundError | UserError> => {
        const n = (attempts.get(key) ?? 0) + 1
        attempts.set(key, n)
        return key === "bug"
          ? Effect.die(new Error("invariant broken"))
          : key === "gone"
          // the same cause three times, then another one
          ? Effect.fail(new UserError({ detail: n <= 3 ? "unsupported protocol SCTP" : "unsupported protocol ICMP" }))
          : Effect.fail(new VmNotFoundError({ node: key }))
      }, { controller: "svc", classify: byTag })
      yield* q.add("n1")
      yield* q.add("gone")
      yield* q.add("bug")
      yield* seconds(1)
      const errorsAt = () =>
        log.lines.filter((l) => l.level === "ERROR").map((
          l
        ) => [l.message, l.annotations["key"], l.annotations["error"], l.annotations["errorTag"]])
      assert.deepStrictEqual(errorsAt(), [
        [
          "reconcile failed: needs a change by the user, retrying with a capped backoff",
          "gone",
          "unsupported protocol SCTP",
          "UserError"
        ],
        ["reconcile failed, requeuing with backoff", "bug", undefined, undefined]
      ])
      const defect = log.lines.find((l) => l.level === "ERROR" && l.annotations["key"] === "bug")
      assert.match(defect?.cause ?? "", /Error: invariant broken\n\s+at /, "a defect keeps its stack")
      assert.deepStrictEqual(
        log.lines.filter((l) => l.level === "DEBUG" && l.annotations["key"] === "n1").map((
          l
        ) => [l.message, l.annotations["error"], l.annotations["errorTag"]]),
        [["reconcile failed, requeuing with backoff", "no VM for node n1", "VmNotFoundError"]]
      )
      // attempts at 0, 5, 15, 35 s: the transient failure is an Error from its third attempt on, the
      // user error is not logged again until its cause changes (4th attempt), the defect every time
      yield* seconds(40)
      const errors = errorsAt()
      assert.deepStrictEqual(errors.filter(([, key]) => key === "n1").map(([, , e]) => e), [
        "no VM for node n1",
        "no VM for node n1"
      ])
      assert.deepStrictEqual(errors.filter(([, key]) => key === "gone").map(([, , e]) => e), [
        "unsupported protocol SCTP",
        "unsupported protocol ICMP"
      ])
      assert.strictEqual(errors.filter(([, key]) => key === "bug").length, 4)
      assert.isTrue(
        log.lines.filter((l) => l.level === "ERROR" && l.annotations["key"] !== "bug").every((l) =>
          l.cause === undefined
        ),
        "no stack for expected failures"
      )
    }).pipe(Effect.provide(TestMetrics), Effect.provide(log.layer), Logger.withMinimumLogLevel(LogLevel.Debug))
  })

  it.scoped("a defect in one key's reconcile does not stop the workers", () =>
    Effect.gen(function*() {
      const q = yield* WorkQueue.make<string>({ name: "svc" })
      const ok = yield* Ref.make(0)
      yield* WorkQueue.runWorkers(q, 1, (key: string) =>
        key === "boom" ? Effect.die("bug") : Ref.update(ok, (n) =>
          n + 1).pipe(Effect.as(ReconcileResult.Done())), { controller: "svc" })
      yield* q.add("boom")
      yield* q.add("fine")
      yield* seconds(1)
      assert.strictEqual(yield* Ref.get(ok), 1)
      assert.strictEqual(yield* q.numRequeues("boom"), 1)
    }).pipe(Effect.provide(TestMetrics)))

  it.effect("closing the scope stops intake and lets the in-flight reconcile finish within the drain timeout", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      const finished = yield* Ref.make(false)
      const q = yield* WorkQueue.make<string>({ name: "svc" }).pipe(Scope.extend(scope))
      yield* WorkQueue.runWorkers(q, 1, (_: string) =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.sleep("1 second")),
          Effect.zipRight(Ref.set(finished, true)),
          Effect.as(ReconcileResult.Done())
        ), { controller: "svc", drainTimeout: "5 seconds" }).pipe(Scope.extend(scope))
      yield* q.add("a")
      yield* Deferred.await(started)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* seconds(2)
      yield* Fiber.join(closing)
      assert.isTrue(yield* Ref.get(finished), "in-flight work completed before the workers stopped")
      yield* q.add("b")
      assert.strictEqual(yield* q.len, 0)
    }).pipe(Effect.provide(TestMetrics)))

  // Finalizers run uninterruptibly: a timeout inside one cannot stop an uninterruptible wait, so
  // the drain waited for the longest reconcile (minutes on a slow CloudStack job) and a process that
  // lost its lease went on changing CloudStack (found by the chaos suite).
  it.effect("a reconcile longer than the drain timeout is interrupted when the drain timeout ends", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Ref.make(false)
      const q = yield* WorkQueue.make<string>({ name: "svc" }).pipe(Scope.extend(scope))
      yield* WorkQueue.runWorkers(q, 1, (_: string) =>
        Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.sleep("10 minutes")),
          Effect.onInterrupt(() => Ref.set(interrupted, true)),
          Effect.as(ReconcileResult.Done())
        ), { controller: "svc", drainTimeout: "2 seconds" }).pipe(Scope.extend(scope))
      yield* q.add("a")
      yield* Deferred.await(started)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* seconds(3)
      assert.isTrue((yield* Fiber.poll(closing))._tag === "Some", "the scope closed at the drain timeout")
      assert.isTrue(yield* Ref.get(interrupted), "the in-flight reconcile was interrupted")
    }).pipe(Effect.provide(TestMetrics)))

  it.effect("a reconcile that never ends is interrupted once the drain timeout has passed", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const started = yield* Deferred.make<void>()
      const q = yield* WorkQueue.make<string>({ name: "svc" }).pipe(Scope.extend(scope))
      yield* WorkQueue.runWorkers(
        q,
        1,
        (_: string) => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never),
        {
          controller: "svc",
          drainTimeout: "5 seconds"
        }
      ).pipe(Scope.extend(scope))
      yield* q.add("a")
      yield* Deferred.await(started)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* seconds(4)
      assert.isNull(closing.unsafePoll(), "still draining")
      yield* seconds(2)
      yield* Fiber.join(closing)
    }).pipe(Effect.provide(TestMetrics)))
})
