import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Ref, Schema, TestClock } from "effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { CloudStackApiError } from "../../src/cloudstack/CloudStackError.js"
import { VirtualMachine } from "../../src/cloudstack/commands/VirtualMachines.js"
import * as InstanceLookup from "../../src/provider/InstanceLookup.js"
import { makeWith, type VmSource, vmSourceFromClient } from "../../src/provider/Instances.js"
import { clientLayer } from "../fakes/CloudStackTestEnv.js"
import { json, script } from "../fakes/ScriptedTransport.js"
import { pass, runScoped, settled } from "../fakes/Virtual.js"

const vm = (id: string, name: string, state = "Running") =>
  Schema.decodeUnknownSync(VirtualMachine)({
    id,
    name,
    state,
    zoneid: "z1",
    zonename: "zone1",
    nic: [{ id: `nic-${id}`, networkid: "n1", ipaddress: "10.0.0.1", isdefault: true }]
  })

const outage = new CloudStackApiError({
  command: "listVirtualMachines",
  httpStatus: 530,
  errorCode: 530,
  csErrorCode: 4250,
  errorText: "internal",
  uuidList: []
})

/** A counting VmSource over a mutable list (a Ref), with an optional outage switch. */
const source = Effect.gen(function*() {
  const vms = yield* Ref.make<ReadonlyArray<VirtualMachine>>([vm("a", "node-a"), vm("b", "node-b", "Stopped")])
  const hidden = yield* Ref.make<ReadonlyArray<VirtualMachine>>([])
  const down = yield* Ref.make(false)
  const calls = yield* Ref.make({ list: 0, byId: 0 })
  const guard = Effect.flatMap(Ref.get(down), (d) => (d ? Effect.fail(outage) : Effect.void))
  const src: VmSource = {
    listAll: Ref.update(calls, (c) => ({ ...c, list: c.list + 1 })).pipe(
      Effect.zipRight(guard),
      Effect.zipRight(Ref.get(vms))
    ),
    byId: (id) =>
      Ref.update(calls, (c) => ({ ...c, byId: c.byId + 1 })).pipe(
        Effect.zipRight(guard),
        Effect.zipRight(Ref.get(hidden)),
        Effect.map((h) => Option.fromNullable(h.find((v) => v.id === id)))
      )
  }
  const instances = yield* makeWith(src, { providerName: "external-cloudstack", zone: undefined, region: undefined })
  return { instances, vms, hidden, down, calls }
})

