/**
 * The preflight's reads once CloudStack accepts the keys: the server version, the configured
 * project and zone, the account's VMs (in that project and zone, as the CCM sees them) and the
 * networks those VMs sit on, each analysed for LoadBalancer Services. Every failure is a check.
 */
import { Effect, Either, Option } from "effect"
import { type CloudStackClientShape, isUuid } from "../cloudstack/CloudStackClient.js"
import type { CloudStackError, CloudStackProjectError } from "../cloudstack/CloudStackError.js"
import { listCapabilities } from "../cloudstack/commands/Discovery.js"
import { listNetworkACLLists } from "../cloudstack/commands/NetworkAcls.js"
import { listNetworks } from "../cloudstack/commands/Networks.js"
import { listProjects } from "../cloudstack/commands/Projects.js"
import type { VirtualMachine } from "../cloudstack/commands/VirtualMachines.js"
import { listVirtualMachines } from "../cloudstack/commands/VirtualMachines.js"
import { listZones } from "../cloudstack/commands/Zones.js"
import { type NetworkId, ProjectId } from "../cloudstack/Ids.js"
import type { CloudConfigShape } from "../config/CloudConfig.js"
import { type Check, check } from "./Check.js"
import { analyse, type NetworkReport } from "./Networks.js"

type ScopedClient<R> = (
  projectId: Option.Option<string>
) => Effect.Effect<Either.Either<CloudStackClientShape, CloudStackError | CloudStackProjectError>, never, R>

/** Whether dotted version `v` is at least `min` (4.22 for in-place cidrlist updates). */
export const atLeast = (v: string, min: ReadonlyArray<number>): boolean => {
  const parts = v.split(/[.-]/).map((p) => Number.parseInt(p, 10))
  for (let i = 0; i < min.length; i++) {
    const have = parts[i] ?? 0
    const want = min[i] ?? 0
    if (Number.isNaN(have)) return false
    if (have !== want) return have > want
  }
  return true
}

const version = (cs: CloudStackClientShape) =>
  Effect.map(Effect.either(cs.call(listCapabilities, {})), (r): Check =>
    Either.match(r, {
      onLeft: (e) => check("version", "note", `unknown (listCapabilities: ${e.message})`),
      onRight: ({ capability: { cloudStackVersion: v } }) =>
        atLeast(v, [4, 22])
          ? check("version", "ok", `CloudStack ${v}`)
          : check(
            "version",
            "note",
            `CloudStack ${v}: before 4.22 a rule's source CIDRs cannot change in place, so the CCM replaces the rule (a moment without it)`
          )
    }))

/** The project check and the id to scope the account's reads with (None when none is configured). */
const project = (cs: CloudStackClientShape, configured: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(configured)) {
      return {
        check: check("project", "skip", "no project-id: the CCM works with the account's own resources"),
        id: Option.none<string>(),
        ok: true
      }
    }
    const value = configured.value
    const byId = isUuid(value)
    const found = yield* Effect.either(
      cs.list(listProjects, byId ? { id: ProjectId.make(value), listAll: true } : { name: value, listAll: true })
    )
    if (Either.isLeft(found)) {
      const e = found.left
      const unknownId = byId && e._tag === "CloudStackApiError" && e.errorCode === 431
      return {
        check: unknownId
          ? check("project", "fail", `no project with id ${value} (CloudStack: ${e.errorText})`)
          : check(
            "project",
            byId ? "warn" : "fail",
            `cannot ${byId ? "verify" : "resolve"} project-id ${value}: ${e.message}`
          ),
        id: byId ? Option.some(value) : Option.none<string>(),
        ok: byId && !unknownId
      }
    }
    const matches = found.right.filter((p) => (byId ? p.id === value : p.name.toLowerCase() === value.toLowerCase()))
    const [only, ...rest] = matches
    if (only === undefined) {
      return {
        check: check(
          "project",
          "fail",
          `no project ${JSON.stringify(value)} visible to this account (is it a member?)`
        ),
        id: Option.none<string>(),
        ok: false
      }
    }
    if (rest.length > 0) {
      return {
        check: check(
          "project",
          "fail",
          `project name ${JSON.stringify(value)} is ambiguous (${
            matches.map((p) => p.id).join(", ")
          }); set project-id to the UUID`
        ),
        id: Option.none<string>(),
        ok: false
      }
    }
    const level = only.state === "Active" ? "ok" : "warn"
    return {
      check: check("project", level, `${only.name} (${only.id}), state ${only.state}`),
      id: Option.some<string>(only.id),
      ok: true
    }
  })

