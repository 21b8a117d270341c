/**
 * The part of a core/v1 Service the service controller reads, decoded with Schema. Pure: no I/O.
 */
import { Schema } from "effect"
import { listOf, ObjectMeta } from "./ObjectMeta.js"

export const ServicePort = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { nullable: true, default: () => "" }),
  protocol: Schema.optionalWith(Schema.Literal("TCP", "UDP", "SCTP"), {
    nullable: true,
    default: () => "TCP" as const
  }),
  port: Schema.Number,
  /** 0 until the API server allocated one. */
  nodePort: Schema.optionalWith(Schema.Number, { nullable: true, default: () => 0 })
})
export type ServicePort = typeof ServicePort.Type

export const LoadBalancerIngress = Schema.Struct({
  ip: Schema.optionalWith(Schema.String, { nullable: true }),
  hostname: Schema.optionalWith(Schema.String, { nullable: true }),
  /** "VIP" or "Proxy" (Kubernetes 1.29+; older servers drop it). */
  ipMode: Schema.optionalWith(Schema.Literal("VIP", "Proxy"), { nullable: true })
})
export type LoadBalancerIngress = typeof LoadBalancerIngress.Type

export const ServiceSpec = Schema.Struct({
  type: Schema.optionalWith(Schema.Literal("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"), {
    nullable: true,
    default: () => "ClusterIP" as const
  }),
  ports: listOf(ServicePort),
  loadBalancerIP: Schema.optionalWith(Schema.String, { nullable: true }),
  loadBalancerSourceRanges: listOf(Schema.String),
  loadBalancerClass: Schema.optionalWith(Schema.String, { nullable: true }),
  externalTrafficPolicy: Schema.optionalWith(Schema.Literal("Cluster", "Local"), { nullable: true }),
  sessionAffinity: Schema.optionalWith(Schema.Literal("None", "ClientIP"), { nullable: true }),
  /** Allocated for `externalTrafficPolicy: Local` LoadBalancers (kube-proxy's health check port). */
  healthCheckNodePort: Schema.optionalWith(Schema.Number, { nullable: true })
})
export type ServiceSpec = typeof ServiceSpec.Type

export const ServiceView = Schema.Struct({
  metadata: ObjectMeta,
  spec: Schema.optionalWith(ServiceSpec, {
    nullable: true,
    default: () => ({ type: "ClusterIP" as const, ports: [], loadBalancerSourceRanges: [] })
  }),
  status: Schema.optionalWith(
    Schema.Struct({
      loadBalancer: Schema.optionalWith(Schema.Struct({ ingress: listOf(LoadBalancerIngress) }), {
        nullable: true,
        default: () => ({ ingress: [] })
      })
    }),
    { nullable: true, default: () => ({ loadBalancer: { ingress: [] } }) }
  )
})
export type ServiceView = typeof ServiceView.Type

export const decodeService = Schema.decodeUnknown(ServiceView)
