/**
 * Seeding a simulator store from a World: every table and index, owners resolved, every error of
 * the world reported at once. Pure in (world, seed, now); yields between chunks so a big world does
 * not block the fiber that seeds it. The steps are SeedCatalogue.ts, SeedNetworks.ts, SeedVms.ts.
 */
import { Either } from "effect"
import { seedAccounts, seedCatalogue } from "./SeedCatalogue.js"
import { checkUniqueNames, makeSeedContext } from "./SeedContext.js"
import { seedAclLists, seedNetworks, seedPublicIps, seedVpcs, sourceNatTaker } from "./SeedNetworks.js"
import { seedVms } from "./SeedVms.js"
import type { Credentials, Store } from "./Store.js"
import type { World } from "./World.js"

/**
 * Builds the tables from a World: the Store, or every reference problem found (unknown names) so a
 * scenario file is fixed in one go. A generator that yields after every SEED_CHUNK public IPs,
 * networks and VMs, so the caller can let other work (a signal handler) run while a large world is
 * seeded; run it to its end for the result. Pure.
 */
export function* seedSteps(
  world: World,
  seed: number,
  now: number
): Generator<void, Either.Either<Store, ReadonlyArray<string>>> {
  // The order is the uuid order: a seed gives the same ids for the same world.
  const ctx = makeSeedContext(world, seed, now)
  checkUniqueNames(ctx, world)
  seedAccounts(ctx, world)
  seedCatalogue(ctx, world)
  // Public addresses first, so source-NAT IPs of networks come from the pool.
  yield* seedPublicIps(ctx, world)
  const takeSourceNat = sourceNatTaker(ctx)
  seedVpcs(ctx, world, takeSourceNat)
  const defaultAcls = seedAclLists(ctx, world)
  yield* seedNetworks(ctx, world, defaultAcls, takeSourceNat)
  yield* seedVms(ctx, world)
  const { errors, s } = ctx
  let defaultAccount: Credentials | undefined
  for (const c of s.keys.values()) if (c.account.name === world.defaultAccount) defaultAccount = c
  if (defaultAccount === undefined) errors.push(`defaultAccount ${world.defaultAccount} is not in accounts`)
  if (errors.length > 0 || defaultAccount === undefined) return Either.left(errors)
  return Either.right({ ...s, defaultAccount })
}
