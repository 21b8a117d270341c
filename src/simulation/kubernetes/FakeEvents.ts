/** Events of FakeKubernetes: EventApi (create, bump, list per namespace) over the shared store. */
import { Effect, HashMap, Option, Ref } from "effect"
import { EventApi, type EventCreate } from "../../kubernetes/EventApi.js"
import { eventNamespace, type EventView } from "../../kubernetes/EventView.js"
import { newMeta } from "../../kubernetes/ObjectMeta.js"
import { fail, type FakeStore, notFound, withVersion } from "./FakeStore.js"

export const make = (store: FakeStore) => {
  const { state, locked, nextVersion, uid, injected, get } = store

  const eventApi = EventApi.of({
    create: (event: EventCreate) =>
      locked(Effect.gen(function*() {
        yield* injected("create", "events", event.name)
        const namespace = eventNamespace(event.involvedObject)
        const key = `${namespace}/${event.name}`
        if (Option.isSome(yield* get((s) => s.events, key))) {
          return yield* fail(
            "create",
            "events",
            event.name,
            "AlreadyExists",
            409,
            `events "${event.name}" already exists`
          )
        }
        const version = yield* nextVersion
        const stored: EventView = {
          metadata: { ...withVersion(newMeta({ name: event.name, namespace }), version), uid: yield* uid },
          involvedObject: event.involvedObject,
          reason: event.reason,
          message: event.message,
          type: event.type,
          count: 1,
          firstTimestamp: event.timestamp,
          lastTimestamp: event.timestamp,
          source: { component: event.component }
        }
        yield* Ref.update(state, (s) => ({ ...s, events: HashMap.set(s.events, key, stored) }))
        return stored
      })),
    bump: (namespace, name, count, lastTimestamp) =>
      locked(Effect.gen(function*() {
        yield* injected("patch", "events", name)
        const key = `${namespace}/${name}`
        const found = yield* get((s) => s.events, key)
        if (Option.isNone(found)) return yield* notFound("patch", "events", name)
        const version = yield* nextVersion
        const stored: EventView = {
          ...found.value,
          metadata: withVersion(found.value.metadata, version),
          count,
          lastTimestamp
        }
        yield* Ref.update(state, (s) => ({ ...s, events: HashMap.set(s.events, key, stored) }))
        return stored
      })),
    list: (namespace) =>
      Effect.zipRight(
        injected("list", "events", ""),
        Effect.map(Ref.get(state), (s) =>
          Array.from(HashMap.values(s.events)).filter((event) => event.metadata.namespace === namespace))
      )
  })

  return eventApi
}
