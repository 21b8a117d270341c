/**
 * The slice of Kubernetes `metadata` every view keeps, decoded from either raw JSON (watch events)
 * or client-node's model instances (typed calls, which turn timestamps into `Date`). Pure: schemas
 * and small helpers only.
 */
import { DateTime, Schema } from "effect"

/** A timestamp as the API server writes it (RFC 3339), whether client-node parsed it to a Date or not. */
export const Timestamp = Schema.Union(
  Schema.String,
  Schema.transform(Schema.DateFromSelf, Schema.String, {
    strict: true,
    decode: (date) => date.toISOString(),
    encode: (text) => DateTime.toDateUtc(DateTime.unsafeMake(text))
  })
)

/** A string map that may be absent or null on the wire; empty when so. */
export const StringMap = Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
  nullable: true,
  default: () => ({})
})

/** A list that may be absent or null on the wire; empty when so. */
export const listOf = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.optionalWith(Schema.Array(item), { nullable: true, default: () => [] })

/** A string that may be absent or null on the wire; "" when so (as Go's zero value). */
export const OptionalString = Schema.optionalWith(Schema.String, { nullable: true, default: () => "" })

export const ObjectMeta = Schema.Struct({
  name: Schema.String,
  /** "" for cluster-scoped objects. */
  namespace: OptionalString,
  uid: OptionalString,
  resourceVersion: OptionalString,
  labels: StringMap,
  annotations: StringMap,
  finalizers: listOf(Schema.String),
  /** Set by the API server on create (absent on objects we build); one short string per cached object. */
  creationTimestamp: Schema.optionalWith(Timestamp, { nullable: true }),
  /** Set once deletion was requested while finalizers remain. */
  deletionTimestamp: Schema.optionalWith(Timestamp, { nullable: true })
})
export type ObjectMeta = typeof ObjectMeta.Type

/** An object the informer can cache: anything with metadata. */
export interface KubeObject {
  readonly metadata: ObjectMeta
}

/** The cache key client-go uses: `namespace/name`, or `name` for cluster-scoped objects. */
export const objectKey = (object: KubeObject): string =>
  object.metadata.namespace === "" ? object.metadata.name : `${object.metadata.namespace}/${object.metadata.name}`

/** Metadata for a new object: the server fills uid and resourceVersion. */
export const newMeta = (
  fields:
    & { readonly name: string; readonly namespace?: string }
    & Partial<
      Pick<ObjectMeta, "labels" | "annotations" | "finalizers">
    >
): ObjectMeta => ({
  name: fields.name,
  namespace: fields.namespace ?? "",
  uid: "",
  resourceVersion: "",
  labels: fields.labels ?? {},
  annotations: fields.annotations ?? {},
  finalizers: fields.finalizers ?? []
})
