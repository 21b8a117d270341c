/**
 * client-go's EventSourceObjectSpamFilter (tools/record/events_cache.go): each (source, involved
 * object) pair has a token bucket of 25 Events, refilled one every 5 minutes; an Event finding it
 * empty is dropped. The state is data: the recorder keeps it and passes it back in. Pure.
 */
import { HashMap, Option } from "effect"
import { createHash } from "node:crypto"
import type { ObjectReference } from "./EventView.js"
import { type KubeRateLimit, reserve } from "./KubeRateLimiter.js"

/** client-go's defaults: defaultSpamBurst 25, defaultSpamQPS 1/300. */
export const SPAM_RATE: KubeRateLimit = { burst: 25, qps: 1 / 300 }

/** client-go's LRU of spam records holds 4096 keys (maxLruCacheEntries). */
export const MAX_SPAM_KEYS = 4096

type Bucket = Parameters<typeof reserve>[0]

export type SpamState = HashMap.HashMap<string, Bucket>

export const empty: SpamState = HashMap.empty()

/**
 * client-go's getSpamKey: the source and the involved object, not the reason or message; as a
 * digest (up to 4096 are kept).
 */
export const spamKey = (component: string, object: ObjectReference): string =>
  createHash("sha256").update(
    [component, object.kind, object.namespace, object.name, object.uid, object.apiVersion ?? ""].join("\u0000")
  ).digest("base64")

/** Whether an Event of `key` at `now` (epoch millis) may be written, and the state after it. */
export const accept = (
  state: SpamState,
  key: string,
  now: number,
  rate: KubeRateLimit = SPAM_RATE
): readonly [boolean, SpamState] => {
  const bucket = Option.getOrElse(HashMap.get(state, key), (): Bucket => ({ tokens: rate.burst, at: undefined }))
  const [wait, next] = reserve(bucket, now, rate)
  if (wait > 0) return [false, state]
  return [true, setBounded(state, key, next, MAX_SPAM_KEYS)]
}

/** Sets `key`; a new key in a full map first evicts the oldest-iterated one, so the map never grows past `max`. */
export const setBounded = <K, V>(map: HashMap.HashMap<K, V>, key: K, value: V, max: number): HashMap.HashMap<K, V> => {
  const room = HashMap.size(map) < max || HashMap.has(map, key)
    ? map
    : Option.match(Option.fromIterable(HashMap.keys(map)), { onNone: () => map, onSome: (k) => HashMap.remove(map, k) })
  return HashMap.set(room, key, value)
}
