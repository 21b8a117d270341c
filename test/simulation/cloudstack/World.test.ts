/** The scenario file format: a JSON/YAML value decoded with World, defaults applied, all errors at once. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { parse } from "yaml"
import { decodeWorld, World } from "../../../src/simulation/cloudstack/World.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../../src/simulation/cloudstack/Simulator.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"

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
})
