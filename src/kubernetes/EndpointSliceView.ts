/**
 * The part of a discovery.k8s.io EndpointSlice the controllers read (which nodes back a Service and
 * whether they are ready). Decodes both v1 and v1beta1, whose node name may sit in `topology`.
 */
import { Schema } from "effect"
import { listOf, ObjectMeta, StringMap } from "./ObjectMeta.js"

const WireEndpoint = Schema.Struct({
  nodeName: Schema.optionalWith(Schema.String, { nullable: true }),
  topology: StringMap,
  conditions: Schema.optionalWith(
    Schema.Struct({ ready: Schema.optionalWith(Schema.Boolean, { nullable: true }) }),
    { nullable: true, default: () => ({}) }
  )
})

export const Endpoint = Schema.Struct({
  nodeName: Schema.optional(Schema.String),
  /** Absent `ready` means ready, as the API documents. */
  ready: Schema.Boolean
})
export type Endpoint = typeof Endpoint.Type

const EndpointFromWire = Schema.transform(WireEndpoint, Endpoint, {
  strict: true,
  decode: (wire) => {
    const nodeName = wire.nodeName ?? wire.topology["kubernetes.io/hostname"]
    const ready = wire.conditions.ready ?? true
    return nodeName === undefined ? { ready } : { nodeName, ready }
  },
  encode: (endpoint) => ({
    ...(endpoint.nodeName === undefined ? {} : { nodeName: endpoint.nodeName }),
    topology: {},
    conditions: { ready: endpoint.ready }
  })
})

export const EndpointSliceView = Schema.Struct({
  metadata: ObjectMeta,
  endpoints: listOf(EndpointFromWire)
})
export type EndpointSliceView = typeof EndpointSliceView.Type

/** The Service a slice belongs to (label `kubernetes.io/service-name`). */
export const serviceNameOf = (slice: EndpointSliceView): string | undefined =>
  slice.metadata.labels["kubernetes.io/service-name"]

export const decodeEndpointSlice = Schema.decodeUnknown(EndpointSliceView)
