/**
 * listProjects (reference 5.4), used once at start-up to resolve a configured project name to its id.
 * Scoping is explicit here (`listAll`) because the project cannot scope its own lookup.
 */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { ProjectId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const Project = Schema.Struct({
  id: ProjectId,
  name: Schema.String,
  state: Schema.String,
  projectAccountName: Wire.optional("projectaccountname", Schema.String)
})
export type Project = typeof Project.Type

export const listProjects = Command.list({
  name: "listProjects",
  itemKey: "project",
  item: Project,
  scope: "none",
  params: {
    id: Param.optional(Param.string<ProjectId>("id")),
    name: Param.optional(Param.string("name")),
    listAll: Param.optional(Param.bool("listall"))
  }
})
