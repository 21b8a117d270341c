/**
 * Discovery commands the preflight check (`cloudstack-ccm check`) uses: listApis (the commands the
 * caller's role may run) and listCapabilities (the server version, for any role). The controllers
 * never send them.
 */
import { Schema } from "effect"
import * as Command from "../Command.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const Api = Schema.Struct({
  name: Schema.String,
  isAsync: Wire.optional("isasync", Schema.Boolean)
})
export type Api = typeof Api.Type

/** listApis is a plain BaseCmd: no paging, `count` is the number of items. */
export const listApis = Command.sync({
  name: "listApis",
  method: "GET",
  params: { name: Param.optional(Param.string("name")) },
  response: Schema.Struct({ count: Schema.optional(Schema.Int), apis: Wire.array("api", Api) })
})

export const listCapabilities = Command.sync({
  name: "listCapabilities",
  method: "GET",
  params: {},
  response: Schema.Struct({
    capability: Schema.Struct({ cloudStackVersion: Wire.required("cloudstackversion", Schema.String) })
  })
})
