/**
 * Crash safety: for every prefix of a plan (after each single action: a CloudStack mutation or a
 * record written on the Service) the process dies; a restarted one converges to the same LB with
 * nothing leaked, duplicated, or foreign touched. Also with slow jobs (a crash while a job runs).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Ref } from "effect"
import * as CloudStackClient from "../../../src/cloudstack/CloudStackClient.js"
import { CloudStackTransport } from "../../../src/cloudstack/CloudStackTransport.js"
import { associateIpAddress } from "../../../src/cloudstack/commands/Addresses.js"
import { createLoadBalancerRule } from "../../../src/cloudstack/commands/LoadBalancers.js"
import { NetworkId } from "../../../src/cloudstack/Ids.js"
import { CloudConfig } from "../../../src/config/CloudConfig.js"
import * as Metrics from "../../../src/metrics/Metrics.js"
import * as Instances from "../../../src/provider/Instances.js"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"
import type { LbService } from "../../../src/provider/loadbalancer/LbSpec.js"
import * as LoadBalancers from "../../../src/provider/loadbalancer/LoadBalancers.js"
import type * as Ownership from "../../../src/provider/loadbalancer/Ownership.js"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../../src/simulation/cloudstack/Simulator.js"
import { runScoped } from "../../fakes/Virtual.js"
import { cloudConfig } from "../../simulation/NodeScenariosEnv.js"
import { annotationStore, networkId, nodesFor, service, simState } from "./LbTestEnv.js"

/** How many more actions the "process" may take; below zero it is dead. */
type Budget = Ref.Ref<number>

const spend = (budget: Budget) =>
  Effect.flatMap(Ref.getAndUpdate(budget, (n) => n - 1), (left) => (left <= 0 ? Effect.interrupt : Effect.void))

/** The simulator behind a transport that dies once the budget of mutations is spent. */
const crashableEnv = (budget: Budget, jobDuration: number) => {
  const simulator = Simulator.layer(demoWorld, { seed: 7, faults: { jobDuration } })
  const config = Layer.succeed(CloudConfig, cloudConfig())
  const gated = Layer.effect(
    CloudStackTransport,
    Effect.map(CloudStackTransport, (inner) =>
      CloudStackTransport.of({
        send: (
          request
        ) => (request.method === "POST" ? Effect.zipRight(spend(budget), inner.send(request)) : inner.send(request))
      }))
  ).pipe(Layer.provide(Simulator.layerTransport), Layer.provide(Layer.merge(simulator, config)))
  const base = Layer.mergeAll(gated, config, Metrics.layer)
  const client = CloudStackClient.layer.pipe(Layer.provideMerge(base))
  return Instances.layer("external-cloudstack").pipe(Layer.provideMerge(client), Layer.merge(simulator))
}

/** Addresses a run does not pick: the world's source-NAT IPs, the user's and the requested ones. */
const FIXED = /^203\.0\.113\.(1[0-4]|40|65)$/

/**
 * What a run leaves in the cloud, without ids (which depend on how many calls were made) and with a
 * picked free address shown as `<picked>` (which one is random): a leaked second one shows twice.
 */
const inventory = Effect.map(simState, (s) => {
  const shown = (a: string) => (FIXED.test(a) ? a : "<picked>")
  const address = (uuid: string) => shown(s.publicIps.find((ip) => ip.uuid === uuid)?.address ?? "?")
  return {
    ips: s.publicIps.filter((ip) => ip.state !== "Free").map((ip) => `${shown(ip.address)} ${ip.state}`).sort(),
    rules: s.lbRules.map((r) =>
      `${r.name} ${
        address(r.ipUuid)
      }:${r.publicPort}>${r.privatePort} ${r.protocol} members=${r.members.size} ${r.state}`
    ).sort(),
    firewall: s.firewallRules.map((f) =>
      `${address(f.ipUuid)} ${f.protocol}/${f.startport}-${f.endport} ${f.cidrlist.join(",")}`
    ).sort(),
    acl: s.aclItems.map((a) =>
      `${a.aclUuid.slice(0, 4)} ${a.protocol}/${a.startport} ${a.cidrlist.join(",")} ${a.reason ?? ""}`
    ).sort()
  }
})

