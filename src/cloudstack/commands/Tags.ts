/** Resource tags (reference 5.20): ownership markers on rules and IPs; createTags/deleteTags are async. */
import * as Command from "../Command.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export type ResourceType =
  | "UserVm"
  | "LoadBalancer"
  | "PublicIpAddress"
  | "Network"
  | "FirewallRule"
  | "NetworkACL"
  | "Vpc"

export const listTags = Command.list({
  name: "listTags",
  itemKey: "tag",
  item: Wire.Tag,
  params: {
    resourceType: Param.optional(Param.string<ResourceType>("resourcetype")),
    resourceId: Param.optional(Param.string("resourceid")),
    key: Param.optional(Param.string("key")),
    value: Param.optional(Param.string("value"))
  }
})

export const createTags = Command.async({
  name: "createTags",
  resultKey: "success",
  result: Wire.Success,
  params: {
    resourceType: Param.string<ResourceType>("resourcetype"),
    resourceIds: Param.list("resourceids"),
    tags: Param.tags
  }
})

export const deleteTags = Command.async({
  name: "deleteTags",
  resultKey: "success",
  result: Wire.Success,
  params: {
    resourceType: Param.string<ResourceType>("resourcetype"),
    resourceIds: Param.list("resourceids"),
    tags: Param.optional(Param.tags)
  }
})
