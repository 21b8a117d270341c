/** The simulator's projects: listProjects and their rendering. Read-only over the store. */
import { Either } from "effect"
import { isAdmin } from "../Access.js"
import type { Commands, Obj } from "../Handler.js"
import { keywordMatch, listOf } from "../ListQuery.js"
import { DOMAIN_ID, formatDate, tagsOf } from "../Render.js"
import type { ProjectRow } from "../SimModel.js"
import type { Store } from "../Store.js"

export const renderProject = (s: Store, p: ProjectRow): Obj => ({
  id: p.uuid,
  name: p.name,
  displaytext: p.name,
  domainid: DOMAIN_ID,
  domain: "ROOT",
  owner: p.members.slice(0, 1).map((account) => ({ account })),
  projectaccountname: p.accountName,
  state: p.state,
  created: formatDate(p.created),
  tags: tagsOf(s, "Project", p.uuid)
})

export const commands: Commands = {
  listProjects: (c, p) =>
    Either.flatMap(p.optUuid("id", c.s.projects), (id) => {
      const name = p.get("name")
      const state = p.get("state")
      const all = isAdmin(c) && p.optBool("listall") === true
      const rows = [...c.s.projects.values()].filter((pr) =>
        // names compare as MySQL's default collation does: case-insensitively
        (id === undefined || pr === id) && (name === undefined || pr.name.toLowerCase() === name.toLowerCase()) &&
        (state === undefined || pr.state.toLowerCase() === state.toLowerCase()) &&
        keywordMatch(p.get("keyword"), pr.name) && (all || pr.members.includes(c.caller.account.name))
      )
      return listOf(p, "project", rows, (pr) => renderProject(c.s, pr))
    })
}
