/**
 * An existing IP known only by its rules is recorded before its rules change: a failure in
 * between (re-planned at once) or a crash must not lose track of it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { CloudStackClient } from "../../../src/cloudstack/CloudStackClient.js"
import { associateIpAddress } from "../../../src/cloudstack/commands/Addresses.js"
import { NetworkId } from "../../../src/cloudstack/Ids.js"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import { LoadBalancers } from "../../../src/provider/loadbalancer/LoadBalancers.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import {
  annotationStore,
  env,
  goCcmLb,
  networkId,
  nodesFor,
  request,
  rulesOfUid,
  service,
  simState
} from "./LbTestEnv.js"

const allocated = Effect.map(
  simState,
  (s) => s.publicIps.filter((ip) => ip.state !== "Free").map((ip) => ip.address).sort()
)

describe("LoadBalancers: an IP found by its rules is recorded first", () => {
  it.effect("the Go CCM's LB with a changed nodePort: a failed create after the delete keeps the IP, delete releases it", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const nodes = yield* nodesFor("node-1", "node-2")
      const svc = service()
      // what the Go CCM left: IP, rule (nodePort 30080), members, firewall rule; no record
      const ip = yield* goCcmLb(svc.uid, nodes)
      const before = yield* allocated
      const store = yield* annotationStore()
      // the new rule (nodePort 30081) needs port 80: the old one goes first, then the create fails once
      yield* (yield* CloudStackSimulator).failNextJobs("createLoadBalancerRule", 1)
      const changed = { ...svc, ports: [{ name: "http", protocol: "TCP" as const, port: 80, nodePort: 30081 }] }
      const result = yield* lbs.ensure(yield* request(changed, nodes, store))
      // before the fix: a new IP, and the Go CCM's one allocated for ever
      assert.deepStrictEqual(result.address, Option.some(ip.ipAddress))
      assert.deepStrictEqual(yield* allocated, before)
      assert.deepStrictEqual((yield* rulesOfUid(svc.uid)).map((r) => [r.ipUuid, r.privatePort]), [[ip.id, 30081]])
      assert.strictEqual((yield* store.ref.get)[Annotations.IP_ID], ip.id)
      yield* lbs.delete(yield* request(changed, nodes, store))
      assert.strictEqual((yield* simState).publicIps.find((i) => i.uuid === ip.id)?.state, "Free")
    }).pipe(Effect.provide(env())))

  it.effect("a fresh Service on the user's own IP: a failed assignment after the rule converges at once, the IP is never released", () =>
    Effect.gen(function*() {
      const lbs = yield* LoadBalancers
      const cs = yield* CloudStackClient
      const nodes = yield* nodesFor("node-1", "node-2")
      const net = NetworkId.make(yield* networkId("isolated1"))
      const users = yield* cs.run(associateIpAddress, { networkId: net, ipAddress: "203.0.113.65" })
      const svc = service({ loadBalancerIP: "203.0.113.65" })
      const store = yield* annotationStore()
      yield* (yield* CloudStackSimulator).failNextJobs("assignToLoadBalancerRule", 1)
      // before the fix: LbUserError PortConflict, CloudStack's 537 against the CCM's own first rule
      const result = yield* lbs.ensure(yield* request(svc, nodes, store, true))
      assert.deepStrictEqual(result.address, Option.some("203.0.113.65"))
      const rules = yield* rulesOfUid(svc.uid)
      assert.deepStrictEqual(rules.map((r) => [r.ipUuid, r.members.size]), [[users.id, 2]])
      const record = yield* store.ref.get
      assert.strictEqual(record[Annotations.IP_ID], users.id)
      assert.isUndefined(record[Annotations.IP_ASSOCIATED])
      yield* lbs.delete(yield* request(svc, nodes, store))
      assert.strictEqual((yield* simState).publicIps.find((i) => i.uuid === users.id)?.state, "Allocated")
      assert.deepStrictEqual(yield* rulesOfUid(svc.uid), [])
    }).pipe(Effect.provide(env())))
})
