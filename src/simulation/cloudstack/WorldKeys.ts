/**
 * Reading and replacing the default account's API key pair of a scenario World: how the
 * `simulator` command and tests choose the keys clients sign with. Pure.
 */
import { Array as Arr, Option } from "effect"
import { World, WorldAccount } from "./World.js"

export interface KeyPair {
  readonly apiKey: string
  readonly secretKey: string
}

/** The default account's key pair as the world has it (none if `defaultAccount` names no account). */
export const keysOf = (world: World): Option.Option<KeyPair> =>
  Option.map(
    Option.fromNullable(world.accounts.find((a) => a.name === world.defaultAccount)),
    (a) => ({ apiKey: a.apiKey, secretKey: a.secretKey })
  )

/** The world with the default account's key pair replaced; other accounts are untouched. */
export const withKeys = (world: World, keys: KeyPair): World =>
  new World({
    ...world,
    accounts: Arr.map(world.accounts, (a) => a.name === world.defaultAccount ? new WorldAccount({ ...a, ...keys }) : a)
  })
