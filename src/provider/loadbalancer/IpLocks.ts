/**
 * Services that share a public IP are changed one at a time: each decides from what it sees on the
 * IP (others' rules keep it, the last one out releases it), so two of them changing it at once can
 * each leave it to the other (a leaked IP) or release it under the other's new rule. Keyed by every
 * address and IP id a Service names (requested, recorded, being associated, in its status): two
 * Services that can share an IP name it alike. Keys are taken in one order, so waits never cycle.
 */
import { Effect } from "effect"
import { ADDRESS, IP_ALLOCATING, IP_ID } from "./Annotations.js"
import type { LbService } from "./LbSpec.js"

export interface IpLocks {
  readonly withIps: (service: LbService) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** The addresses and IP ids a Service names. */
const keysOf = (service: LbService): ReadonlyArray<string> => {
  const keys = new Set<string>()
  for (
    const v of [
      service.loadBalancerIP,
      service.annotations[ADDRESS],
      service.annotations[IP_ID],
      service.annotations[IP_ALLOCATING],
      ...(service.ingress ?? [])
    ]
  ) {
    const key = v?.trim() ?? ""
    if (key !== "") keys.add(key)
  }
  return [...keys].sort()
}

export const make: Effect.Effect<IpLocks> = Effect.sync(() => {
  const locks = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()
  const take = (key: string) =>
    Effect.sync(() => {
      const lock = locks.get(key) ?? { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
      lock.users++
      locks.set(key, lock)
      return lock
    })
  const drop = (key: string, lock: { users: number }) =>
    Effect.sync(() => {
      if (--lock.users === 0) locks.delete(key)
    })
  const one = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.acquireUseRelease(take(key), (lock) => lock.semaphore.withPermits(1)(effect), (lock) => drop(key, lock))
  return {
    withIps: (service) => (effect) => keysOf(service).reduceRight((inner, key) => one(key, inner), effect)
  }
})
