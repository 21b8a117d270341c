/**
 * What every simulator list command shares: the owner filter of reference 4.2, the `tags[i]`
 * filter, `keyword` matching, the paging of 4.1 and the list envelope. Pure over the store.
 */
import { Either } from "effect"
import { isAdmin, isMember, projectOfOwner } from "./Access.js"
import { type Fail, invalid, permissionDenied } from "./Fail.js"
import type { Ctx, Obj } from "./Handler.js"
import { invalidUuid, type Params } from "./Params.js"
import { tagKey } from "./Render.js"

/**
 * The owner filter of a list call (AccountManagerImpl.buildACLSearchParameters): project
 * resources only with `projectid`, own resources for users, everything (but projects) for an
 * admin with listall=true. `byId`: an admin looking up one id sees it wherever it lives.
 */
export const scope = (c: Ctx, p: Params, byId: boolean): Either.Either<(owner: string) => boolean, Fail> => {
  const projectId = p.get("projectid")
  const account = p.get("account")
  if (projectId !== undefined && account !== undefined) {
    return Either.left(invalid("Account and projectId can't be specified together"))
  }
  const listall = p.optBool("listall") === true
  const me = c.caller.account.name
  const admin = isAdmin(c)
  const nonProject = (owner: string): boolean => {
    if (projectOfOwner(c.s, owner) !== undefined) return byId && admin
    if (admin) return byId || (account !== undefined ? owner === account : listall || owner === me)
    return owner === me
  }
  if (projectId === undefined) return Either.right(nonProject)
  if (projectId === "-1") {
    const accessible = (owner: string) => {
      const project = projectOfOwner(c.s, owner)
      return project !== undefined && (admin || isMember(c.s, c.caller.account, project))
    }
    return Either.right(listall ? (owner) => accessible(owner) || nonProject(owner) : accessible)
  }
  const project = c.s.projects.get(projectId)
  if (project === undefined) return Either.left(invalidUuid("projectid", projectId, c.command))
  if (!admin && !project.members.includes(me)) {
    return Either.left(permissionDenied(`Account ${me} can't access project id=${project.uuid}`))
  }
  return Either.right((owner) => owner === project.accountName)
}

/** Tag filter `tags[i].key/value`: any pair matches (the SQL ORs them); a key without value is 431. */
export const tagFilter = (
  c: Ctx,
  p: Params,
  resourceType: string
): Either.Either<((uuid: string) => boolean) | undefined, Fail> =>
  Either.flatMap(p.map("tags"), (entries) => {
    if (entries.length === 0) return Either.right(undefined)
    const pairs: Array<readonly [string, string]> = []
    for (const e of entries) {
      const k = e.get("key") ?? ""
      const v = e.get("value")
      if (v === undefined || v === "") return Either.left(invalid(`No value is passed in for key ${k}`))
      pairs.push([k.toLowerCase(), v.toLowerCase()])
    }
    return Either.right((uuid: string) => {
      const tags = c.s.tags.get(tagKey(resourceType, uuid))
      if (tags === undefined) return false
      return pairs.some(([k, v]) => tags.get(k)?.value.toLowerCase() === v)
    })
  })

export const keywordMatch = (keyword: string | undefined, ...fields: ReadonlyArray<string | undefined>): boolean => {
  if (keyword === undefined || keyword === "") return true
  const k = keyword.toLowerCase()
  return fields.some((f) => f !== undefined && f.toLowerCase().includes(k))
}

export interface Page {
  readonly start: number
  /** undefined = unlimited */
  readonly size: number | undefined
}

export const DEFAULT_PAGE_SIZE = 500

/** The paging rules of reference 4.1 (every list call reads them: no generator on this path). */
export const page = (p: Params): Either.Either<Page, Fail> =>
  Either.flatMap(Either.all([p.optInt("page"), p.optInt("pagesize")]), ([pg, ps]): Either.Either<Page, Fail> => {
    if (pg !== undefined && ps === undefined) {
      return Either.left(invalid(`"pagesize" parameter is required when "page" is specified`))
    }
    if (ps === -1) {
      return pg !== undefined
        ? Either.left(invalid("Can't specify page parameter when pagesize is -1 (Unlimited)"))
        : Either.right({ start: 0, size: undefined })
    }
    if (ps !== undefined && pg === undefined) {
      return Either.left(invalid(`"page" parameter is required when "pagesize" is specified`))
    }
    if (ps !== undefined && ps > DEFAULT_PAGE_SIZE) {
      return Either.left(invalid(`Page size can't exceed max allowed page size value: ${DEFAULT_PAGE_SIZE}`))
    }
    if (ps === undefined || pg === undefined) return Either.right({ start: 0, size: DEFAULT_PAGE_SIZE })
    const size = ps <= 0 ? DEFAULT_PAGE_SIZE : ps
    return Either.right({ start: pg <= 0 ? 0 : size * (pg - 1), size })
  })

/** `{}` when nothing matches, `{count}` for a page past the end, else `{count, <key>: [...]}`. */
export const listBody = <A>(key: string, rows: ReadonlyArray<A>, pg: Page, render: (a: A) => unknown): Obj => {
  if (rows.length === 0) return {}
  const end = pg.size === undefined ? rows.length : Math.min(rows.length, pg.start + pg.size)
  if (pg.start >= rows.length) return { count: rows.length }
  const items: Array<unknown> = []
  for (let i = pg.start; i < end; i++) {
    const r = rows[i]
    if (r !== undefined) items.push(render(r))
  }
  return { count: rows.length, [key]: items }
}

/** One page of `rows` under `key`, after the paging parameters are checked. */
export const listOf = <A>(
  p: Params,
  key: string,
  rows: ReadonlyArray<A>,
  render: (a: A) => unknown
): Either.Either<Obj, Fail> => Either.map(page(p), (pg) => listBody(key, rows, pg, render))
