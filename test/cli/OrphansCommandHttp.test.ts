/**
 * `cloudstack-ccm orphans` over the CloudStack simulator's HTTP face with the real client: the
 * cloud-config file an operator writes, the live HttpTransport (signing, envelopes, paging, jobs)
 * and FakeKubernetes. A Service deleted without cleanup: its LB is reported, then removed with
 * `--delete`; the live Service's LB and the demo world's resources stay.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import * as CliLogger from "../../src/cli/CliLogger.js"
import { orphansWith } from "../../src/cli/OrphansCommand.js"
import * as HttpTransport from "../../src/cloudstack/HttpTransport.js"
import * as CloudConfigFile from "../../src/config/CloudConfigFile.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as SimulatorHttpServer from "../../src/simulation/cloudstack/SimulatorHttpServer.js"
import * as CapturingConsole from "../fakes/CapturingConsole.js"
import { deleteWithoutCleanup, inventory, lbService, world } from "../orphans/OrphanScenario.js"
import { simState } from "../provider/loadbalancer/LbTestEnv.js"
import { registerNodes } from "../simulation/ServiceScenariosEnv.js"

const Results = Schema.parseJson(Schema.Struct({
  mode: Schema.Literal("dry-run", "delete"),
  orphans: Schema.Array(Schema.Struct({ id: Schema.String, kind: Schema.String })),
  results: Schema.Array(Schema.Struct({ id: Schema.String, outcome: Schema.String }))
}))

describe("orphans command over HTTP", () => {
  it.scopedLive("reports and --delete removes a deleted Service's LB through the real client; the live LB stays", () =>
    Effect.gen(function*() {
      const w = yield* world
      const server = yield* Layer.build(
        SimulatorHttpServer.layer({ port: 0, isCommand: Simulator.isCommand }).pipe(
          Layer.provide(Layer.succeedContext(w.simulator))
        )
      )
      const apiUrl = Context.get(server, SimulatorHttpServer.SimulatorHttpServer).apiUrl
      const { gone, kept } = yield* Effect.gen(function*() {
        yield* registerNodes("node-1", "node-2")
        const gone = yield* lbService({ name: "gone" })
        const kept = yield* lbService({ name: "kept" })
        yield* deleteWithoutCleanup("gone")
        return { gone, kept }
      }).pipe(Effect.provide(w.context))
      const state = yield* simState.pipe(Effect.provide(w.context))
      const ipOf = (address: string) => state.publicIps.find((ip) => ip.address === address)?.uuid ?? ""
      const goneIp = ipOf(gone.address)
      const expected = [
        ...state.firewallRules.filter((f) => f.ipUuid === goneIp).map((f) => f.uuid),
        ...state.lbRules.filter((r) => r.ipUuid === goneIp).map((r) => r.uuid),
        goneIp
      ]
      assert.strictEqual(expected.length, 3)
      const before = yield* inventory.pipe(Effect.provide(w.context))

      const fs = yield* FileSystem.FileSystem
      const file = (yield* Path.Path).join(
        yield* fs.makeTempDirectoryScoped({ prefix: "orphans-http-" }),
        "cloud-config"
      )
      yield* fs.writeFileString(
        file,
        `[Global]\napi-url = ${apiUrl}\napi-key = demo-admin-api-key\nsecret-key = demo-admin-secret-key\n`
      )
      const config = yield* CloudConfigFile.load(file)
      const backends = { kubernetes: Layer.succeedContext(w.kube), cloudStackTransport: HttpTransport.layer }
      const run = (remove: boolean) =>
        Effect.gen(function*() {
          const captured = yield* CapturingConsole.make
          yield* orphansWith({ clusterName: "kubernetes", delete: remove, output: "json" }, config, backends).pipe(
            Effect.provide(CliLogger.layer),
            Effect.withConsole(captured.console)
          )
          return Schema.decodeUnknownSync(Results)(captured.stdout().join("\n"))
        })

      const callsBefore = (yield* Effect.flatMap(CloudStackSimulator, (s) =>
        s.callLog).pipe(Effect.provide(w.context))).length
      const dry = yield* run(false)
      assert.deepStrictEqual(dry.orphans.map((o) => o.id), expected)
      assert.deepStrictEqual(dry.orphans.map((o) => o.kind), ["FirewallRule", "LoadBalancerRule", "PublicIpAddress"])
      assert.deepStrictEqual(yield* inventory.pipe(Effect.provide(w.context)), before)

      const done = yield* run(true)
      assert.deepStrictEqual(done.results.map((r) => [r.id, r.outcome]), expected.map((id) => [id, "deleted"]))
      const after = yield* inventory.pipe(Effect.provide(w.context))
      const removed = new Set(expected)
      assert.deepStrictEqual(after, {
        ips: before.ips.filter((id) => !removed.has(id)),
        rules: before.rules.filter((id) => !removed.has(id)),
        firewall: before.firewall.filter((id) => !removed.has(id)),
        acl: before.acl
      })
      assert.isTrue(after.ips.includes(ipOf(kept.address)))
      // every call went through the HTTP face, signed with the file's keys: none was refused
      const log = (yield* Effect.flatMap(CloudStackSimulator, (s) => s.callLog).pipe(Effect.provide(w.context))).slice(
        callsBefore
      )
      assert.deepStrictEqual(log.filter((c) => c.status !== 200).map((c) => c.command), [])
      assert.includeMembers(log.map((c) => c.command), [
        "listNetworkACLs",
        "deleteFirewallRule",
        "deleteLoadBalancerRule",
        "disassociateIpAddress"
      ])
    }).pipe(Effect.provide(NodeContext.layer)))
})
