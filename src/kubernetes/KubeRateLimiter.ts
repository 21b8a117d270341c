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

/** A bucket of `burst` tokens, full at start, refilled `qps` per second, up to `burst`. */
export const makeLimiter = (rate: KubeRateLimit): Effect.Effect<KubeLimiter> =>
  Effect.map(Ref.make<Bucket>({ tokens: rate.burst, at: undefined }), (bucket): KubeLimiter => {
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
    return (request) => Effect.zipRight(admit, request)
  })
