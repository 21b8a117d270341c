/**
 * What every simulator rendering shares: owner fields, the `tags` array every resource carries,
 * zone names and CloudStack's date format. The resources render themselves in commands/<Resource>.ts
 * (field names, types and omissions as in the recorded responses). Pure; nothing here mutates.
 */
import { DateTime } from "effect"
import type { Obj } from "./Handler.js"
import type { TagRow } from "./SimModel.js"
import type { Store } from "./Store.js"

export const DOMAIN_ID = "e4874e10-5fdf-11ea-9a56-1e006800018c"

/** `yyyy-MM-dd'T'HH:mm:ssZ` in UTC, e.g. `2021-10-04T04:37:08+0000`. */
export const formatDate = (epochMs: number): string =>
  `${DateTime.formatIso(DateTime.unsafeMake(epochMs)).slice(0, 19)}+0000`

/** `account` or `project`/`projectid`, plus the ROOT domain. */
export const ownerFields = (s: Store, owner: string): Obj => {
  const acct = s.accounts.get(owner)
  const project = acct?.projectUuid === undefined ? undefined : s.projects.get(acct.projectUuid)
  return project === undefined
    ? { account: owner, domainid: DOMAIN_ID, domain: "ROOT" }
    : { project: project.name, projectid: project.uuid, domainid: DOMAIN_ID, domain: "ROOT" }
}

/** The key of a resource's tags in `Store.tags`. */
export const tagKey = (resourceType: string, uuid: string) => `${resourceType}|${uuid}`

export const renderTag = (s: Store, t: TagRow): Obj => ({
  key: t.key,
  value: t.value,
  resourcetype: t.resourceType,
  resourceid: t.resourceUuid,
  ...ownerFields(s, t.owner)
})

/** The `tags` array of a rendered resource. */
export const tagsOf = (s: Store, resourceType: string, uuid: string): Array<Obj> => {
  const m = s.tags.get(tagKey(resourceType, uuid))
  return m === undefined ? [] : [...m.values()].map((t) => renderTag(s, t))
}

export const zoneName = (s: Store, uuid: string) => s.zones.get(uuid)?.name ?? ""
