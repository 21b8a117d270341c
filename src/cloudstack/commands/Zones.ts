/** listZones (reference 5.2): zones are global, so the command carries no account/project scoping. */
import { Schema } from "effect"
import * as Command from "../Command.js"
import { ZoneId } from "../Ids.js"
import * as Param from "../Param.js"
import * as Wire from "../Wire.js"

export const Zone = Schema.Struct({
  id: ZoneId,
  name: Schema.String,
  networkType: Wire.optional("networktype", Schema.String),
  allocationState: Wire.optional("allocationstate", Schema.String)
})
export type Zone = typeof Zone.Type

export const listZones = Command.list({
  name: "listZones",
  itemKey: "zone",
  item: Zone,
  scope: "none",
  params: {
    id: Param.optional(Param.string<ZoneId>("id")),
    name: Param.optional(Param.string("name")),
    available: Param.optional(Param.bool("available"))
  }
})
