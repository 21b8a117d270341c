/**
 * The simulator's resource tags: listTags, createTags and deleteTags (a job queued per set of
 * resources), the taggable resource types and who owns a tagged resource.
 */
import { Either } from "effect"
import { aclOwner, canAccess } from "../Access.js"
import { type Fail, invalid, paramError } from "../Fail.js"
import type { Commands, Ctx, Handler } from "../Handler.js"
import { failed, submit, SUCCESS } from "../Jobs.js"
import { keywordMatch, listOf, scope } from "../ListQuery.js"
import { list, type Params } from "../Params.js"
import { renderTag, tagKey } from "../Render.js"
import type { TagRow } from "../SimModel.js"

/** Resource types of createTags/listTags and where their rows live (case-insensitive names). */
export const TAG_TYPES: ReadonlyMap<string, string> = new Map(
  [
    "UserVm",
    "LoadBalancer",
    "PublicIpAddress",
    "Network",
    "FirewallRule",
    "PortForwardingRule",
    "NetworkACL",
    "Vpc",
    "Project",
    "Zone"
  ]
    .map((t) => [t.toLowerCase(), t])
)

/** Owner of a taggable resource, or false when it does not exist. */
const tagResourceOwner = (c: Ctx, type: string, uuid: string): string | undefined | false => {
  const s = c.s
  switch (type) {
    case "UserVm":
      return s.vms.get(uuid)?.owner ?? false
    case "LoadBalancer":
      return s.lbRules.get(uuid)?.owner ?? false
    case "PublicIpAddress": {
      const ip = s.ips.get(uuid)
      return ip === undefined ? false : ip.owner
    }
    case "Network":
      return s.networks.get(uuid)?.owner ?? false
    case "FirewallRule":
      return s.fwRules.get(uuid)?.owner ?? false
    case "NetworkACL": {
      const item = s.aclItems.get(uuid)
      return item === undefined ? false : aclOwner(c, item.aclUuid)
    }
    case "Vpc":
      return s.vpcs.get(uuid)?.owner ?? false
    case "Project": {
      const project = s.projects.get(uuid)
      return project === undefined ? false : project.accountName
    }
    case "Zone":
      return s.zones.has(uuid) ? undefined : false
    default:
      return false
  }
}

const listTags: Handler = (c, p) =>
  Either.gen(function*() {
    const rawType = p.get("resourcetype")
    const type = rawType === undefined ? undefined : TAG_TYPES.get(rawType.toLowerCase())
    if (rawType !== undefined && type === undefined) {
      return yield* Either.left(invalid(`Invalid resource type ${rawType}`))
    }
    const resourceId = p.get("resourceid")
    const key = p.get("key")?.toLowerCase()
    const value = p.get("value")?.toLowerCase()
    const sc = yield* scope(c, p, false)
    const rows: Array<TagRow> = []
    for (const tags of c.s.tags.values()) {
      for (const t of tags.values()) {
        if (type !== undefined && t.resourceType !== type) continue
        if (resourceId !== undefined && t.resourceUuid !== resourceId) continue
        if (key !== undefined && t.key.toLowerCase() !== key) continue
        if (value !== undefined && t.value.toLowerCase() !== value) continue
        if (!keywordMatch(p.get("keyword"), t.key, t.value)) continue
        if (!sc(t.owner)) continue
        rows.push(t)
      }
    }
    return yield* listOf(p, "tag", rows, (t) => renderTag(c.s, t))
  })

/** Tag changes queue per set of resources they name. */
const tagsQueueKey = (ids: ReadonlyArray<string>) => `tags:${ids.join(",")}`

interface TagTarget {
  readonly type: string
  readonly ids: ReadonlyArray<string>
  readonly tags: ReadonlyArray<ReadonlyMap<string, string>>
}

const tagTarget = (p: Params): Either.Either<TagTarget, Fail> =>
  Either.gen(function*() {
    const { rawType, ids } = yield* Either.all({ rawType: p.required("resourcetype"), ids: p.required("resourceids") })
    const type = TAG_TYPES.get(rawType.toLowerCase())
    if (type === undefined) return yield* Either.left(invalid(`Invalid resource type ${rawType}`))
    const tags = yield* p.map("tags")
    return { type, ids: list(ids), tags }
  })

const createTags: Handler = (c, p) =>
  Either.gen(function*() {
    const target = yield* tagTarget(p)
    if (target.tags.length === 0) {
      return yield* Either.left(
        paramError(`Unable to execute API command ${c.command.toLowerCase()} due to missing parameter tags`)
      )
    }
    const s = c.s
    return submit(c, {
      queueKey: tagsQueueKey(target.ids),
      execute: () => {
        const planned: Array<TagRow> = []
        for (const uuid of target.ids) {
          const owner = tagResourceOwner(c, target.type, uuid)
          if (owner === false) return failed(431, `Unable to find resource by uuid ${uuid} and type ${target.type}`)
          if (!canAccess(c, owner)) {
            return failed(531, `Account ${c.caller.account.name} does not have permission to tag resource ${uuid}`)
          }
          for (const e of target.tags) {
            const key = e.get("key") ?? ""
            const value = e.get("value")
            if (value === undefined || value === "") {
              return failed(431, `Value for the key ${key} is either null or empty`)
            }
            const existing = s.tags.get(tagKey(target.type, uuid))
            const dup = existing?.has(key.toLowerCase()) === true ||
              planned.some((t) => t.resourceUuid === uuid && t.key.toLowerCase() === key.toLowerCase())
            if (dup) {
              return failed(
                530,
                `DB Exception on: INSERT INTO resource_tags: Duplicate entry '${uuid}-${target.type}-${key}' for key 'i_tags__resource_id__resource_type__key'`
              )
            }
            planned.push({
              resourceType: target.type,
              resourceUuid: uuid,
              key,
              value,
              owner: owner ?? c.caller.account.name
            })
          }
        }
        for (const t of planned) {
          const k = tagKey(t.resourceType, t.resourceUuid)
          const m = s.tags.get(k) ?? new Map<string, TagRow>()
          m.set(t.key.toLowerCase(), t)
          s.tags.set(k, m)
        }
        return SUCCESS
      }
    })
  })

const deleteTags: Handler = (c, p) =>
  Either.map(tagTarget(p), (target) => {
    const s = c.s
    return submit(c, {
      queueKey: tagsQueueKey(target.ids),
      execute: () => {
        const doomed: Array<readonly [Map<string, TagRow>, string]> = []
        for (const uuid of target.ids) {
          const m = s.tags.get(tagKey(target.type, uuid))
          if (m === undefined) continue
          for (const [k, t] of m) {
            if (!canAccess(c, t.owner)) continue
            const matches = target.tags.length === 0 || target.tags.some((e) => {
              const key = e.get("key")?.toLowerCase()
              const value = e.get("value")?.toLowerCase()
              return key === k && (value === undefined || value === t.value.toLowerCase())
            })
            if (matches) doomed.push([m, k])
          }
        }
        if (doomed.length === 0) {
          return failed(431, "Unable to find any tags which conform to specified delete parameters.")
        }
        for (const [m, k] of doomed) {
          m.delete(k)
        }
        return SUCCESS
      }
    })
  })

export const commands: Commands = { listTags, createTags, deleteTags }
