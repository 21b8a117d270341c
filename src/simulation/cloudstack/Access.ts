/**
 * Who may operate on what in the simulator (reference 4.2): admins on everything, accounts on
 * their own resources and on those of the projects they are members of. Pure over the store.
 */
import { Either } from "effect"
import { CS_INSUFFICIENT_ADDRESS, Fail, permissionDenied, USER_ERROR_MESSAGE } from "./Fail.js"
import type { Ctx } from "./Handler.js"
import type { AccountRow } from "./SimModel.js"
import type { Store } from "./Store.js"

export const isAdmin = (c: Ctx) => c.caller.account.role === "admin"

export const projectOfOwner = (s: Store, owner: string): string | undefined => s.accounts.get(owner)?.projectUuid

export const isMember = (s: Store, account: AccountRow, projectUuid: string) =>
  s.projects.get(projectUuid)?.members.includes(account.name) ?? false

/** Whether the caller may operate on a resource of `owner` (operations by id, reference 4.2). */
export const canAccess = (c: Ctx, owner: string | undefined): boolean => {
  if (owner === undefined || isAdmin(c) || owner === c.caller.account.name) return true
  const project = projectOfOwner(c.s, owner)
  return project !== undefined && isMember(c.s, c.caller.account, project)
}

export const checkAccess = (c: Ctx, owner: string | undefined, uuid: string): Either.Either<void, Fail> =>
  canAccess(c, owner)
    ? Either.void
    : Either.left(
      permissionDenied(`Caller ${c.caller.account.name} does not have permission to operate with resource ${uuid}`)
    )

/** An ACL list's owner is its VPC's owner; the built-in lists (no VPC) belong to no account. */
export const aclOwner = (c: Ctx, aclUuid: string): string | undefined => {
  const vpc = c.s.aclLists.get(aclUuid)?.vpcUuid
  return vpc === undefined ? undefined : c.s.vpcs.get(vpc)?.owner
}

/** Insufficient address capacity: the details for an admin, the generic message for a user. */
export const capacityFail = (c: Ctx, text: string): Fail =>
  new Fail(533, CS_INSUFFICIENT_ADDRESS, isAdmin(c) ? text : USER_ERROR_MESSAGE)
