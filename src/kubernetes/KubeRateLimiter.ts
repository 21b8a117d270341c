/**
 * client-go's client-side throttle (`--kube-api-qps`, `--kube-api-burst`): a token bucket computed
 * from `Clock` at each request, as golang.org/x/time/rate reserves tokens. Nothing runs between
 * requests (no refill fiber, no timer while idle), and the n-th token past the burst is due exactly
 * (n - burst) / qps seconds after the bucket ran dry, however late the fibers are scheduled.
 */
import { Clock, Duration, Effect, Ref } from "effect"

/** `qps` requests per second on average, `burst` at once. */
export interface KubeRateLimit {
  readonly qps: number
  readonly burst: number
}

/** Delays an API request until the client's rate limit admits it. */
export type KubeLimiter = <A, E, R>(request: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** No client-side limit. */
export const unlimited: KubeLimiter = (request) => request

interface Bucket {
  /** Tokens at `at`; negative = reservations already handed out for the future. */
  readonly tokens: number
  /** Epoch millis of the last reservation; undefined before the first (the bucket starts full). */
  readonly at: number | undefined
}

/**
 * Takes one token at `now`: the wait until it is due (0 when one is available) and the new bucket.
 * Pure.
 */
export const reserve = (bucket: Bucket, now: number, rate: KubeRateLimit): readonly [number, Bucket] => {
  const elapsed = bucket.at === undefined ? 0 : Math.max(0, now - bucket.at)
  const tokens = Math.min(rate.burst, bucket.tokens + (elapsed * rate.qps) / 1000) - 1
  return [tokens >= 0 ? 0 : (-tokens * 1000) / rate.qps, {
    tokens,
    at: bucket.at === undefined ? now : Math.max(now, bucket.at)
  }]
}

/**
 * Takes one token at `now` only if one is there (no request waits for it, none past the burst is
 * reserved): 0 and the new bucket, or how long until one is there and the bucket unchanged. Pure.
 */
export const takeAvailable = (bucket: Bucket, now: number, rate: KubeRateLimit): readonly [number, Bucket] => {
  const elapsed = bucket.at === undefined ? 0 : Math.max(0, now - bucket.at)
  const tokens = Math.min(rate.burst, bucket.tokens + (elapsed * rate.qps) / 1000)
  // Tolerant of rounding: a token earned exactly by now (0.1 qps steps do not add up to 1 exactly).
  if (tokens >= 1 - 1e-9) {
    return [0, { tokens: Math.max(0, tokens - 1), at: bucket.at === undefined ? now : Math.max(now, bucket.at) }]
  }
  return [((1 - tokens) * 1000) / rate.qps, bucket]
}

/** The longest a background request yields to the others before it takes its place in line. */
export const BACKGROUND_MAX_WAIT_MS = 10_000

/** One bucket, two classes of request. */
export interface KubeLimiterPair {
  /** Reserves its token in arrival order, as client-go does. */
  readonly limit: KubeLimiter
  /**
   * Takes a token only when no `limit` request waits for one (Events), for up to
   * BACKGROUND_MAX_WAIT_MS, then reserves in line: the API server sees the same rate, and what the
   * controllers write (a Node's initialisation) does not queue behind Events.
   */
  readonly background: KubeLimiter
}

/** A bucket of `burst` tokens, full at start, refilled `qps` per second, up to `burst`. */
export const makeLimiters = (rate: KubeRateLimit): Effect.Effect<KubeLimiterPair> =>
  Effect.gen(function*() {
    const bucket = yield* Ref.make<Bucket>({ tokens: rate.burst, at: undefined })
    // Background requests wait one at a time: one fiber polls the bucket, not one per Event.
    const backgroundTurn = yield* Effect.makeSemaphore(1)
    const take = Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.modify(bucket, (b) => reserve(b, now, rate)))
    // An interrupted wait hands its token back, as x/time/rate cancels a reservation.
    const giveBack = Ref.update(bucket, (b) => ({ ...b, tokens: Math.min(rate.burst, b.tokens + 1) }))
    const admit = Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        take,
        (wait) =>
          wait <= 0 ? Effect.void : Effect.onInterrupt(restore(Effect.sleep(Duration.millis(wait))), () => giveBack)
      )
    )
    // Nothing is taken until the token is: an interrupted wait has nothing to give back. Past
    // BACKGROUND_MAX_WAIT it reserves in line like the others: busy controllers delay an Event
    // (a Warning) by seconds, never starve it.
    const admitBackground = (until: number): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        now >= until ? admit : Effect.flatMap(
          Ref.modify(bucket, (b) => takeAvailable(b, now, rate)),
          (wait) =>
            wait <= 0 ? Effect.void : Effect.zipRight(
              Effect.sleep(Duration.millis(Math.min(wait, until - now))),
              admitBackground(until)
            )
        ))
    return {
      limit: (request) => Effect.zipRight(admit, request),
      background: (request) =>
        Effect.zipRight(
          backgroundTurn.withPermits(1)(
            Effect.flatMap(Clock.currentTimeMillis, (now) => admitBackground(now + BACKGROUND_MAX_WAIT_MS))
          ),
          request
        )
    }
  })

/** `makeLimiters(rate).limit`: a bucket for one class of request. */
export const makeLimiter = (rate: KubeRateLimit): Effect.Effect<KubeLimiter> =>
  Effect.map(makeLimiters(rate), (pair) => pair.limit)
