/**
 * Delegated authentication and authorization of the secure port, as the k8s CCM's: a bearer token
 * is reviewed (TokenReview), a request without one is `system:anonymous`; always-allow paths and
 * `system:masters` pass, anything else needs a SubjectAccessReview of its path and verb. Answers
 * are cached (10 s by default, both ways) so scrapes do not hammer the API server; failed reviews
 * are retried briefly, never cached, and answered as the apiserver's filters do: 401 when the
 * token cannot be reviewed, 500 when the access cannot.
 */
import { Cache, Duration, Effect, Equal, Exit, Hash, Option, Redacted, Schedule } from "effect"
import { createHash } from "node:crypto"
import * as AccessReporter from "../kubernetes/AccessReporter.js"
import {
  type AccessDecision,
  type AccessRequest,
  AccessReviewApi,
  type TokenReviewResult,
  UserInfo
} from "../kubernetes/AccessReviewApi.js"
import { isRetryable, KubeApiError } from "../kubernetes/KubeError.js"
import * as HttpAccess from "./HttpAccess.js"

export interface DelegatedAuthOptions {
  readonly alwaysAllowPaths: ReadonlyArray<string>
  readonly tokenCacheTtl: Duration.DurationInput
  readonly allowCacheTtl: Duration.DurationInput
  readonly denyCacheTtl: Duration.DurationInput
}

/** What the guard needs of a request. */
export interface RequestFacts {
  readonly method: string
  /** The URL path, without the query. */
  readonly path: string
  /** The path with the query, for error texts. */
  readonly requestUri: string
  readonly authorization: string | undefined
}

export type Verdict =
  | { readonly _tag: "Allow"; readonly username: string }
  | { readonly _tag: "Deny"; readonly answer: HttpAccess.HttpAnswer }

export interface AccessGuard {
  /** Never fails: a review that cannot be done is a 401 or 500 answer. */
  readonly check: (request: RequestFacts) => Effect.Effect<Verdict>
}

/** Cached answers live at most this many entries (beyond, the oldest go). */
export const CACHE_CAPACITY = 4096
/** One review call: the k8s delegating client's timeout. */
export const REVIEW_TIMEOUT = Duration.seconds(10)
/** Retries of a review the API server could not answer: 500 ms growing 1.5 times, 5 attempts (k8s' webhook backoff). */
export const reviewRetry = Schedule.exponential(Duration.millis(500), 1.5).pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(4))
)

/** A cache key compared by a digest, carrying what the lookup needs (the token never is the key). */
class Keyed<A> implements Equal.Equal {
  constructor(readonly digest: string, readonly value: A) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof Keyed && that.digest === this.digest
  }
  [Hash.symbol](): number {
    return Hash.string(this.digest)
  }
}

const digest = (text: string): string => createHash("sha256").update(text).digest("hex")

const anonymous = new UserInfo({ ...HttpAccess.ANONYMOUS, groups: [...HttpAccess.ANONYMOUS.groups] })

const ttlFor = <A, E>(ttl: (a: A) => Duration.DurationInput) => (exit: Exit.Exit<A, E>): Duration.DurationInput =>
  Exit.isSuccess(exit) ? ttl(exit.value) : Duration.zero