/** The user's own LB on the same network (an IP and a rule the CCM must never touch). */
const foreignLb = Effect.gen(function*() {
  const cs = yield* CloudStackClient.CloudStackClient
  const net = NetworkId.make(yield* networkId("isolated1"))
  const ip = yield* cs.run(associateIpAddress, { networkId: net, ipAddress: "203.0.113.40" })
  yield* cs.run(createLoadBalancerRule, {
    name: "users-own-rule",
    algorithm: "roundrobin",
    privatePort: 8080,
    publicPort: 80,
    publicIpId: ip.id,
    networkId: net
  })
})

type Scenario = (
  lbs: LoadBalancers.LoadBalancers["Type"],
  svc: LbService,
  persist: (o: Ownership.Ownership) => Effect.Effect<void>,
  annotations: Effect.Effect<Readonly<Record<string, string>>>
) => Effect.Effect<unknown, unknown, CloudStackClient.CloudStackClient>

/**
 * Runs `setup` (uncounted), then `scenario` with a budget of `n` actions, then, if it died,
 * `scenario` again in a fresh LoadBalancers ("the restarted process"); returns the inventory.
 */
const runWithCrash = (n: number, jobDuration: number, svc: LbService, setup: Scenario, scenario: Scenario) =>
  Effect.gen(function*() {
    const budget = yield* Ref.make(Number.MAX_SAFE_INTEGER)
    return yield* Effect.gen(function*() {
      const store = yield* annotationStore()
      const annotations = Effect.map(store.ref.get, (a) => a)
      const persist = (o: Ownership.Ownership) => Effect.zipRight(spend(budget), store.persist(o))
      const process = (step: Scenario) =>
        Effect.gen(function*() {
          const lbs = yield* LoadBalancers.LoadBalancers
          return yield* step(lbs, svc, persist, annotations)
        }).pipe(Effect.provide(LoadBalancers.layer()))
      yield* foreignLb
      yield* process(setup)
      yield* Ref.set(budget, n)
      const first = yield* Effect.exit(process(scenario))
      const crashed = Exit.isInterrupted(first)
      if (Exit.isFailure(first) && !crashed) return yield* Effect.dieMessage(`scenario failed: ${String(first.cause)}`)
      yield* Ref.set(budget, Number.MAX_SAFE_INTEGER)
      // Jobs submitted before the crash finish meanwhile.
      yield* Effect.sleep(jobDuration * 2)
      if (crashed) yield* process(scenario)
      return { crashed, inventory: yield* inventory, annotations: yield* annotations }
    }).pipe(Effect.provide(crashableEnv(budget, jobDuration)))
  })

const request = (
  svc: LbService,
  nodes: ReadonlyArray<{ readonly name: string; readonly providerID: string }>,
  persist: (o: Ownership.Ownership) => Effect.Effect<void>,
  annotations: Readonly<Record<string, string>>
): LoadBalancers.LbRequest<never> => ({
  service: { ...svc, annotations: { ...svc.annotations, ...annotations } },
  nodes,
  fresh: annotations[Annotations.IP_ID] === undefined && annotations[Annotations.IP_ALLOCATING] === undefined,
  claimedElsewhere: () => false,
  // the move scenario asks for .65: never picked (as the controller does for addresses Services ask for)
  requestedElsewhere: (address) => address === "203.0.113.65",
  associatingElsewhere: () => false,
  persist
})

const ensureOn = (...vms: ReadonlyArray<string>): Scenario => (lbs, svc, persist, annotations) =>
  Effect.gen(function*() {
    const nodes = yield* nodesFor(...vms)
    return yield* lbs.ensure(request(svc, nodes, persist, yield* annotations))
  })

