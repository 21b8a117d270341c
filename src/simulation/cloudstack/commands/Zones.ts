/** The simulator's zones: listZones and their rendering. Read-only over the store. */
import { Either } from "effect"
import type { Commands, Obj } from "../Handler.js"
import { keywordMatch, listOf } from "../ListQuery.js"
import { tagsOf } from "../Render.js"
import type { ZoneRow } from "../SimModel.js"
import type { Store } from "../Store.js"

export const renderZone = (s: Store, z: ZoneRow): Obj => ({
  id: z.uuid,
  name: z.name,
  dns1: "8.8.8.8",
  internaldns1: "10.147.28.6",
  networktype: "Advanced",
  securitygroupsenabled: false,
  allocationstate: "Enabled",
  localstorageenabled: false,
  tags: tagsOf(s, "Zone", z.uuid)
})

export const commands: Commands = {
  listZones: (c, p) =>
    Either.flatMap(p.optUuid("id", c.s.zones), (id) => {
      const name = p.get("name")
      const rows = [...c.s.zones.values()].filter((z) =>
        (id === undefined || z === id) && (name === undefined || z.name === name) &&
        keywordMatch(p.get("keyword"), z.name)
      )
      return listOf(p, "zone", rows, (z) => renderZone(c.s, z))
    })
}
