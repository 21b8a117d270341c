/**
 * Waiting for async jobs that share one of CloudStack's job queues (a network's, a VPC's, an ACL
 * list's), which runs them one at a time in submission order. Per lane only the oldest waiter polls:
 * its job is the one running, due about one job duration after it started (learnt from the lane's
 * own completions). When it finishes the next waiter is woken and becomes the poller. So a lane
 * costs about one `queryAsyncJobResult` per job and notices each completion within a poll of it,
 * however many jobs wait behind. Nothing relies on the order being kept: every waiter still polls
 * on its own, slowly, and whatever finishes is returned.
 */
import { Clock, Deferred, Duration, Effect, Option } from "effect"
import type { CloudStackError } from "./CloudStackError.js"
import type { AsyncJobResult } from "./commands/AsyncJobs.js"
import type { JobId } from "./Ids.js"

/** The lanes of CloudStack's job queues: a network's, a VPC's (its addresses), an ACL list's. */
export const networkLane = (networkId: string): string => `network:${networkId}`
export const vpcLane = (vpcId: string): string => `vpc:${vpcId}`
export const aclLane = (aclId: string): string => `acl:${aclId}`

/** A waiter not at the head polls this often anyway (the lane's order is an assumption, never a must). */
export const BEHIND_POLL = Duration.seconds(10)
/** The head's polls after a pending answer: half the estimate (at least this), doubling, capped. */
const HEAD_MIN_MS = 50
const HEAD_CAP = Duration.seconds(10)
const HEAD_CAP_MS = Duration.toMillis(HEAD_CAP)
/** Weight of the newest sample in the lane's estimate. */
const ALPHA = 0.3

interface Waiter {
  readonly jobId: JobId
  readonly wake: Deferred.Deferred<void>
  /** Clock millis since which this waiter is the lane's head. */
  headSince: number
}

interface Lane {
  readonly waiters: Array<Waiter>
  /**
   * How long after becoming the head a job is done, estimated from the lane's completions (None:
   * none yet: the first head polls at once). A completion is known only between two polls: the
   * sample is the middle of that bracket, so an estimate too long shrinks (done at the first
   * poll) and one too short grows (pending at the first poll).
   */
  estimateMs: Option.Option<number>
}

export interface JobLanes {
  /** Polls (with `poll`) until `jobId` finishes; the answer with jobstatus 1 or 2. */
  readonly await: (
    lane: string,
    jobId: JobId,
    submittedAt: number,
    poll: Effect.Effect<AsyncJobResult, CloudStackError>
  ) => Effect.Effect<AsyncJobResult, CloudStackError>
}

export const make: Effect.Effect<JobLanes> = Effect.sync(() => {
  const lanes = new Map<string, Lane>()

  const laneOf = (name: string): Lane => {
    const found = lanes.get(name)
    if (found !== undefined) return found
    const lane: Lane = { waiters: [], estimateMs: Option.none() }
    lanes.set(name, lane)
    return lane
  }

  /** Removes the waiter; wakes the next one if the head changed. Keeps the estimate of an empty lane. */
  const leave = (name: string, lane: Lane, waiter: Waiter, now: number) =>
    Effect.suspend(() => {
      const index = lane.waiters.indexOf(waiter)
      if (index < 0) return Effect.void
      lane.waiters.splice(index, 1)
      const next = lane.waiters[0]
      if (index !== 0 || next === undefined) return Effect.void
      next.headSince = now
      return Deferred.succeed(next.wake, undefined)
    }).pipe(Effect.ensuring(Effect.sync(() => {
      if (lane.waiters.length === 0 && Option.isNone(lane.estimateMs)) lanes.delete(name)
    })))

  const learn = (lane: Lane, waiter: Waiter, lastPending: number, now: number) =>
    Effect.sync(() => {
      const sample = Math.max(0, (Math.max(lastPending, waiter.headSince) + now) / 2 - waiter.headSince)
      // One slow job (or a queue stuck until CloudStack cancels its job) says little of the next:
      // a sample counts at most twice the estimate and never above the head's longest poll.
      lane.estimateMs = Option.some(Option.match(lane.estimateMs, {
        onNone: () => Math.min(sample, HEAD_CAP_MS),
        onSome: (e) => e + ALPHA * (Math.min(sample, Math.max(2 * e, HEAD_MIN_MS), HEAD_CAP_MS) - e)
      }))
    })

  const headDelay = (lane: Lane, pending: number): Duration.Duration => {
    const estimate = Option.getOrElse(lane.estimateMs, () => 0)
    if (pending === 0) return Duration.millis(Math.round(Math.min(estimate, HEAD_CAP_MS)))
    return Duration.min(Duration.millis(Math.max(estimate, HEAD_MIN_MS) * 0.5 * 2 ** (pending - 1)), HEAD_CAP)
  }

  const awaitJob: JobLanes["await"] = (name, jobId, submittedAt, poll) =>
    Effect.gen(function*() {
      const lane = laneOf(name)
      // A job that joins an idle lane is at the head since it was submitted.
      const waiter: Waiter = { jobId, wake: yield* Deferred.make<void>(), headSince: submittedAt }
      lane.waiters.push(waiter)
      return yield* Effect.gen(function*() {
        let pending = 0
        let lastPending = 0
        for (;;) {
          if (lane.waiters[0] === waiter) {
            const delay = headDelay(lane, pending)
            if (Duration.greaterThan(delay, Duration.zero)) yield* Effect.sleep(delay)
            const answer = yield* poll
            const at = yield* Clock.currentTimeMillis
            if (answer.jobStatus !== 0) {
              yield* learn(lane, waiter, lastPending, at)
              return answer
            }
            lastPending = at
            pending++
          } else {
            // Woken when the job ahead finishes; polled anyway now and then.
            const woken = yield* Deferred.await(waiter.wake).pipe(
              Effect.as(true),
              Effect.timeoutTo({ duration: BEHIND_POLL, onSuccess: () => true, onTimeout: () => false })
            )
            if (woken) continue
            const answer = yield* poll
            if (answer.jobStatus !== 0) return answer
          }
        }
      }).pipe(Effect.ensuring(Effect.flatMap(Clock.currentTimeMillis, (at) => leave(name, lane, waiter, at))))
    })

  return { await: awaitJob }
})
