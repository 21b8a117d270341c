/**
 * The part of a core/v1 Node the controllers read, decoded with Schema from client-node's objects
 * (typed calls) or raw JSON (watch events). Pure: no I/O.
 */
import { Schema } from "effect"
import { listOf, ObjectMeta, OptionalString } from "./ObjectMeta.js"

export const Taint = Schema.Struct({
  key: Schema.String,
  value: Schema.optionalWith(Schema.String, { nullable: true }),
  /** NoSchedule, PreferNoSchedule or NoExecute (kept open: an unknown value must not break a list). */
  effect: Schema.String
})
export type Taint = typeof Taint.Type

export const NodeAddress = Schema.Struct({
  type: Schema.String, // Hostname, ExternalIP, InternalIP, ExternalDNS, InternalDNS
  address: Schema.String
})
export type NodeAddress = typeof NodeAddress.Type

export const NodeCondition = Schema.Struct({
  type: Schema.String,
  status: Schema.String
})
export type NodeCondition = typeof NodeCondition.Type

export const NodeView = Schema.Struct({
  metadata: ObjectMeta,
  spec: Schema.optionalWith(
    Schema.Struct({
      /** "" until the cloud-node controller (or kubelet --provider-id) sets it; then immutable. */
      providerID: OptionalString,
      taints: listOf(Taint)
    }),
    { nullable: true, default: () => ({ providerID: "", taints: [] }) }
  ),
  status: Schema.optionalWith(
    Schema.Struct({ addresses: listOf(NodeAddress), conditions: listOf(NodeCondition) }),
    { nullable: true, default: () => ({ addresses: [], conditions: [] }) }
  )
})
export type NodeView = typeof NodeView.Type

export const decodeNode = Schema.decodeUnknown(NodeView)
