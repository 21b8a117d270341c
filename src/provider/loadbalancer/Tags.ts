/**
 * The CloudStack resource tags this CCM puts on every IP, LB rule, firewall rule and ACL item it
 * creates: the cluster and the Service (namespace/name and UID). They make ownership visible
 * without the Service (the orphan report) and mark an IP as associated by this CCM (so the last
 * Service using a shared IP may release it). Pure.
 */
import type { Tag } from "../../cloudstack/Wire.js"

export const PREFIX = "cloudstack-ccm/"
export const CLUSTER = `${PREFIX}cluster`
export const SERVICE = `${PREFIX}service`
export const SERVICE_UID = `${PREFIX}service-uid`
/**
 * Put on an IP this CCM associated when its Service gives it up under keep-ip while it stays: the
 * user's from then on, so no other Service leaving it (nor the orphan report) releases it by its tag.
 */
export const KEPT = `${PREFIX}keep-ip`
export const keptTag: TagPair = { key: KEPT, value: "true" }

export interface Owner {
  readonly cluster: string
  readonly namespace: string
  readonly name: string
  readonly uid: string
}

export interface TagPair {
  readonly key: string
  readonly value: string
}

export const tagsOf = (owner: Owner): ReadonlyArray<TagPair> => [
  { key: CLUSTER, value: owner.cluster },
  { key: SERVICE, value: `${owner.namespace}/${owner.name}` },
  { key: SERVICE_UID, value: owner.uid }
]

/** Tag keys compare case-insensitively in CloudStack (MySQL collation). */
const has = (tags: ReadonlyArray<Tag>, key: string) => tags.some((t) => t.key.toLowerCase() === key.toLowerCase())

/** The owner's tags a resource lacks (a key it has with another value is left alone: never overwritten). */
export const missing = (owner: Owner, tags: ReadonlyArray<Tag>): ReadonlyArray<TagPair> =>
  tagsOf(owner).filter((t) => !has(tags, t.key))

/** Whether this cluster's CCM tagged the resource. */
export const isClusters = (cluster: string, tags: ReadonlyArray<Tag>): boolean =>
  tags.some((t) => t.key.toLowerCase() === CLUSTER && t.value === cluster)

/** Whether a Service that gave the IP up asked to keep it (`KEPT`). */
export const isKept = (tags: ReadonlyArray<Tag>): boolean => has(tags, KEPT)

/** Whether this cluster's CCM may release the IP by its tags: it associated it, and nobody kept it. */
export const releasableByTags = (cluster: string, tags: ReadonlyArray<Tag>): boolean =>
  isClusters(cluster, tags) && !isKept(tags)

/** The Service UID a resource is tagged with, if any. */
export const uidOf = (tags: ReadonlyArray<Tag>): string | undefined =>
  tags.find((t) => t.key.toLowerCase() === SERVICE_UID)?.value
