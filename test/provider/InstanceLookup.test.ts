import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { VirtualMachine } from "../../src/cloudstack/commands/VirtualMachines.js"
import * as InstanceLookup from "../../src/provider/InstanceLookup.js"

const vm = (id: string, name: string, extra: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(VirtualMachine)({
    id,
    name,
    state: "Running",
    zoneid: "z1",
    zonename: "Zone One",
    serviceofferingname: "Small Instance (2 CPU/4 GB)",
    nic: [{ id: `nic-${id}`, networkid: "n1", ipaddress: "10.0.0.1", ip6address: "fd00::1", isdefault: true }],
    ...extra
  })

const idx = (vms: ReadonlyArray<VirtualMachine>, zone?: string) => InstanceLookup.index(vms, { zone })

describe("InstanceLookup.match", () => {
  const vms = [vm("id-1", "Worker-1"), vm("id-2", "worker-2"), vm("id-3", "dup"), vm("id-4", "DUP")]
  it("providerID in every form finds the VM by id", () => {
    for (const providerID of ["external-cloudstack://id-1", "cloudstack:///id-1", "cloudstack://r1/id-1", "id-1"]) {
      const m = InstanceLookup.match({ name: "whatever", providerID }, idx(vms))
      assert.strictEqual(m._tag, "Found")
      assert.isTrue(m._tag === "Found" && m.vm.id === "id-1")
    }
  })
  it("a providerID absent from the listing is Unlisted, never re-pointed to a namesake", () => {
    const m = InstanceLookup.match({ name: "worker-1", providerID: "external-cloudstack://old" }, idx(vms))
    assert.deepStrictEqual(m, InstanceLookup.Match.Unlisted({ vmId: "old" }))
  })
  it("a foreign or malformed providerID is BadProviderId", () => {
    assert.strictEqual(
      InstanceLookup.match({ name: "worker-1", providerID: "aws:///i-1" }, idx(vms))._tag,
      "BadProviderId"
    )
  })
  it("names match case-insensitively, FQDN node names by their short name", () => {
    const a = InstanceLookup.match({ name: "WORKER-1", providerID: "" }, idx(vms))
    const b = InstanceLookup.match({ name: "worker-2.cluster.example.com", providerID: "" }, idx(vms))
    assert.isTrue(a._tag === "Found" && a.vm.id === "id-1")
    assert.isTrue(b._tag === "Found" && b.vm.id === "id-2")
  })
  it("two VMs with the same name are ambiguous, never a guess", () => {
    assert.deepStrictEqual(
      InstanceLookup.match({ name: "dup", providerID: "" }, idx(vms)),
      InstanceLookup.Match.Ambiguous({ vmIds: ["id-3", "id-4"] })
    )
  })
  it("a live VM wins over a destroyed namesake", () => {
    const m = InstanceLookup.match(
      { name: "w", providerID: "" },
      idx([vm("old", "w", { state: "Destroyed" }), vm("new", "w")])
    )
    assert.isTrue(m._tag === "Found" && m.vm.id === "new")
  })
  it("no VM of that name is Missing; with a zone configured only VMs in it count", () => {
    assert.strictEqual(InstanceLookup.match({ name: "nope", providerID: "" }, idx(vms))._tag, "Missing")
    const other = [vm("x", "w9", { zonename: "Zone Two" })]
    assert.strictEqual(InstanceLookup.match({ name: "w9", providerID: "" }, idx(other, "zone one"))._tag, "Missing")
    assert.strictEqual(InstanceLookup.match({ name: "w9", providerID: "" }, idx(other, "ZONE TWO"))._tag, "Found")
  })
})

describe("InstanceLookup answers", () => {
  const found = (state: string) => InstanceLookup.Match.Found({ vm: vm("id-1", "w", { state }), by: "name" })
  it("exists is false only for Missing or Destroyed/Expunging; Stopped exists", () => {
    assert.deepStrictEqual(InstanceLookup.exists("w", InstanceLookup.Match.Missing()), Either.right(false))
    assert.deepStrictEqual(InstanceLookup.exists("w", found("Destroyed")), Either.right(false))
    assert.deepStrictEqual(InstanceLookup.exists("w", found("Expunging")), Either.right(false))
    assert.deepStrictEqual(InstanceLookup.exists("w", found("Stopped")), Either.right(true))
    assert.isTrue(Either.isLeft(InstanceLookup.exists("w", InstanceLookup.Match.Ambiguous({ vmIds: ["a", "b"] }))))
  })
  it("shutdown is Stopped only (Stopping is transitional)", () => {
    assert.deepStrictEqual(InstanceLookup.shutdown("w", found("Stopped")), Either.right(true))
    assert.deepStrictEqual(InstanceLookup.shutdown("w", found("Stopping")), Either.right(false))
    assert.deepStrictEqual(InstanceLookup.shutdown("w", found("Running")), Either.right(false))
    assert.deepStrictEqual(InstanceLookup.shutdown("w", InstanceLookup.Match.Missing()), Either.right(false))
  })
  it("metadata: provider format, the Go CCM's instance type, sanitised zone, region from config else zone", () => {
    const m = InstanceLookup.metadata("w", found("Running"), { providerName: "cloudstack", region: undefined })
    assert.deepStrictEqual(
      m,
      Either.right({
        providerID: "cloudstack:///id-1",
        instanceType: "SmallInstance2CPU4GB",
        zone: "Zone_One",
        region: "Zone_One",
        addresses: [{ type: "InternalIP", address: "10.0.0.1" }, { type: "InternalIP", address: "fd00::1" }]
      })
    )
    const r = InstanceLookup.metadata("w", found("Running"), { providerName: "external-cloudstack", region: "eu west" })
    assert.isTrue(
      Either.isRight(r) && r.right.providerID === "external-cloudstack://id-1" && r.right.region === "eu_west"
    )
    assert.isTrue(
      Either.isLeft(InstanceLookup.metadata("w", found("Destroyed"), { providerName: "cloudstack", region: undefined }))
    )
  })
})

describe("InstanceLookup.index keeps a listing compact", () => {
  const full = vm("id-1", "worker-1", {
    displayname: "Worker One",
    hostname: "SimulatedAgent.z1",
    instancename: "i-2-31-VM",
    publicip: "203.0.113.9",
    tags: [{ key: "team", value: "a" }],
    nic: [
      { id: "nic-1", networkid: "n1", networkname: "net one", ipaddress: "10.0.0.1", isdefault: false },
      {
        id: "nic-2",
        networkid: "n2",
        ipaddress: "10.0.1.1",
        ip6address: "fd00::1",
        macaddress: "02:00",
        isdefault: true
      }
    ]
  })

  it("each VM keeps exactly the fields the provider reads (match, answers, addresses, members)", () => {
    assert.deepStrictEqual(InstanceLookup.compact([full]), [{
      id: full.id,
      name: "worker-1",
      state: "Running",
      zoneName: "Zone One",
      serviceOfferingName: "Small Instance (2 CPU/4 GB)",
      publicIp: "203.0.113.9",
      nics: [
        { networkId: full.nics[0]!.networkId, ipAddress: "10.0.0.1", isDefault: false },
        { networkId: full.nics[1]!.networkId, ipAddress: "10.0.1.1", ip6Address: "fd00::1", isDefault: true }
      ]
    }])
  })

  it("the answers from the compact index are those from the full VM", () => {
    const found = InstanceLookup.match({ name: "worker-1", providerID: "" }, idx([full]))
    if (found._tag !== "Found") return assert.fail(`expected Found, got ${found._tag}`)
    const options = { providerName: "external-cloudstack", region: undefined } as const
    const direct = InstanceLookup.Match.Found({ vm: full, by: "name" })
    assert.deepStrictEqual(
      InstanceLookup.metadata("worker-1", found, options),
      InstanceLookup.metadata("worker-1", direct, options)
    )
    assert.deepStrictEqual(InstanceLookup.exists("worker-1", found), InstanceLookup.exists("worker-1", direct))
    assert.deepStrictEqual(InstanceLookup.shutdown("worker-1", found), InstanceLookup.shutdown("worker-1", direct))
  })

  it("a field a VM does not have stays absent (not present as undefined)", () => {
    const [bare] = InstanceLookup.compact([
      Schema.decodeUnknownSync(VirtualMachine)({ id: "id-2", name: "w2", state: "Running", zoneid: "z1" })
    ])
    assert.deepStrictEqual<unknown>(bare, { id: "id-2", name: "w2", state: "Running", nics: [] })
  })
})
