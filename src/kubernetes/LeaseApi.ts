/**
 * Leases (coordination.k8s.io/v1), the only Kubernetes objects leader election touches. A narrow
 * service so LeaderElection can be tested against FakeKubernetes and the real apiserver alike.
 */
import { Context, type Effect, type Option } from "effect"
import type { KubeApiError } from "./KubeError.js"

export interface LeaseSpec {
  readonly holderIdentity: string | undefined
  readonly leaseDurationSeconds: number | undefined
  /** RFC 3339 with microseconds, as the API server stores MicroTime. */
  readonly acquireTime: string | undefined
  readonly renewTime: string | undefined
  readonly leaseTransitions: number | undefined
}

export interface Lease {
  readonly namespace: string
  readonly name: string
  /** Empty on create; the server's value afterwards. Updates send it back (optimistic concurrency). */
  readonly resourceVersion: string
  readonly spec: LeaseSpec
}

export class LeaseApi extends Context.Tag("cloudstack-ccm/kubernetes/LeaseApi")<LeaseApi, {
  /** None when the Lease does not exist. */
  readonly get: (namespace: string, name: string) => Effect.Effect<Option.Option<Lease>, KubeApiError>
  /** Fails with reason AlreadyExists if another process created it first. */
  readonly create: (lease: Lease) => Effect.Effect<Lease, KubeApiError>
  /** Replaces the Lease; fails with reason Conflict when `resourceVersion` is stale. */
  readonly update: (lease: Lease) => Effect.Effect<Lease, KubeApiError>
}>() {}