/** The guard over the API server's reviews. */
export const make = (options: DelegatedAuthOptions): Effect.Effect<AccessGuard, never, AccessReviewApi> =>
  Effect.gen(function*() {
    const api = yield* AccessReviewApi
    const reporter = yield* AccessReporter.make("DelegatedAuth")
    const retried = <A>(resource: string, review: Effect.Effect<A, KubeApiError>) =>
      review.pipe(
        Effect.timeoutFail({
          duration: REVIEW_TIMEOUT,
          onTimeout: () =>
            new KubeApiError({
              verb: "create",
              resource,
              reason: "Transport",
              detail: `no answer within ${Duration.format(REVIEW_TIMEOUT)}`
            })
        }),
        Effect.retry({ schedule: reviewRetry, while: isRetryable }),
        Effect.tap(() => reporter.succeeded)
      )
    const tokens = yield* Cache.makeWith({
      capacity: CACHE_CAPACITY,
      lookup: (key: Keyed<Redacted.Redacted<string>>) => retried("tokenreviews", api.reviewToken(key.value)),
      timeToLive: ttlFor((_: TokenReviewResult) => options.tokenCacheTtl)
    })
    const access = yield* Cache.makeWith({
      capacity: CACHE_CAPACITY,
      lookup: (key: Keyed<AccessRequest>) => retried("subjectaccessreviews", api.reviewAccess(key.value)),
      timeToLive: ttlFor((d: AccessDecision) => (d.allowed ? options.allowCacheTtl : options.denyCacheTtl))
    })
    const allowedPath = HttpAccess.alwaysAllowed(options.alwaysAllowPaths)

    const failed = (what: string, error: KubeApiError) =>
      Effect.flatMap(reporter.failed(error), (reported) =>
        reported
          ? Effect.void
          : Effect.logWarning(`${what} failed`).pipe(
            Effect.annotateLogs({ module: "DelegatedAuth", error: error.message })
          ))

    const authenticate = (header: string | undefined): Effect.Effect<Option.Option<UserInfo>> =>
      Option.match(HttpAccess.bearerToken(header), {
        onNone: () => Effect.succeed(Option.some(anonymous)),
        onSome: (token) =>
          tokens.get(new Keyed(digest(token), Redacted.make(token))).pipe(
            Effect.map((r) => (r._tag === "Authenticated" ? Option.some(r.user) : Option.none())),
            Effect.catchAll((error) => Effect.as(failed("TokenReview", error), Option.none()))
          )
      })

    const check = (request: RequestFacts): Effect.Effect<Verdict> =>
      Effect.gen(function*() {
        const user = yield* authenticate(request.authorization)
        if (Option.isNone(user)) return { _tag: "Deny", answer: HttpAccess.unauthorized } as const
        const who = user.value
        if (allowedPath(request.path) || who.groups.includes(HttpAccess.PRIVILEGED_GROUP)) {
          return { _tag: "Allow", username: who.username } as const
        }
        const wanted: AccessRequest = { user: who, path: request.path, verb: request.method.toLowerCase() }
        const key = new Keyed(
          digest(JSON.stringify([who.username, who.uid, who.groups, who.extra, wanted.path, wanted.verb])),
          wanted
        )
        const decision = yield* Effect.either(access.get(key))
        if (decision._tag === "Left") {
          yield* failed("SubjectAccessReview", decision.left)
          return { _tag: "Deny", answer: HttpAccess.internalError(request.requestUri, decision.left.message) } as const
        }
        return decision.right.allowed
          ? { _tag: "Allow", username: who.username } as const
          : {
            _tag: "Deny",
            answer: HttpAccess.forbidden(who.username, wanted.verb, wanted.path, decision.right.reason)
          } as const
      })

    return { check }
  })

/**
 * The guard without an API server to ask (no kubeconfig, as the k8s CCM outside a cluster): tokens
 * cannot be reviewed (401); anonymous requests reach the always-allow paths only (403 elsewhere).
 */
export const pathsOnly = (alwaysAllowPaths: ReadonlyArray<string>): AccessGuard => {
  const allowedPath = HttpAccess.alwaysAllowed(alwaysAllowPaths)
  return {
    check: (request) =>
      Effect.succeed(
        Option.isSome(HttpAccess.bearerToken(request.authorization))
          ? { _tag: "Deny", answer: HttpAccess.unauthorized }
          : allowedPath(request.path)
          ? { _tag: "Allow", username: HttpAccess.ANONYMOUS.username }
          : {
            _tag: "Deny",
            answer: HttpAccess.forbidden(HttpAccess.ANONYMOUS.username, request.method.toLowerCase(), request.path, "")
          }
      )
  }
}
