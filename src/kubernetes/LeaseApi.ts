/**
 * Leases (coordination.k8s.io/v1), the only Kubernetes objects leader election touches. A narrow
 * service so LeaderElection can be tested against FakeKubernetes and the real apiserver alike.
 */
import * as k8s from "@kubernetes/client-node"
import { Context, DateTime, Effect, Layer, Option, Schema } from "effect"
import { KubeClient } from "./KubeClient.js"
import type { KubeApiError } from "./KubeError.js"
import { decodeWith, limitedCall, readOptional } from "./KubeRequest.js"
import { OptionalString, Timestamp } from "./ObjectMeta.js"

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

/** MicroTime as the API server writes it: RFC 3339 UTC with exactly six fractional digits. */
export const microTime = (epochMillis: number): string => {
  const iso = DateTime.formatIso(DateTime.unsafeMake(epochMillis)) // "2026-11-28T02:50:00.123Z"
  return `${iso.slice(0, 23)}000Z`
}

/** client-node types MicroTime as a Date subclass whose JSON keeps six fractional digits. */
const toMicroTime = (text: string | undefined): { readonly time: k8s.V1MicroTime } | undefined => {
  if (text === undefined) return undefined
  const parsed = DateTime.make(text)
  return Option.isNone(parsed) ? undefined : { time: new k8s.V1MicroTime(DateTime.toEpochMillis(parsed.value)) }
}

const optionalNumber = Schema.optionalWith(Schema.Number, { nullable: true })
const optionalText = Schema.optionalWith(Schema.String, { nullable: true })
const optionalTime = Schema.optionalWith(Timestamp, { nullable: true })

/** The wire shape of a Lease we read; everything optional as the API allows. */
const LeaseWire = Schema.Struct({
  metadata: Schema.Struct({ name: Schema.String, namespace: Schema.String, resourceVersion: OptionalString }),
  spec: Schema.optionalWith(
    Schema.Struct({
      holderIdentity: optionalText,
      leaseDurationSeconds: optionalNumber,
      acquireTime: optionalTime,
      renewTime: optionalTime,
      leaseTransitions: optionalNumber
    }),
    { nullable: true, default: () => ({}) }
  )
})

const decodeLease = (verb: KubeApiError["verb"], name: string) => (input: unknown) =>
  decodeWith(verb, `leases/${name}`, Schema.decodeUnknown(LeaseWire))(input).pipe(
    Effect.map((wire): Lease => ({
      namespace: wire.metadata.namespace,
      name: wire.metadata.name,
      resourceVersion: wire.metadata.resourceVersion,
      spec: {
        holderIdentity: wire.spec.holderIdentity,
        leaseDurationSeconds: wire.spec.leaseDurationSeconds,
        acquireTime: wire.spec.acquireTime,
        renewTime: wire.spec.renewTime,
        leaseTransitions: wire.spec.leaseTransitions
      }
    }))
  )

const leaseToWire = (lease: Lease): k8s.V1Lease => {
  const acquireTime = toMicroTime(lease.spec.acquireTime)
  const renewTime = toMicroTime(lease.spec.renewTime)
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: lease.name,
      namespace: lease.namespace,
      ...(lease.resourceVersion === "" ? {} : { resourceVersion: lease.resourceVersion })
    },
    spec: {
      ...(lease.spec.holderIdentity === undefined ? {} : { holderIdentity: lease.spec.holderIdentity }),
      ...(lease.spec.leaseDurationSeconds === undefined
        ? {}
        : { leaseDurationSeconds: lease.spec.leaseDurationSeconds }),
      ...(acquireTime === undefined ? {} : { acquireTime: acquireTime.time }),
      ...(renewTime === undefined ? {} : { renewTime: renewTime.time }),
      ...(lease.spec.leaseTransitions === undefined ? {} : { leaseTransitions: lease.spec.leaseTransitions })
    }
  }
}

/** The live LeaseApi over client-node's CoordinationV1Api. */
export const make = Effect.gen(function*() {
  const client = yield* KubeClient
  const call = limitedCall(client.leaseLimit)
  const get = Effect.fn("LeaseApi.get")((namespace: string, name: string) =>
    readOptional(
      call("get", "leases", name, () => client.coordination.readNamespacedLease({ namespace, name })),
      decodeLease("get", name)
    )
  )
  const create = Effect.fn("LeaseApi.create")(function*(lease: Lease) {
    const created = yield* call(
      "create",
      "leases",
      lease.name,
      () => client.coordination.createNamespacedLease({ namespace: lease.namespace, body: leaseToWire(lease) })
    )
    return yield* decodeLease("create", lease.name)(created)
  })
  const update = Effect.fn("LeaseApi.update")(function*(lease: Lease) {
    const replaced = yield* call(
      "update",
      "leases",
      lease.name,
      () =>
        client.coordination.replaceNamespacedLease({
          namespace: lease.namespace,
          name: lease.name,
          body: leaseToWire(lease)
        })
    )
    return yield* decodeLease("update", lease.name)(replaced)
  })
  return LeaseApi.of({ get, create, update })
})

export const layer: Layer.Layer<LeaseApi, never, KubeClient> = Layer.effect(LeaseApi, make)
