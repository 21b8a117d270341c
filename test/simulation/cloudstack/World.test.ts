/** The scenario file format: a JSON/YAML value decoded with World, defaults applied, all errors at once. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, ParseResult, Schema } from "effect"
import { parse } from "yaml"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import { seedSteps } from "../../../src/simulation/cloudstack/Seed.js"
import * as Simulator from "../../../src/simulation/cloudstack/Simulator.js"
import { decodeWorld, World, WorldLimits } from "../../../src/simulation/cloudstack/World.js"

const scenario = `
defaultAccount: ops
accounts:
  - { name: ops, apiKey: k1, secretKey: s1 }
zones: [{ name: z1 }]
lbProviders: [{ name: VirtualRouter, supportsUdp: false, supportsHealthCheck: false }]
networkOfferings:
  - { name: iso, guestIpType: Isolated, services: [Lb, Firewall, SourceNat], lbProvider: VirtualRouter }
serviceOfferings: [{ name: small }]
templates: [{ name: debian }]
networks:
  - { name: net1, zone: z1, offering: iso, owner: ops, cidr: 10.0.0.0/24 }
vms:
  - { name: vm1, zone: z1, owner: ops, serviceOffering: small, template: debian, nics: [{ network: net1, ip: 10.0.0.5 }] }
publicIps:
  - { zone: z1, start: 198.51.100.1, count: 3 }
`

describe("World", () => {
  it.effect("decodes a YAML scenario with defaults and serves it", () =>
    Effect.gen(function*() {
      const world = yield* decodeWorld(parse(scenario))
      assert.strictEqual(world.accounts[0]?.role, "user")
      assert.strictEqual(world.vms[0]?.state, "Running")
      assert.deepStrictEqual(world.projects, [])
      const state = yield* Effect.provide(
        Effect.flatMap(CloudStackSimulator, (s) => s.state),
        Simulator.layer(world)
      )
      assert.deepStrictEqual(state.publicIps.map((i) => [i.address, i.state, i.sourceNat]), [
        ["198.51.100.1", "Allocated", true],
        ["198.51.100.2", "Free", false],
        ["198.51.100.3", "Free", false]
      ])
      assert.deepStrictEqual(state.vms.map((v) => [v.name, v.nics[0]?.ip]), [["vm1", "10.0.0.5"]])
    }))

  it("reports every schema error at once", () => {
    const r = Schema.decodeUnknownEither(World, { errors: "all" })({ defaultAccount: 1, accounts: [], zones: [] })
    assert.isTrue(Either.isLeft(r))
    if (Either.isLeft(r)) {
      const text = String(r.left.message)
      for (const field of ["defaultAccount", "accounts", "networkOfferings", "publicIps"]) assert.include(text, field)
    }
  })

  it("the demo world round-trips through its JSON encoding", () => {
    const json: unknown = JSON.parse(JSON.stringify(Schema.encodeSync(World)(demoWorld)))
    assert.deepStrictEqual(Schema.decodeUnknownSync(World)(json), demoWorld)
  })

  const problems = (input: unknown) =>
    Either.match(Schema.decodeUnknownEither(World, { errors: "all" })(input), {
      onLeft: (e) => ParseResult.TreeFormatter.formatErrorSync(e),
      onRight: () => "valid"
    })
  const base = parse(scenario)

  it("bounds a world: a 1 KB file cannot ask for 100,000,000 public IPs, nor more than 65,536 over all ranges", () => {
    assert.include(
      problems({ ...base, publicIps: [{ zone: "z1", start: "10.0.0.1", count: 100_000_000 }] }),
      "count: 1 to 65,536 (at most 65,536 public IPs in a world)"
    )
    assert.include(
      problems({
        ...base,
        publicIps: [{ zone: "z1", start: "10.0.0.1", count: 40_000 }, { zone: "z1", start: "11.0.0.1", count: 40_000 }]
      }),
      "publicIps: at most 65,536 public IPs in a world, not 80,000"
    )
    const addresses = Array.from({ length: 65_537 }, (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)
    assert.include(
      problems({ ...base, publicIps: [{ zone: "z1", addresses }] }),
      "at most 65,536 public IPs in a world, not 65,537"
    )
    assert.strictEqual(
      problems({ ...base, publicIps: [{ zone: "z1", start: "10.0.0.1", count: WorldLimits.publicIps }] }),
      "valid"
    )
  })

  it("bounds every list: VMs, NICs of a VM, networks", () => {
    const vm = base.vms[0]
    assert.include(
      problems({ ...base, vms: Array.from({ length: WorldLimits.vms + 1 }, () => vm) }),
      "at most 100,000 VMs in a world, not 100,001"
    )
    assert.include(
      problems({ ...base, vms: [{ ...vm, nics: Array.from({ length: 33 }, () => vm.nics[0]) }] }),
      "at most 32 NICs in a VM"
    )
    const net = base.networks[0]
    assert.include(
      problems({ ...base, networks: Array.from({ length: 10_001 }, () => net) }),
      "at most 10,000 networks in a world, not 10,001"
    )
  })

  it("seeds in chunks: the generator yields every 2,000 public IPs, networks and VMs, and ends with the store", () => {
    const world = Schema.decodeUnknownSync(World)({
      ...base,
      publicIps: [{ zone: "z1", start: "10.0.0.1", count: 10_000 }]
    })
    const steps = seedSteps(world, 1, 0)
    let yields = 0
    for (let step = steps.next();; step = steps.next()) {
      if (step.done === true) {
        assert.isTrue(Either.isRight(step.value))
        if (Either.isRight(step.value)) assert.strictEqual(step.value.right.ips.size, 10_000)
        break
      }
      yields++
    }
    assert.strictEqual(yields, 5)
  })

  it.effect("a range running past 255.255.255.255 is a seeding problem, not wrapped-around addresses", () =>
    Effect.gen(function*() {
      const world = yield* decodeWorld({ ...base, publicIps: [{ zone: "z1", start: "255.255.255.250", count: 10 }] })
      const error = yield* Effect.flip(Effect.provide(CloudStackSimulator, Simulator.layer(world)))
      assert.include(error.message, "publicIps: 10 addresses from 255.255.255.250 run past 255.255.255.255")
    }))
})