describe("Instances", () => {
  it.effect("resolves every node of a round with one listing", () =>
    Effect.gen(function*() {
      const { calls, instances } = yield* source
      const lookups = yield* instances.resolve([
        { name: "node-a", providerID: "" },
        { name: "node-b", providerID: "external-cloudstack://b" },
        { name: "node-c", providerID: "" }
      ])
      assert.deepStrictEqual([...lookups.values()].map((l) => l._tag), ["Found", "Found", "Missing"])
      assert.deepStrictEqual(yield* Ref.get(calls), { list: 1, byId: 0 })
    }))

  it.effect("a providerID missing from the listing is confirmed by id before it counts as gone", () =>
    Effect.gen(function*() {
      const { calls, hidden, instances } = yield* source
      assert.isFalse(yield* instances.instanceExists({ name: "x", providerID: "external-cloudstack://gone" }))
      assert.deepStrictEqual(yield* Ref.get(calls), { list: 1, byId: 1 })
      // visible by id but not in the listing (e.g. listing raced a create): exists
      yield* Ref.set(hidden, [vm("late", "x")])
      assert.isTrue(yield* instances.instanceExists({ name: "x", providerID: "cloudstack:///late" }))
    }))

  it.effect("a CloudStack error is an error, never 'does not exist'", () =>
    Effect.gen(function*() {
      const { down, instances } = yield* source
      yield* Ref.set(down, true)
      const exit = yield* Effect.exit(instances.instanceExists({ name: "node-a", providerID: "" }))
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("shutdown and metadata answers", () =>
    Effect.gen(function*() {
      const { instances } = yield* source
      assert.isTrue(yield* instances.instanceShutdown({ name: "node-b", providerID: "" }))
      assert.isFalse(yield* instances.instanceShutdown({ name: "node-a", providerID: "" }))
      const md = yield* instances.instanceMetadata({ name: "node-a", providerID: "" })
      assert.strictEqual(md.providerID, "external-cloudstack://a")
      assert.strictEqual(md.zone, "zone1")
      const err = yield* Effect.flip(instances.instanceMetadata({ name: "node-z", providerID: "" }))
      assert.strictEqual(err._tag, "NodeNotResolvedError")
    }))

  it.effect("maxAge reuses a recent listing only while it answers every node", () =>
    Effect.gen(function*() {
      const { calls, instances, vms } = yield* source
      yield* instances.resolve([{ name: "node-a", providerID: "" }], { maxAge: "30 seconds" })
      yield* instances.resolve([{ name: "node-b", providerID: "" }], { maxAge: "30 seconds" })
      assert.strictEqual((yield* Ref.get(calls)).list, 1)
      yield* Ref.update(vms, (xs) => [...xs, vm("c", "node-c")])
      // node-c is not in the cached listing: list again instead of answering Missing from stale data
      const l = yield* instances.resolve([{ name: "node-c", providerID: "" }], { maxAge: "30 seconds" })
      assert.strictEqual(l.get("node-c")?._tag, "Found")
      assert.strictEqual((yield* Ref.get(calls)).list, 2)
      yield* TestClock.adjust("31 seconds")
      yield* instances.resolve([{ name: "node-a", providerID: "" }], { maxAge: "30 seconds" })
      assert.strictEqual((yield* Ref.get(calls)).list, 3)
      // without maxAge every round lists afresh
      yield* instances.resolve([{ name: "node-a", providerID: "" }])
      assert.strictEqual((yield* Ref.get(calls)).list, 4)
    }))

  it("prefetch: a resolve with maxAge arriving meanwhile reuses its listing, or shares its failure", () =>
    Effect.gen(function*() {
      const gate = yield* Ref.make(yield* Deferred.make<void>())
      const down = yield* Ref.make(false)
      const lists = yield* Ref.make(0)
      // Each listing waits for the current gate, then answers or fails.
      const gated: VmSource = {
        listAll: Effect.flatMap(Ref.get(gate), Deferred.await).pipe(
          Effect.zipRight(Ref.update(lists, (n) => n + 1)),
          Effect.zipRight(Ref.get(down)),
          Effect.flatMap((d) => d ? Effect.fail(outage) : Effect.succeed([vm("a", "node-a")]))
        ),
        byId: () => Effect.succeedNone
      }
      const instances = yield* makeWith(gated, {
        providerName: "external-cloudstack",
        zone: undefined,
        region: undefined
      })
      const node = { name: "node-a", providerID: "" }
      const prefetchThenResolve = Effect.gen(function*() {
        const opened = yield* Deferred.make<void>()
        yield* Ref.set(gate, opened)
        const prefetch = yield* Effect.fork(instances.prefetch("1 minute"))
        // the prefetch's listing waits on the gate
        yield* settled
        const resolve = yield* Effect.fork(instances.resolve([node], { maxAge: "1 minute" }))
        // and so does the resolve, on the prefetch
        yield* settled
        yield* Deferred.succeed(opened, undefined)
        return { prefetch: yield* Fiber.await(prefetch), resolve: yield* Fiber.await(resolve) }
      })
      const ok = yield* prefetchThenResolve
      assert.isTrue(Exit.isSuccess(ok.prefetch))
      assert.strictEqual(
        Exit.map(ok.resolve, (lookups) => lookups.get("node-a")?._tag).pipe(Exit.getOrElse(() => "")),
        "Found"
      )
      assert.strictEqual(yield* Ref.get(lists), 1, "the resolve used the prefetched listing")
      // Older than a minute, and CloudStack down: the resolve fails with the prefetch's error.
      yield* pass("2 minutes")
      yield* Ref.set(down, true)
      const failed = yield* prefetchThenResolve
      const errorOf = (exit: Exit.Exit<unknown, unknown>) =>
        Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      assert.isTrue(Option.contains(errorOf(failed.prefetch), outage))
      assert.isTrue(Option.contains(errorOf(failed.resolve), outage), "the prefetch's own error")
      assert.strictEqual(yield* Ref.get(lists), 2, "no listing of its own after the failed one")
    }).pipe(runScoped))

  it.live("lets the previous listing go before it fetches the next (not two listings in memory at once)", () =>
    Effect.gen(function*() {
      setFlagsFromString("--expose-gc")
      const gc: unknown = runInNewContext("gc")
      if (typeof gc !== "function") return assert.fail("no gc")
      const listings: Array<WeakRef<VirtualMachine>> = []
      const seenDuringFetch: Array<boolean> = []
      const src: VmSource = {
        listAll: Effect.gen(function*() {
          // During the fetch: is any earlier listing's VM still reachable?
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
          gc()
          seenDuringFetch.push(listings.some((ref) => ref.deref() !== undefined))
          const fresh = vm("a", "node-a")
          listings.push(new WeakRef(fresh))
          return [fresh]
        }),
        byId: () => Effect.succeed(Option.none())
      }
      const instances = yield* makeWith(src, {
        providerName: "external-cloudstack",
        zone: undefined,
        region: undefined
      })
      // Only the answer's tag is kept here: the lookups themselves hold the VMs.
      const found = Effect.map(instances.resolve([{ name: "node-a", providerID: "" }]), (l) => l.get("node-a")?._tag)
      assert.strictEqual(yield* found, "Found")
      assert.strictEqual(yield* found, "Found")
      assert.deepStrictEqual(seenDuringFetch, [false, false])
    }))

  it.effect("the same nodes asked again with maxAge: reused while every one was found, listed again while one is not", () =>
    Effect.gen(function*() {
      const { calls, instances, vms } = yield* source
      const found = [{ name: "node-a", providerID: "" }, { name: "node-b", providerID: "" }]
      yield* instances.resolve(found, { maxAge: "1 minute" })
      yield* instances.resolve(found, { maxAge: "1 minute" })
      assert.strictEqual((yield* Ref.get(calls)).list, 1)
      // node-x has no VM yet: its answer (Missing) is remembered, but never makes the listing reusable
      const withMissing = [...found, { name: "node-x", providerID: "" }]
      assert.strictEqual((yield* instances.resolve(withMissing, { maxAge: "1 minute" })).get("node-x")?._tag, "Missing")
      assert.strictEqual((yield* Ref.get(calls)).list, 2)
      yield* Ref.update(vms, (xs) => [...xs, vm("x", "node-x")])
      assert.strictEqual((yield* instances.resolve(withMissing, { maxAge: "1 minute" })).get("node-x")?._tag, "Found")
      assert.strictEqual((yield* Ref.get(calls)).list, 3)
      yield* instances.resolve(withMissing, { maxAge: "1 minute" })
      assert.strictEqual((yield* Ref.get(calls)).list, 3)
    }))

  it.effect("the same nodes against the same listing share one answer; a new listing or an unlisted VM answers afresh", () =>
    Effect.gen(function*() {
      const { calls, hidden, instances, vms } = yield* source
      const nodes = [{ name: "node-a", providerID: "" }, { name: "node-b", providerID: "external-cloudstack://b" }]
      const first = yield* instances.resolve(nodes, { maxAge: "1 minute" })
      assert.strictEqual(yield* instances.resolve(nodes, { maxAge: "1 minute" }), first)
      // equal refs in another array are other nodes as far as identity goes: answered, not shared
      const copy = nodes.map((n) => ({ ...n }))
      const other = yield* instances.resolve(copy, { maxAge: "1 minute" })
      assert.notStrictEqual(other, first)
      assert.deepStrictEqual([...other.entries()], [...first.entries()])
      // a fresh listing is a fresh answer, even for the same refs
      yield* Ref.update(vms, (xs) => xs.map((v) => (v.id === "a" ? vm("a", "node-a", "Stopped") : v)))
      const relisted = yield* instances.resolve(copy)
      const a = relisted.get("node-a")
      assert.strictEqual(a?._tag === "Found" ? a.vm.state : undefined, "Stopped")
      // an unlisted providerID is confirmed by id on every resolve, never answered from memory
      const withUnlisted = [...copy, { name: "late", providerID: "cloudstack:///late" }]
      yield* Ref.set(hidden, [vm("late", "late")])
      const byIdBefore = (yield* Ref.get(calls)).byId
      assert.strictEqual((yield* instances.resolve(withUnlisted, { maxAge: "1 minute" })).get("late")?._tag, "Found")
      yield* Ref.set(hidden, [])
      assert.strictEqual((yield* instances.resolve(withUnlisted, { maxAge: "1 minute" })).get("late")?._tag, "Missing")
      assert.strictEqual((yield* Ref.get(calls)).byId, byIdBefore + 2)
    }))
})

describe("vmSourceFromClient: 'absent' needs a well-formed answer", () => {
  const byId = Effect.flatMap(CloudStackClient, (client) => vmSourceFromClient(client).byId("v1"))
  const notFound = (status: number) =>
    json(status, {
      listvirtualmachinesresponse: {
        uuidList: [],
        errorcode: 431,
        cserrorcode: 9999,
        errortext: "entity does not exist"
      }
    })

  it.effect("CloudStack's 431 (HTTP 431) for the id is absent", () =>
    Effect.gen(function*() {
      assert.isTrue(Option.isNone(yield* byId))
    }).pipe(Effect.provide(clientLayer(script([notFound(431)])))))

  it.effect("an errorcode 431 inside another HTTP status is an error, not absent", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(byId)
      assert.deepInclude(error, { _tag: "CloudStackApiError", errorCode: 431, httpStatus: 200 })
    }).pipe(Effect.provide(clientLayer(script([notFound(200)])))))
})

describe("vmSourceFromClient: the listing", () => {
  const raw = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    name: `node-${id}`,
    state: "Running",
    zoneid: "z1",
    zonename: "zone1",
    serviceofferingname: "Medium Instance",
    nic: [{ id: `nic-${id}`, networkid: "n1", ipaddress: "10.0.0.1", isdefault: true, macaddress: "02:00" }],
    ...extra
  })
  const page = (items: ReadonlyArray<unknown>, count: number) =>
    json(200, { listvirtualmachinesresponse: { count, virtualmachine: items } })

  it.effect("comes compacted page by page: the index keeps the listed VMs themselves, not copies", () =>
    Effect.gen(function*() {
      const listed = yield* Effect.flatMap(CloudStackClient, (client) => vmSourceFromClient(client).listAll)
      assert.deepStrictEqual(listed.map((vm) => vm.id), ["a", "b", "c"])
      const expected = [raw("a"), raw("b", { displayname: "B" }), raw("c")].map((v) =>
        Schema.decodeUnknownSync(VirtualMachine)(v)
      )
      assert.deepStrictEqual(listed, InstanceLookup.compact(expected))
      const index = InstanceLookup.index(listed, { zone: undefined })
      for (const vm of listed) assert.strictEqual(index.byId.get(vm.id), vm, `${vm.id} taken as listed`)
    }).pipe(
      Effect.provide(clientLayer(script([page([raw("a"), raw("b", { displayname: "B" })], 3), page([raw("c")], 3)])))
    ))
})