const zone = (cs: CloudStackClientShape, configured: Option.Option<string>) =>
  Option.match(configured, {
    onNone: () =>
      Effect.succeed(
        check("zone", "note", "zone not set: Nodes match VMs by name in every zone; zone labels come from each VM")
      ),
    onSome: (name) =>
      Effect.map(Effect.either(cs.list(listZones, {})), (r): Check =>
        Either.match(r, {
          onLeft: (e) => check("zone", "warn", `cannot verify zone ${name}: ${e.message}`),
          onRight: (zones) => {
            const z = zones.find((x) => x.name.toLowerCase() === name.toLowerCase())
            return z === undefined
              ? check(
                "zone",
                "fail",
                `no zone named ${JSON.stringify(name)}; the account sees: ${
                  zones.map((x) => x.name).join(", ") || "none"
                }`
              )
              : check("zone", "ok", `${z.name} (${z.id})`)
          }
        }))
  })

/** Network ids of the VMs' NICs with the names of the VMs on each (sorted, as listed). */
const networksOf = (vms: ReadonlyArray<VirtualMachine>) => {
  const byNetwork = new Map<NetworkId, { name: string; vms: Array<string> }>()
  for (const vm of vms) {
    for (const nic of vm.nics) {
      const entry = byNetwork.get(nic.networkId) ?? { name: nic.networkName ?? nic.networkId, vms: [] }
      if (!entry.vms.includes(vm.name)) entry.vms.push(vm.name)
      byNetwork.set(nic.networkId, entry)
    }
  }
  return [...byNetwork.entries()].map(([id, e]) => ({ id, name: e.name, vms: [...e.vms].sort() }))
}

const unreadable = (id: string, name: string, vms: ReadonlyArray<string>, why: string): NetworkReport => ({
  id,
  name,
  kind: "other",
  vms,
  lb: Option.none(),
  access: { kind: "none" },
  findings: [{ level: "warn", text: `not readable by this account (${why}): the CCM cannot load-balance on it` }]
})

const network = (
  cs: CloudStackClientShape,
  n: { readonly id: NetworkId; readonly name: string; readonly vms: ReadonlyArray<string> }
) =>
  Effect.gen(function*() {
    const listed = yield* Effect.either(cs.list(listNetworks, { id: n.id }))
    if (Either.isLeft(listed)) return unreadable(n.id, n.name, n.vms, listed.left.message)
    const found = listed.right.find((x) => x.id === n.id)
    if (found === undefined) return unreadable(n.id, n.name, n.vms, "listNetworks does not return it")
    const aclName = found.vpcId === undefined || found.aclId === undefined
      ? Option.none<string>()
      : found.aclName !== undefined
      ? Option.some(found.aclName)
      : Option.flatMap(
        Either.getRight(yield* Effect.either(cs.list(listNetworkACLLists, { id: found.aclId }))),
        (lists) => Option.fromNullable(lists.find((l) => l.id === found.aclId)?.name)
      )
    return analyse(found, n.vms, aclName)
  })

/** Version, project, zone, VMs and their networks. */
export const run = <R>(cs: CloudStackClientShape, config: CloudConfigShape, scoped: ScopedClient<R>) =>
  Effect.gen(function*() {
    const versionCheck = yield* version(cs)
    const p = yield* project(cs, config.projectId)
    const zoneCheck = yield* zone(cs, config.zone)
    const head = [versionCheck, p.check, zoneCheck]
    if (!p.ok) {
      return { checks: [...head, check("vms", "skip", "not checked: the project is not usable")], networks: [] }
    }
    const client = yield* scoped(p.id)
    if (Either.isLeft(client)) return { checks: [...head, check("vms", "warn", client.left.message)], networks: [] }
    const listed = yield* Effect.either(client.right.list(listVirtualMachines, {}))
    if (Either.isLeft(listed)) {
      return {
        checks: [...head, check("vms", "warn", `cannot list the account's VMs: ${listed.left.message}`)],
        networks: []
      }
    }
    const inZone = Option.match(config.zone, {
      onNone: () => listed.right,
      onSome: (z) => listed.right.filter((vm) => vm.zoneName?.toLowerCase() === z.toLowerCase())
    })
    const where = `${Option.isSome(p.id) ? " in the project" : ""}${
      Option.match(config.zone, { onNone: () => "", onSome: (z) => ` in zone ${z}` })
    }`
    const running = inZone.filter((vm) => vm.state === "Running").length
    const vmCheck = inZone.length === 0
      ? check("vms", "warn", `no VMs of this account${where}: Nodes will not find their VMs`)
      : check("vms", "ok", `${inZone.length} VMs${where} (${running} Running)`)
    const networks = yield* Effect.forEach(networksOf(inZone), (n) => network(client.right, n), { concurrency: 4 })
    return { checks: [...head, vmCheck], networks }
  })
