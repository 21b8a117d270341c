/**
 * What the simulator's VMs are deployed from: listTemplates and listServiceOfferings over the
 * world's templates and service offerings.
 */
import { Either } from "effect"
import type { Commands, Handler } from "../Handler.js"
import { keywordMatch, listOf } from "../ListQuery.js"
import { formatDate } from "../Render.js"

const listTemplates: Handler = (c, p) =>
  Either.gen(function*() {
    const { id } = yield* Either.all({ filter: p.required("templatefilter"), id: p.optUuid("id", c.s.templates) })
    const name = p.get("name")
    const zones = [...c.s.zones.values()]
    const rows = [...c.s.templates.values()].filter((t) =>
      (id === undefined || t === id) && (name === undefined || t.name === name) &&
      keywordMatch(p.get("keyword"), t.name)
    )
    return yield* listOf(p, "template", rows, (t) => ({
      id: t.uuid,
      name: t.name,
      displaytext: t.name,
      ispublic: true,
      created: formatDate(t.created),
      isready: true,
      passwordenabled: false,
      format: "QCOW2",
      isfeatured: true,
      crossZones: false,
      ostypename: t.ostype,
      account: "system",
      zoneid: zones[0]?.uuid ?? "",
      zonename: zones[0]?.name ?? "",
      status: "Download Complete",
      templatetype: "USER",
      hypervisor: "Simulator",
      domain: "ROOT",
      isextractable: false,
      tags: []
    }))
  })

const listServiceOfferings: Handler = (c, p) =>
  Either.flatMap(p.optUuid("id", c.s.serviceOfferings), (id) => {
    const name = p.get("name")
    const rows = [...c.s.serviceOfferings.values()].filter((o) =>
      (id === undefined || o === id) && (name === undefined || o.name === name) &&
      keywordMatch(p.get("keyword"), o.name)
    )
    return listOf(p, "serviceoffering", rows, (o) => ({
      id: o.uuid,
      name: o.name,
      displaytext: o.name,
      cpunumber: o.cpunumber,
      cpuspeed: o.cpuspeed,
      memory: o.memory,
      created: formatDate(o.created),
      storagetype: "shared",
      offerha: false,
      limitcpuuse: false,
      isvolatile: false,
      issystem: false,
      defaultuse: false,
      iscustomized: false
    }))
  })

export const commands: Commands = {
  listTemplates,
  listServiceOfferings
}
