/**
 * Seeding the world's VMs with their NICs, every reference (zone, owner, service offering, template,
 * networks) resolved by name. A step of Seed.ts; pure, yields after every SEED_CHUNK rows counted by
 * the context.
 */
import { Either } from "effect"
import { ownerOf, type SeedContext } from "./SeedContext.js"
import type { NicRow, VmRow } from "./SimModel.js"
import { newMac, nextInternalId, nextUuid } from "./Store.js"
import type { World } from "./World.js"

/** VMs; the first NIC of each is its default one. */
export function* seedVms(ctx: SeedContext, world: World): Generator<void, void> {
  const { errors, id, now, s } = ctx
  for (const v of world.vms) {
    if (ctx.tick()) yield
    const zone = ctx.zoneByName.get(v.zone)
    const owner = ownerOf(ctx, v.owner)
    const so = ctx.soByName.get(v.serviceOffering)
    const tpl = ctx.tplByName.get(v.template)
    if (zone === undefined) errors.push(`vm ${v.name}: unknown zone ${v.zone}`)
    if (Either.isLeft(owner)) errors.push(`vm ${v.name}: ${owner.left}`)
    if (so === undefined) errors.push(`vm ${v.name}: unknown service offering ${v.serviceOffering}`)
    if (tpl === undefined) errors.push(`vm ${v.name}: unknown template ${v.template}`)
    const nics: Array<NicRow> = []
    v.nics.forEach((nic, i) => {
      const net = ctx.netByName.get(nic.network)
      if (net === undefined) errors.push(`vm ${v.name}: unknown network ${nic.network}`)
      else {
        nics.push({
          uuid: nextUuid(s),
          networkUuid: net.uuid,
          ip: nic.ip,
          ip6: nic.ip6,
          isdefault: i === 0,
          mac: newMac(s.counter)
        })
      }
    })
    if (zone === undefined || Either.isLeft(owner) || so === undefined || tpl === undefined) continue
    const row: VmRow = {
      uuid: id(v.id),
      internalId: nextInternalId(s),
      name: v.name,
      displayname: v.displayname ?? v.name,
      zoneUuid: zone.uuid,
      owner: owner.right,
      state: v.state,
      serviceOfferingUuid: so.uuid,
      templateUuid: tpl.uuid,
      nics,
      created: now
    }
    s.vms.set(row.uuid, row)
  }
}
