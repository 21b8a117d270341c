/**
 * The live typed client (undici HTTP transport, signing, paging, job polling) driving the
 * simulator's HTTP face over 127.0.0.1: what the CCM does against a real management server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { CloudStackClient, layer as clientLayer } from "../../../src/cloudstack/CloudStackClient.js"
import {
  associateIpAddress,
  disassociateIpAddress,
  listPublicIpAddresses
} from "../../../src/cloudstack/commands/Addresses.js"
import {
  assignToLoadBalancerRule,
  createLoadBalancerRule,
  deleteLoadBalancerRule,
  listLoadBalancerRuleInstances,
  listLoadBalancerRules
} from "../../../src/cloudstack/commands/LoadBalancers.js"
import { listNetworks } from "../../../src/cloudstack/commands/Networks.js"
import { listVirtualMachines } from "../../../src/cloudstack/commands/VirtualMachines.js"
import { listZones } from "../../../src/cloudstack/commands/Zones.js"
import { layer as httpTransportLayer } from "../../../src/cloudstack/HttpTransport.js"
import { CloudConfig } from "../../../src/config/CloudConfig.js"
import * as Metrics from "../../../src/metrics/Metrics.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import { isCommand, layer as simulatorLayer } from "../../../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { withKeys } from "../../../src/simulation/cloudstack/WorldKeys.js"
import { API_KEY, cloudConfig, SECRET_KEY } from "../../fakes/CloudStackTestEnv.js"

const Simulator = simulatorLayer(withKeys(demoWorld, { apiKey: API_KEY, secretKey: SECRET_KEY }), { seed: 11 })
const Face = HttpFace.layer({ port: 0, isCommand }).pipe(Layer.provideMerge(Simulator))

/** The real client over HTTP to the face, with `secretKey` (a wrong one to test 401). */
const liveClient = (secretKey: string) =>
  Layer.unwrapEffect(Effect.map(HttpFace.SimulatorHttpServer, (face) =>
    clientLayer.pipe(
      Layer.provide(
        Layer.mergeAll(
          httpTransportLayer,
          Metrics.layer
        ).pipe(
          Layer.provideMerge(
            Layer.succeed(
              CloudConfig,
              cloudConfig({ apiUrl: new URL(face.apiUrl), secretKey: Redacted.make(secretKey) })
            )
          )
        )
      )
    )))

const inner = (body: unknown, key: string): Record<string, unknown> => {
  const value = typeof body === "object" && body !== null ? Reflect.get(body, key) : undefined
  return typeof value === "object" && value !== null ? Object.fromEntries(Object.entries(value)) : {}
}

/** Deploys `n` VMs into `networkId` in memory (setup only; the client under test reads them over HTTP). */
const deployMany = (n: number, networkId: string) =>
  Effect.gen(function*() {
    const simulator = yield* CloudStackSimulator
    const state = yield* simulator.state
    const base = { zoneid: state.zones[0]?.uuid ?? "", serviceofferingid: "", templateid: "", networkids: networkId }
    const listed = yield* simulator.handle({ command: "listServiceOfferings", params: {}, apiKey: undefined })
    const templates = yield* simulator.handle({
      command: "listTemplates",
      params: { templatefilter: "all" },
      apiKey: undefined
    })
    const offering = inner(listed.body, "listserviceofferingsresponse")["serviceoffering"]
    const template = inner(templates.body, "listtemplatesresponse")["template"]
    const idOf = (list: unknown) => (Array.isArray(list) ? String(inner({ x: list[0] }, "x")["id"]) : "")
    const params = { ...base, serviceofferingid: idOf(offering), templateid: idOf(template) }
    for (let i = 0; i < n; i++) {
      const r = yield* simulator.handle({
        command: "deployVirtualMachine",
        params: { ...params, name: `bulk-${networkId.slice(0, 4)}-${i}` },
        apiKey: undefined
      })
      assert.strictEqual(r.status, 200, JSON.stringify(r.body))
    }
  })

