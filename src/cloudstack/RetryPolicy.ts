/**
 * The client's waiting rules as Schedules, driven by `Clock` so TestClock controls them.
 * Retries: 500 ms doubling, capped at 30 s, then jittered (x0.8..1.2, so at most 36 s), at most 5
 * attempts in all.
 * Job polling: first poll at once, then 1 s, 2 s, 3 s ... capped at 10 s, bounded overall by
 * `asyncJobTimeout` in the client.
 */
import { Duration, Schedule } from "effect"

export const RETRY_BASE = Duration.millis(500)
export const RETRY_CAP = Duration.seconds(30)
export const MAX_ATTEMPTS = 5

/** Delays between attempts of one request; which errors qualify is decided by the caller's predicate. */
export const retrySchedule: Schedule.Schedule<unknown, unknown> = Schedule.exponential(RETRY_BASE, 2).pipe(
  Schedule.union(Schedule.spaced(RETRY_CAP)),
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(MAX_ATTEMPTS - 1))
)

export const POLL_STEP = Duration.seconds(1)
export const POLL_CAP = Duration.seconds(10)

/** Delay before poll number `n + 1` after `n` pending answers (n >= 1): 1 s, 2 s, 3 s ... capped at 10 s. */
export const pollDelay = (pendingPolls: number): Duration.Duration =>
  Duration.min(Duration.times(POLL_STEP, Math.max(1, pendingPolls)), POLL_CAP)