const deleteIt: Scenario = (lbs, svc, persist, annotations) =>
  Effect.gen(function*() {
    return yield* lbs.delete(request(svc, [], persist, yield* annotations))
  })

const nothing: Scenario = () => Effect.void

/** Every crash point of a scenario, until one run no longer crashes. */
const everyCrashPoint = (jobDuration: number, svc: LbService, setup: Scenario, scenario: Scenario) =>
  Effect.gen(function*() {
    const clean = yield* runWithCrash(Number.MAX_SAFE_INTEGER, jobDuration, svc, setup, scenario)
    assert.isFalse(clean.crashed)
    let points = 0
    for (let n = 0; n < 50; n++) {
      const run = yield* runWithCrash(n, jobDuration, svc, setup, scenario)
      if (!run.crashed) break
      points++
      assert.deepStrictEqual(run.inventory, clean.inventory, `crash after ${n} actions`)
      assert.deepStrictEqual(
        Object.keys(run.annotations).sort(),
        Object.keys(clean.annotations).sort(),
        `record after a crash after ${n} actions`
      )
    }
    return { points, clean }
  })

describe("LoadBalancers: a crash after any single action, then a restart", () => {
  const web = service()
  it.effect("create: converges to one IP, one rule with its members, one firewall rule", () =>
    Effect.gen(function*() {
      const { clean, points } = yield* everyCrashPoint(0, web, nothing, ensureOn("node-1", "node-2"))
      // record intent, associate, record the id, create rule, assign, firewall, three tag submissions
      assert.strictEqual(points, 9)
      assert.strictEqual(clean.inventory.rules.filter((r) => r.startsWith("a")).length, 1)
      assert.include(clean.inventory.rules.join("\n"), "users-own-rule 203.0.113.40:80>8080")
    }))

  // on virtual time: the clock moves by itself whenever everything waits on a job
  it("create with slow jobs (a crash while the job runs)", () =>
    Effect.gen(function*() {
      const { points } = yield* everyCrashPoint(2000, service(), nothing, ensureOn("node-1", "node-2"))
      assert.strictEqual(points, 9)
    }).pipe(runScoped))

  it.effect("delete: converges to nothing left, the IP released", () =>
    Effect.gen(function*() {
      const svc = service()
      const { clean, points } = yield* everyCrashPoint(0, svc, ensureOn("node-1", "node-2"), deleteIt)
      assert.isAtLeast(points, 1)
      assert.deepStrictEqual(clean.inventory.rules.filter((r) => r.startsWith("a")), [])
    }))

  it.effect("a move to a requested IP: converges on the new IP, the old one released", () =>
    Effect.gen(function*() {
      const svc = service()
      const moved: Scenario = (lbs, s, persist, annotations) =>
        ensureOn("node-1", "node-2")(lbs, { ...s, loadBalancerIP: "203.0.113.65" }, persist, annotations)
      const { clean, points } = yield* everyCrashPoint(0, svc, ensureOn("node-1", "node-2"), moved)
      assert.isAtLeast(points, 6)
      assert.include(clean.inventory.rules.join("\n"), "203.0.113.65:80")
    }))

  it.effect("a VPC tier: converges with one ACL item", () =>
    Effect.gen(function*() {
      const { clean, points } = yield* everyCrashPoint(0, service(), nothing, ensureOn("web-1", "web-2"))
      assert.strictEqual(points, 9)
      assert.strictEqual(clean.inventory.acl.filter((a) => a.includes("cloudstack-ccm:")).length, 1)
    }))

  it.effect("results carry the address (sanity of the harness)", () =>
    Effect.gen(function*() {
      const run = yield* runWithCrash(Number.MAX_SAFE_INTEGER, 0, service(), nothing, ensureOn("node-1"))
      assert.isFalse(run.crashed)
      assert.isTrue(Option.isSome(Option.fromNullable(run.annotations[Annotations.IP_ID])))
      assert.isDefined(yield* Effect.succeed(CloudStackSimulator))
    }))
})