describe("live client against the HTTP face", () => {
  it.live(
    "pages, associates an IP, creates and fills an LB rule, sees 537 and a failed job, cleans up",
    () =>
      Effect.gen(function*() {
        const simulator = yield* CloudStackSimulator
        const before = yield* simulator.state
        const networkNamed = (name: string) => before.networks.find((n) => n.name === name)?.uuid ?? ""
        yield* deployMany(200, networkNamed("vpc1-app"))
        yield* deployMany(200, networkNamed("vpc1-db"))
        yield* deployMany(150, networkNamed("shared1"))
        yield* simulator.setFaults({ jobDuration: "50 millis" })

        const client = yield* CloudStackClient
        const zones = yield* client.list(listZones, {})
        assert.deepStrictEqual(zones.map((z) => z.name), demoWorld.zones.map((z) => z.name))

        // more than one page of 500: the client follows `count` over page 1 and 2
        const expected = yield* simulator.handle({
          command: "listVirtualMachines",
          params: { listall: "true" },
          apiKey: API_KEY
        })
        const total = inner(expected.body, "listvirtualmachinesresponse")["count"]
        const vms = yield* client.list(listVirtualMachines, {})
        assert.isAbove(vms.length, 500)
        assert.strictEqual(vms.length, total)
        assert.strictEqual(new Set(vms.map((v) => v.id)).size, vms.length)
        const pages = (yield* simulator.callLog).filter((c) =>
          c.command === "listVirtualMachines" && c.params["pagesize"] === "500"
        )
        assert.deepStrictEqual(pages.map((c) => c.params["page"]), ["1", "2"])

        const network = (yield* client.list(listNetworks, { name: "isolated1" }))[0]
        assert.isDefined(network)
        if (network === undefined) return
        const ip = yield* client.run(associateIpAddress, { networkId: network.id })
        assert.strictEqual(ip.associatedNetworkId, network.id)
        const rule = yield* client.run(createLoadBalancerRule, {
          name: "face-web",
          algorithm: "roundrobin",
          publicPort: 80,
          privatePort: 30080,
          publicIpId: ip.id,
          networkId: network.id,
          openFirewall: false
        })
        assert.deepStrictEqual([rule.publicPort, rule.privatePort, rule.publicIp], [80, 30080, ip.ipAddress])
        const members = vms.filter((v) => v.nics.some((n) => n.networkId === network.id)).slice(0, 2)
        assert.strictEqual(members.length, 2)
        const [first, second] = members
        if (first === undefined || second === undefined) return
        yield* client.run(assignToLoadBalancerRule, { id: rule.id, virtualMachineIds: [first.id] })
        assert.deepStrictEqual((yield* client.list(listLoadBalancerRuleInstances, { id: rule.id })).map((v) => v.id), [
          first.id
        ])

        const conflict = yield* Effect.flip(client.run(createLoadBalancerRule, {
          name: "face-clash",
          algorithm: "roundrobin",
          publicPort: 80,
          privatePort: 30081,
          publicIpId: ip.id,
          networkId: network.id,
          openFirewall: false
        }))
        assert.strictEqual(conflict._tag, "CloudStackApiError")
        if (conflict._tag === "CloudStackApiError") {
          assert.deepStrictEqual([conflict.httpStatus, conflict.errorCode, conflict.csErrorCode], [537, 537, 4360])
        }

        yield* simulator.failNextJobs("assignToLoadBalancerRule", 1)
        const failed = yield* Effect.flip(
          client.run(assignToLoadBalancerRule, { id: rule.id, virtualMachineIds: [second.id] })
        )
        assert.strictEqual(failed._tag, "AsyncJobFailedError")
        if (failed._tag === "AsyncJobFailedError") assert.strictEqual(failed.errorCode, 530)
        assert.deepStrictEqual((yield* client.list(listLoadBalancerRuleInstances, { id: rule.id })).map((v) => v.id), [
          first.id
        ])

        yield* client.run(deleteLoadBalancerRule, { id: rule.id })
        yield* client.run(disassociateIpAddress, { id: ip.id })
        assert.deepStrictEqual(yield* client.list(listLoadBalancerRules, { name: "face-web" }), [])
        assert.deepStrictEqual(yield* client.list(listPublicIpAddresses, { ipAddress: ip.ipAddress }), [])
      }).pipe(Effect.provide(liveClient(SECRET_KEY)), Effect.provide(Face)),
    60_000
  )

  it.live("a wrong secret key gets the 401 as a typed, non-retryable error", () =>
    Effect.gen(function*() {
      const client = yield* CloudStackClient
      const error = yield* Effect.flip(client.list(listZones, {}))
      assert.strictEqual(error._tag, "CloudStackApiError")
      if (error._tag === "CloudStackApiError") {
        assert.deepStrictEqual([error.httpStatus, error.errorCode, error.csErrorCode], [401, 401, undefined])
        assert.strictEqual(error.errorText, "unable to verify user credentials and/or request signature")
      }
      const calls = (yield* (yield* CloudStackSimulator).callLog).filter((c) => c.command === "listZones")
      assert.deepStrictEqual(calls, [], "an unauthenticated call never reaches the simulator")
    }).pipe(Effect.provide(liveClient("wrong-secret")), Effect.provide(Face)))
})
