/**
 * WorkQueue throughput: 20,000 keys through 4 workers with a no-op reconcile (dedup, per-key
 * exclusivity, metrics and reconcile bookkeeping included) against a bare Effect `Queue` with 4
 * takers as the baseline, in keys per second. Reconciles cost milliseconds of API time each, so the
 * queue only has to stay far above a few hundred keys/s.
 */
import { Deferred, Effect, Queue, Ref } from "effect"
import * as WorkQueue from "../src/controllers/WorkQueue.js"
import * as Metrics from "../src/metrics/Metrics.js"
import type { BenchRow } from "./run.js"

const KEYS = Number(process.env["BENCH_WORKQUEUE_KEYS"] ?? "20000")
const WORKERS = 4

const ours = (keys: ReadonlyArray<string>, repeats: number) =>
  Effect.gen(function*() {
    const q = yield* WorkQueue.make<string>({ name: "bench" })
    const processed = yield* Ref.make(0)
    const finished = yield* Deferred.make<void>()
    yield* WorkQueue.runWorkers(q, WORKERS, () =>
      Ref.updateAndGet(processed, (n) => n + 1).pipe(
        Effect.tap((n) => (n >= keys.length ? Deferred.succeed(finished, undefined) : Effect.void)),
        Effect.as(WorkQueue.ReconcileResult.Done())
      ), { controller: "bench" })
    const start = performance.now()
    for (let r = 0; r < repeats; r++) for (const key of keys) yield* q.add(key)
    yield* Deferred.await(finished)
    const ms = performance.now() - start
    return { ms, processed: yield* Ref.get(processed) }
  }).pipe(Effect.scoped, Effect.provide(Metrics.layer))

const baseline = (keys: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const q = yield* Queue.unbounded<string>()
    const processed = yield* Ref.make(0)
    const finished = yield* Deferred.make<void>()
    for (let i = 0; i < WORKERS; i++) {
      yield* Effect.forkScoped(Effect.forever(
        Queue.take(q).pipe(
          Effect.zipRight(Ref.updateAndGet(processed, (n) => n + 1)),
          Effect.tap((n) => (n >= keys.length ? Deferred.succeed(finished, undefined) : Effect.void))
        )
      ))
    }
    const start = performance.now()
    for (const key of keys) yield* Queue.offer(q, key)
    yield* Deferred.await(finished)
    return performance.now() - start
  }).pipe(Effect.scoped)

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const keys = Array.from({ length: KEYS }, (_, i) => `ns/svc-${i}`)
  await Effect.runPromise(ours(keys.slice(0, 1000), 1)) // warm-up
  const plain = await Effect.runPromise(ours(keys, 1))
  const dup = await Effect.runPromise(ours(keys, 3))
  const base = await Effect.runPromise(baseline(keys))
  const perSecond = (ms: number) => Math.round((KEYS / ms) * 1000)
  return [
    { bench: "workqueue", metric: `${KEYS} keys, ${WORKERS} workers`, value: perSecond(plain.ms), unit: "keys/s" },
    {
      bench: "workqueue",
      metric: `${KEYS} keys added 3x`,
      value: perSecond(dup.ms),
      unit: "keys/s",
      note: `${dup.processed} reconciles for ${KEYS * 3} adds (dedup while queued)`
    },
    { bench: "workqueue", metric: "bare Queue baseline", value: perSecond(base), unit: "keys/s" },
    {
      bench: "workqueue",
      metric: "ratio vs bare Queue",
      value: Math.round((plain.ms / base) * 10) / 10,
      unit: "x slower"
    }
  ]
}
