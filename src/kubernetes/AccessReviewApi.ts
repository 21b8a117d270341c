/**
 * Delegated authentication and authorization through the API server, as the k8s CCM's secure port
 * does: TokenReview (authentication.k8s.io/v1) says who a bearer token is, SubjectAccessReview
 * (authorization.k8s.io/v1) whether that user may use a path. Answers are decoded into our own
 * views; caching and HTTP semantics are the caller's (runtime/DelegatedAuth).
 */
import * as k8s from "@kubernetes/client-node"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { typedApis } from "./KubeClient.js"
import {
  inlineFiles,
  type KubeConfigError,
  type KubeConfigOptions,
  loadConfig,
  LoadedKubeConfig
} from "./KubeConfigLoader.js"
import type { KubeApiError } from "./KubeError.js"
import { call, decodeWith } from "./KubeRequest.js"

/** A user as TokenReview reports it and SubjectAccessReview takes it. */
export class UserInfo extends Schema.Class<UserInfo>("UserInfo")({
  username: Schema.String,
  uid: Schema.optionalWith(Schema.String, { default: () => "" }),
  groups: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  extra: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }), {
    default: () => ({})
  })
}) {}

export type TokenReviewResult =
  | { readonly _tag: "Authenticated"; readonly user: UserInfo }
  | { readonly _tag: "Unauthenticated"; readonly error: string }

export interface AccessRequest {
  readonly user: UserInfo
  /** The non-resource path, e.g. `/metrics`. */
  readonly path: string
  /** The lowercased HTTP method (`get`, `head`), as the apiserver's request info names it. */
  readonly verb: string
}

export interface AccessDecision {
  readonly allowed: boolean
  /** The authorizer's reason (RBAC gives none for a denial). */
  readonly reason: string
}

export class AccessReviewApi extends Context.Tag("cloudstack-ccm/kubernetes/AccessReviewApi")<AccessReviewApi, {
  /** Who the token is; an error when the review itself failed (API server down, the CCM not allowed to create TokenReviews). */
  readonly reviewToken: (token: Redacted.Redacted<string>) => Effect.Effect<TokenReviewResult, KubeApiError>
  /** Whether the user may `verb` the path; an error when the review itself failed. */
  readonly reviewAccess: (request: AccessRequest) => Effect.Effect<AccessDecision, KubeApiError>
}>() {}

const TokenReviewStatus = Schema.Struct({
  status: Schema.optionalWith(
    Schema.Struct({
      authenticated: Schema.optionalWith(Schema.Boolean, { default: () => false }),
      user: Schema.optional(UserInfo),
      error: Schema.optionalWith(Schema.String, { default: () => "" })
    }),
    { default: () => ({ authenticated: false, error: "" }) }
  )
})

const SubjectAccessReviewStatus = Schema.Struct({
  status: Schema.Struct({
    allowed: Schema.Boolean,
    denied: Schema.optional(Schema.Boolean),
    reason: Schema.optionalWith(Schema.String, { default: () => "" }),
    evaluationError: Schema.optionalWith(Schema.String, { default: () => "" })
  })
})

const decodeTokenReview = decodeWith("create", "tokenreviews", Schema.decodeUnknown(TokenReviewStatus))
const decodeAccessReview = decodeWith("create", "subjectaccessreviews", Schema.decodeUnknown(SubjectAccessReviewStatus))

export interface AccessReviewOptions {
  /** Where TokenReviews go; absent: the process's configuration (`LoadedKubeConfig`). */
  readonly authentication?: KubeConfigOptions | undefined
  /** Where SubjectAccessReviews go; absent: the process's configuration (`LoadedKubeConfig`). */
  readonly authorization?: KubeConfigOptions | undefined
}

/**
 * The live reviews, each over its own client configuration; those without one share the process's
 * loaded configuration and one kept-alive connection (the controllers' requests never wait for them).
 */
export const make = (
  options: AccessReviewOptions
): Effect.Effect<AccessReviewApi["Type"], KubeConfigError, LoadedKubeConfig> =>
  Effect.gen(function*() {
    const shared = yield* Effect.cached(Effect.flatMap(LoadedKubeConfig, typedApis))
    const apisOf = (own: KubeConfigOptions | undefined) =>
      own === undefined ? shared : Effect.flatMap(Effect.flatMap(loadConfig(own), inlineFiles), typedApis)
    const authn = (yield* apisOf(options.authentication))(k8s.AuthenticationV1Api)
    const authz = (yield* apisOf(options.authorization))(k8s.AuthorizationV1Api)

    const reviewToken = (token: Redacted.Redacted<string>) =>
      call("create", "tokenreviews", undefined, () =>
        authn.createTokenReview({
          body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: Redacted.value(token) } }
        })).pipe(
          Effect.flatMap(decodeTokenReview),
          Effect.map(({ status }): TokenReviewResult =>
            status.authenticated && status.user !== undefined
              ? { _tag: "Authenticated", user: status.user }
              : { _tag: "Unauthenticated", error: status.error }
          )
        )

    const reviewAccess = (request: AccessRequest) =>
      call("create", "subjectaccessreviews", undefined, () =>
        authz.createSubjectAccessReview({
          body: {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SubjectAccessReview",
            spec: {
              user: request.user.username,
              uid: request.user.uid,
              groups: [...request.user.groups],
              extra: Object.fromEntries(Object.entries(request.user.extra).map(([k, v]) => [k, [...v]])),
              nonResourceAttributes: { path: request.path, verb: request.verb }
            }
          }
        })).pipe(
          Effect.flatMap(decodeAccessReview),
          Effect.map(({ status }): AccessDecision => ({
            allowed: status.allowed && status.denied !== true,
            reason: status.reason !== "" ? status.reason : status.evaluationError
          }))
        )

    return AccessReviewApi.of({ reviewToken, reviewAccess })
  })

export const layer = (
  options: AccessReviewOptions
): Layer.Layer<AccessReviewApi, KubeConfigError, LoadedKubeConfig> => Layer.effect(AccessReviewApi, make(options))
