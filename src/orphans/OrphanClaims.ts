/**
 * Who a CloudStack resource says it belongs to, and whether that Service still wants it: the
 * ownership tags, the Go CCM's rule names (`a<UID prefix>-<proto>-<port>`), the leaseweb fork's
 * (`K8s_svc_<cluster>_<namespace>_<service>-<proto>-<port>`) and the marker in an ACL item's
 * `reason`, each looked up among the cluster's Services. Pure; deciding what is an orphan is
 * `OrphanPlan`'s.
 */
import type { Tag } from "../cloudstack/Wire.js"
import { FINALIZER, serviceKey, wantsLoadBalancer } from "../controllers/ServicePlan.js"
import type { ServiceView } from "../kubernetes/ServiceView.js"
import { IP_ALLOCATING, IP_ID } from "../provider/loadbalancer/Annotations.js"
import { lbName } from "../provider/loadbalancer/LbName.js"
import { CLUSTER, SERVICE, uidOf } from "../provider/loadbalancer/Tags.js"

/** One way a resource names its Service. */
export type Pointer =
  | { readonly _tag: "Uid"; readonly uid: string; readonly via: "tag" | "marker"; readonly service: string | undefined }
  | { readonly _tag: "GoName"; readonly lbName: string }
  | { readonly _tag: "ForkName"; readonly namespace: string; readonly name: string }

/** What the cluster says about a pointer's Service. */
export type Status =
  | { readonly _tag: "Live"; readonly service: string }
  | { readonly _tag: "Unsure"; readonly why: string }
  | { readonly _tag: "Gone"; readonly why: string }

const tagValue = (tags: ReadonlyArray<Tag>, key: string): string | undefined =>
  tags.find((t) => t.key.toLowerCase() === key)?.value

/** The `cloudstack-ccm/cluster` tag's value (keys compare case-insensitively, as in CloudStack). */
export const clusterOf = (tags: ReadonlyArray<Tag>): string | undefined => tagValue(tags, CLUSTER)

/** The Service UID tag as a pointer (with the namespace/name tag, for the report). */
export const tagPointer = (tags: ReadonlyArray<Tag>): Pointer | undefined => {
  const uid = uidOf(tags)
  return uid === undefined || uid === ""
    ? undefined
    : { _tag: "Uid", uid, via: "tag", service: tagValue(tags, SERVICE) }
}

const PROTOCOL_PORT = "(?:tcp-proxy|tcp|udp)-[1-9]\\d{0,4}"
const GO_RULE = new RegExp(`^(a[0-9a-f]{31})-${PROTOCOL_PORT}$`)
// DNS labels (namespaces) and DNS-1035 labels (Service names) have no underscore: the split is unique.
const LABEL = "[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
const FORK_REST = new RegExp(`^(${LABEL})_(${LABEL})-${PROTOCOL_PORT}$`)

/** The pointers a rule's name carries: the Go CCM's UID prefix, or the fork's Service of `cluster`. */
export const namePointer = (cluster: string, rule: string): Pointer | undefined => {
  const go = GO_RULE.exec(rule)
  if (go?.[1] !== undefined) return { _tag: "GoName", lbName: go[1] }
  const prefix = `K8s_svc_${cluster}_`
  if (!rule.startsWith(prefix)) return undefined
  const fork = FORK_REST.exec(rule.slice(prefix.length))
  return fork?.[1] === undefined || fork[2] === undefined
    ? undefined
    : { _tag: "ForkName", namespace: fork[1], name: fork[2] }
}

const MARKER_PREFIX = "cloudstack-ccm:"

/** The Service UID in an ACL item's `reason` marker (`ObservedLb.aclMarker`). */
export const markerPointer = (reason: string | undefined): Pointer | undefined => {
  if (reason === undefined || !reason.startsWith(MARKER_PREFIX)) return undefined
  const uid = reason.slice(MARKER_PREFIX.length)
  return /^\S+$/.test(uid) ? { _tag: "Uid", uid, via: "marker", service: undefined } : undefined
}

/** The cluster's Services, indexed the three ways resources name them. */
export interface ServiceIndex {
  readonly byUid: ReadonlyMap<string, ServiceView>
  readonly byLbName: ReadonlyMap<string, ServiceView>
  readonly byKey: ReadonlyMap<string, ServiceView>
}

export const indexServices = (services: ReadonlyArray<ServiceView>): ServiceIndex => ({
  byUid: new Map(services.map((s) => [s.metadata.uid, s] as const)),
  byLbName: new Map(services.map((s) => [lbName(s.metadata.uid), s] as const)),
  byKey: new Map(services.map((s) => [serviceKey(s), s] as const))
})

/** The controller still holds the Service's LB (its finalizer or its record of an IP). */
const cleanupPending = (s: ServiceView): boolean =>
  s.metadata.finalizers.includes(FINALIZER) || (s.metadata.annotations[IP_ID] ?? "") !== "" ||
  (s.metadata.annotations[IP_ALLOCATING] ?? "") !== ""

const notLoadBalancer = (s: ServiceView): string =>
  s.spec.type === "LoadBalancer" ? `has loadBalancerClass ${s.spec.loadBalancerClass ?? ""}` : `is type ${s.spec.type}`

/**
 * A Service found by UID: live while it wants a load balancer from this CCM; gone once it stopped
 * wanting one and the controller let go of it; unsure in between (its cleanup is still due).
 */
const statusOfService = (s: ServiceView): Status => {
  const key = serviceKey(s)
  if (wantsLoadBalancer(s)) return { _tag: "Live", service: key }
  return cleanupPending(s)
    ? { _tag: "Unsure", why: `Service ${key} ${notLoadBalancer(s)} but its load balancer cleanup has not finished` }
    : { _tag: "Gone", why: `Service ${key} ${notLoadBalancer(s)} and its load balancer cleanup is done` }
}

/** Whether the pointer's Service is live, gone, or unsure. Names count only while no such Service exists. */
export const statusOf = (index: ServiceIndex, cluster: string, pointer: Pointer): Status => {
  switch (pointer._tag) {
    case "Uid": {
      const s = index.byUid.get(pointer.uid)
      if (s !== undefined) return statusOfService(s)
      const who = pointer.service === undefined ? `with UID ${pointer.uid}` : `${pointer.service} (UID ${pointer.uid})`
      return { _tag: "Gone", why: `Service ${who} no longer exists${pointer.via === "marker" ? " (ACL marker)" : ""}` }
    }
    case "GoName": {
      const s = index.byLbName.get(pointer.lbName)
      return s !== undefined
        ? { _tag: "Live", service: serviceKey(s) }
        : {
          _tag: "Gone",
          why: `named by the Go CCM's scheme for a Service UID starting ${
            pointer.lbName.slice(1)
          }, which no longer exists`
        }
    }
    case "ForkName": {
      const key = `${pointer.namespace}/${pointer.name}`
      const s = index.byKey.get(key)
      return s !== undefined
        ? { _tag: "Live", service: key }
        : {
          _tag: "Gone",
          why: `named by the leaseweb fork's scheme for Service ${key} of cluster ${cluster}, which no longer exists`
        }
    }
  }
}

/** All pointers together: live if any is, unsure if any is, gone only when every one is. */
export const combine = (statuses: ReadonlyArray<Status>): Status => {
  const live = statuses.find((s) => s._tag === "Live")
  if (live !== undefined) return live
  const unsure = statuses.find((s) => s._tag === "Unsure")
  if (unsure !== undefined) return unsure
  return { _tag: "Gone", why: [...new Set(statuses.map((s) => (s._tag === "Gone" ? s.why : "")))].join("; ") }
}
