/**
 * A core/v1 Event as the recorder and tests read it. Pure: schemas only.
 */
import { Schema } from "effect"
import { ObjectMeta, OptionalString, Timestamp } from "./ObjectMeta.js"

/** The object an Event is about. `namespace` is "" for cluster-scoped objects such as Nodes. */
export const ObjectReference = Schema.Struct({
  kind: Schema.String,
  namespace: OptionalString,
  name: Schema.String,
  uid: OptionalString,
  apiVersion: Schema.optionalWith(Schema.String, { nullable: true })
})
export type ObjectReference = typeof ObjectReference.Type

export const EventType = Schema.Literal("Normal", "Warning")
export type EventType = typeof EventType.Type

export const EventView = Schema.Struct({
  metadata: ObjectMeta,
  involvedObject: ObjectReference,
  reason: OptionalString,
  message: OptionalString,
  type: Schema.optionalWith(Schema.String, { nullable: true, default: () => "Normal" }),
  count: Schema.optionalWith(Schema.Number, { nullable: true, default: () => 1 }),
  firstTimestamp: Schema.optionalWith(Timestamp, { nullable: true }),
  lastTimestamp: Schema.optionalWith(Timestamp, { nullable: true }),
  source: Schema.optionalWith(Schema.Struct({ component: OptionalString }), {
    nullable: true,
    default: () => ({ component: "" })
  })
})
export type EventView = typeof EventView.Type

export const decodeEvent = Schema.decodeUnknown(EventView)

/** Cluster-scoped objects get their Events in `default`, as client-go's recorder does. */
export const eventNamespace = (ref: ObjectReference): string => ref.namespace === "" ? "default" : ref.namespace
