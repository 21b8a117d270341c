/**
 * The pure core of leader election (client-go semantics): given the Lease as read, when we first
 * observed that version of it, and the local time, decide whether to create, take over, renew or wait.
 * No I/O and no Clock here: LeaderElection.ts feeds it times and performs the writes.
 */
import { Data, Option } from "effect"
import { type Lease, type LeaseSpec, microTime } from "../kubernetes/LeaseApi.js"

export type Decision = Data.TaggedEnum<{
  /** No Lease yet: create it holding it ourselves. */
  Create: { readonly lease: Lease }
  /** Renew (we hold it) or take over (free, released or expired by our observation): replace it. */
  Update: { readonly lease: Lease; readonly takeover: boolean }
  /** Someone else holds a lease that has not expired by our observation. */
  Wait: { readonly holder: string; readonly expiresAt: number }
}>
export const Decision = Data.taggedEnum<Decision>()

export interface DecideInput {
  readonly namespace: string
  readonly name: string
  readonly identity: string
  readonly leaseDurationSeconds: number
  readonly current: Option.Option<Lease>
  /** Local time (epoch millis) at which we first saw `current` in its present resourceVersion. */
  readonly observedAt: number
  readonly now: number
}

/**
 * Expiry is judged by OUR clock from when we observed the holder's last write, never by comparing the
 * holder's renewTime with our clock, so clock skew between nodes cannot cause two leaders.
 */
export const decide = (input: DecideInput): Decision => {
  const stamp = microTime(input.now)
  if (Option.isNone(input.current)) {
    return Decision.Create({
      lease: {
        namespace: input.namespace,
        name: input.name,
        resourceVersion: "",
        spec: {
          holderIdentity: input.identity,
          leaseDurationSeconds: input.leaseDurationSeconds,
          acquireTime: stamp,
          renewTime: stamp,
          leaseTransitions: 0
        }
      }
    })
  }
  const lease = input.current.value
  const holder = lease.spec.holderIdentity ?? ""
  const ours = holder === input.identity
  const duration = lease.spec.leaseDurationSeconds ?? input.leaseDurationSeconds
  const expiresAt = input.observedAt + duration * 1000
  if (holder !== "" && !ours && expiresAt > input.now) return Decision.Wait({ holder, expiresAt })
  const spec: LeaseSpec = {
    holderIdentity: input.identity,
    leaseDurationSeconds: input.leaseDurationSeconds,
    acquireTime: ours ? (lease.spec.acquireTime ?? stamp) : stamp,
    renewTime: stamp,
    leaseTransitions: ours ? (lease.spec.leaseTransitions ?? 0) : (lease.spec.leaseTransitions ?? 0) + 1
  }
  return Decision.Update({ lease: { ...lease, spec }, takeover: !ours })
}

/** The Lease as we leave it on shutdown: no holder and a 1 s duration, so any candidate takes over at once. */
export const released = (lease: Lease, now: number): Lease => ({
  ...lease,
  spec: {
    holderIdentity: undefined,
    leaseDurationSeconds: 1,
    acquireTime: microTime(now),
    renewTime: microTime(now),
    leaseTransitions: lease.spec.leaseTransitions
  }
})
