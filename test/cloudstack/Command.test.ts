import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { listVirtualMachines } from "../../src/cloudstack/commands/VirtualMachines.js"

const vm = { id: "v1", name: "node-1", state: "Running", zoneid: "z1" }
const page = (inner: unknown) => Effect.either(listVirtualMachines.decodePage(inner))

describe("list pages decode strictly: only a ListResponse can say 'no VMs'", () => {
  it.effect("`{}` and `{count: 0}` are the well-formed empty answers", () =>
    Effect.gen(function*() {
      for (const inner of [{}, { count: 0 }, { count: 0, virtualmachine: [] }]) {
        const r = yield* page(inner)
        assert.isTrue(Either.isRight(r) && r.right.items.length === 0, JSON.stringify(inner))
      }
      const one = yield* page({ count: 1, virtualmachine: [vm] })
      assert.isTrue(Either.isRight(one) && one.right.items[0]?.id === "v1")
      // page past the end: count without items
      const past = yield* page({ count: 7 })
      assert.isTrue(Either.isRight(past) && past.right.count === 7 && past.right.items.length === 0)
    }))

  it.effect("a foreign object under the right envelope key is a decode error, never 0 VMs", () =>
    Effect.gen(function*() {
      const foreign: ReadonlyArray<unknown> = [
        { status: { ok: true } },
        { count: 1, vm: [vm] }, // another item key
        { count: 1, virtualmachine: [vm], next: "/page/2" },
        { count: -1 },
        { count: "0" },
        { count: 1, virtualmachine: [vm, { ...vm, id: "v2" }] }, // more items than count
        { virtualmachine: {} },
        []
      ]
      for (const inner of foreign) {
        const r = yield* page(inner)
        assert.isTrue(Either.isLeft(r), JSON.stringify(inner))
      }
      const r = yield* page({ status: { ok: true } })
      assert.isTrue(Either.isLeft(r) && r.left.message.includes("unexpected key(s) status"))
    }))

  it.effect("unknown fields of an item are still ignored (new CloudStack releases add fields)", () =>
    Effect.gen(function*() {
      const r = yield* page({ count: 1, virtualmachine: [{ ...vm, newfield: { x: 1 } }] })
      assert.isTrue(Either.isRight(r))
    }))
})
