/**
 * `cloudstack-ccm orphans` against the in-memory CloudStack simulator (demo world) and
 * FakeKubernetes: LBs built by the real provider, Services deleted without cleanup, the user's own
 * IP and rule, what the Go CCM left, another cluster's and another account's LBs. The report lists
 * exactly the leftovers; `--delete` removes them and nothing else; failures and a missing Service
 * list are handled; the command line parses and refuses as it should.
 */
import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option, Schema } from "effect"
import * as CliLogger from "../../src/cli/CliLogger.js"
import { type OrphansOptions, orphansWith } from "../../src/cli/OrphansCommand.js"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { associateIpAddress } from "../../src/cloudstack/commands/Addresses.js"
import { createFirewallRule } from "../../src/cloudstack/commands/Firewall.js"
import { createLoadBalancerRule } from "../../src/cloudstack/commands/LoadBalancers.js"
import { createTags } from "../../src/cloudstack/commands/Tags.js"
import { NetworkId } from "../../src/cloudstack/Ids.js"
import { ServiceApi } from "../../src/kubernetes/ServiceApi.js"
import { NETWORK_ID } from "../../src/provider/loadbalancer/Annotations.js"
import { lbName, ruleName } from "../../src/provider/loadbalancer/LbName.js"
import { LoadBalancers } from "../../src/provider/loadbalancer/LoadBalancers.js"
import { aclMarker } from "../../src/provider/loadbalancer/ObservedLb.js"
import { tagsOf } from "../../src/provider/loadbalancer/Tags.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import * as CapturingConsole from "../fakes/CapturingConsole.js"
import { demoKeys } from "../fakes/CloudStackTestEnv.js"
import { clientOver, deleteWithoutCleanup, inventory, lbService, world } from "../orphans/OrphanScenario.js"
import {
  annotationStore,
  callsSince,
  countersNow,
  goCcmLb,
  networkId,
  nodesFor,
  request,
  service,
  simState
} from "../provider/loadbalancer/LbTestEnv.js"
import { cloudConfig } from "../simulation/NodeScenariosEnv.js"
import { registerNodes } from "../simulation/ServiceScenariosEnv.js"
import { runCli } from "./InProcessCli.js"

const Entry = { kind: Schema.String, id: Schema.String, name: Schema.String, why: Schema.String }
const JsonReport = Schema.parseJson(Schema.Struct({
  cluster: Schema.String,
  mode: Schema.Literal("dry-run", "delete"),
  orphans: Schema.Array(Schema.Struct({ ...Entry, action: Schema.Literal("delete", "release") })),
  left: Schema.Array(Schema.Struct(Entry)),
  results: Schema.Array(Schema.Struct({
    kind: Schema.String,
    id: Schema.String,
    name: Schema.String,
    outcome: Schema.Literal("deleted", "failed", "skipped"),
    detail: Schema.optional(Schema.String)
  }))
}))

type World = Effect.Effect.Success<typeof world>

/** Runs the command over the world's simulator (in memory) and FakeKubernetes, capturing stdout. */
const orphans = (w: World, options: Partial<OrphansOptions> = {}) =>
  Effect.gen(function*() {
    const captured = yield* CapturingConsole.make
    const exit = yield* Effect.exit(
      orphansWith({ clusterName: "kubernetes", delete: false, output: "json", ...options }, w.config, {
        kubernetes: Layer.succeedContext(w.kube),
        cloudStackTransport: Simulator.layerTransport.pipe(Layer.provide(Layer.succeedContext(w.simulator)))
      }).pipe(Effect.provide(CliLogger.layer), Effect.withConsole(captured.console))
    )
    const stdout = captured.stdout().join("\n")
    return {
      exit,
      stdout,
      report: options.output === "text" ? undefined : Schema.decodeUnknownSync(JsonReport)(stdout)
    }
  })

const DEAD_UID = "0badc0de-5e1c-4000-a000-00000000dead"

/** Everything of the scenario, with the ids the report must (and must not) name. */
const scenario = Effect.gen(function*() {
  yield* registerNodes("node-1", "node-2", "node-3", "web-1")
  const cs = yield* CloudStackClient
  const gone = yield* lbService({ name: "gone" })
  const kept = yield* lbService({ name: "kept" })
  const goneVpc = yield* lbService({
    name: "gone-vpc",
    ports: [{ name: "http", port: 8080 }],
    annotations: { [NETWORK_ID]: yield* networkId("vpc1-web") }
  })
  const owner = yield* lbService({ name: "shared-owner", loadBalancerIP: "203.0.113.50" })
  const user = yield* lbService({
    name: "shared-user",
    loadBalancerIP: "203.0.113.50",
    ports: [{ name: "https", port: 443 }]
  })
  // the user's own IP, rule and firewall rule, made by hand (untagged)
  const isolated1 = NetworkId.make(yield* networkId("isolated1"))
  const mine = yield* cs.run(associateIpAddress, { networkId: isolated1 })
  const myRule = yield* cs.run(createLoadBalancerRule, {
    name: "my-rule",
    algorithm: "roundrobin",
    privatePort: 31000,
    publicPort: 8080,
    publicIpId: mine.id,
    networkId: isolated1,
    protocol: "tcp",
    openFirewall: false
  })
  yield* cs.run(createFirewallRule, { ipAddressId: mine.id, protocol: "tcp", startPort: 8080, endPort: 8080 })
  // what the Go CCM left for a Service deleted since (its members are this cluster's Nodes)
  const goIp = yield* goCcmLb(DEAD_UID, yield* nodesFor("node-1", "node-2"))
  for (const name of ["gone", "gone-vpc", "shared-owner"]) yield* deleteWithoutCleanup(name)

  const s = yield* simState
  const ipOf = (address: string) => s.publicIps.find((ip) => ip.address === address)?.uuid ?? ""
  const rulesOf = (uid: string) => s.lbRules.filter((r) => r.name.startsWith(`${lbName(uid)}-`)).map((r) => r.uuid)
  const fwOf = (ip: string, port: number) =>
    s.firewallRules.filter((f) => f.ipUuid === ip && f.startport === port).map((f) => f.uuid)
  const shared = ipOf("203.0.113.50")
  return {
    gone,
    kept,
    user,
    mine: { ip: mine.id, rule: myRule.id },
    orphans: [
      ...fwOf(ipOf(gone.address), 80),
      ...fwOf(shared, 80),
      ...s.aclItems.filter((a) => a.reason === aclMarker(goneVpc.uid)).map((a) => a.uuid),
      ...rulesOf(gone.uid),
      ...rulesOf(goneVpc.uid),
      ...rulesOf(owner.uid),
      ...rulesOf(DEAD_UID),
      ipOf(gone.address),
      ipOf(goneVpc.address)
    ].sort(),
    shared,
    goIp: goIp.id,
    left: [shared, goIp.id].sort()
  }
})

const otherClusterLb = (w: World) =>
  Effect.gen(function*() {
    const lbs = Context.get(w.other, LoadBalancers)
    const nodes = yield* nodesFor("node-1")
    const result = yield* lbs.ensure(yield* request(service(), nodes, yield* annotationStore(), true))
    return result.address
  })

/** One Service whose LB was left behind: deleted without cleanup. */
const oneLeftBehind = (...nodes: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* registerNodes(...nodes)
    yield* lbService({ name: "gone" })
    yield* deleteWithoutCleanup("gone")
  })

/** An IP and an LB rule made by hand on `network` (as whoever the client signs as), tagged with `tags`. */
const handMade = <R>(
  network: Effect.Effect<string, never, R>,
  name: string,
  port: number,
  tags: ReadonlyArray<{ readonly key: string; readonly value: string }>
) =>
  Effect.gen(function*() {
    const cs = yield* CloudStackClient
    const net = NetworkId.make(yield* network)
    const ip = yield* cs.run(associateIpAddress, { networkId: net })
    const rule = yield* cs.run(createLoadBalancerRule, {
      name,
      algorithm: "roundrobin",
      privatePort: 30000 + port,
      publicPort: port,
      publicIpId: ip.id,
      networkId: net,
      protocol: "tcp"
    })
    yield* cs.run(createTags, { resourceType: "LoadBalancer", resourceIds: [rule.id], tags })
    return { ip: ip.id, rule: rule.id }
  })

describe("orphans command (in-memory simulator, FakeKubernetes)", () => {
  it.scoped("reports exactly the leftovers of Services deleted without cleanup, then --delete removes them and nothing else", () =>
    Effect.gen(function*() {
      const w = yield* world
      const expected = yield* scenario.pipe(Effect.provide(w.context))
      assert.isTrue(Option.isSome(yield* otherClusterLb(w).pipe(Effect.provide(w.context))), "the other cluster's LB")
      const before = yield* inventory.pipe(Effect.provide(w.context))
      assert.strictEqual(expected.orphans.length, 9)

      const mark = yield* countersNow.pipe(Effect.provide(w.context))
      const dry = yield* orphans(w)
      assert.isTrue(Exit.isSuccess(dry.exit))
      const calls = yield* callsSince(mark).pipe(Effect.provide(w.context))
      // four paged listings of the account, one member listing for the Go CCM's rule; nothing changed
      assert.deepStrictEqual(calls.byCommand, {
        listPublicIpAddresses: 1,
        listLoadBalancerRules: 1,
        listFirewallRules: 1,
        listNetworkACLs: 1,
        listLoadBalancerRuleInstances: 1
      })
      assert.deepStrictEqual(yield* inventory.pipe(Effect.provide(w.context)), before)
      const report = dry.report
      assert.strictEqual(report?.mode, "dry-run")
      assert.deepStrictEqual(report?.orphans.map((o) => o.id).sort(), expected.orphans)
      assert.deepStrictEqual(report?.left.map((l) => l.id).sort(), expected.left)
      const why = (id: string) => report?.left.find((l) => l.id === id)?.why ?? ""
      assert.strictEqual(
        why(expected.goIp),
        `IP left: not tagged as ours (it carries the orphan LB rule ${lbName(DEAD_UID)}-tcp-80)`
      )
      assert.include(why(expected.shared), "Service default/shared-user records or requests it")
      assert.deepStrictEqual(report?.orphans.map((o) => o.kind), [
        "FirewallRule",
        "FirewallRule",
        "NetworkAclItem",
        "LoadBalancerRule",
        "LoadBalancerRule",
        "LoadBalancerRule",
        "LoadBalancerRule",
        "PublicIpAddress",
        "PublicIpAddress"
      ])

      const mark2 = yield* countersNow.pipe(Effect.provide(w.context))
      const run = yield* orphans(w, { delete: true })
      assert.isTrue(Exit.isSuccess(run.exit))
      assert.deepStrictEqual(run.report?.results.map((r) => r.outcome), Array(9).fill("deleted"))
      const deleting = yield* callsSince(mark2).pipe(Effect.provide(w.context))
      assert.strictEqual(deleting.mutating, 9, JSON.stringify(deleting.byCommand))
      const after = yield* inventory.pipe(Effect.provide(w.context))
      const gone = new Set(expected.orphans)
      assert.deepStrictEqual(after, {
        ips: before.ips.filter((id) => !gone.has(id)),
        rules: before.rules.filter((id) => !gone.has(id)),
        firewall: before.firewall.filter((id) => !gone.has(id)),
        acl: before.acl.filter((id) => !gone.has(id))
      })
      // spelled out: the live Services' LBs, the user's own IP and rule, the Go CCM's IP are there
      for (const id of [expected.mine.ip, expected.mine.rule, ...expected.left]) {
        assert.isTrue([...after.ips, ...after.rules].includes(id), id)
      }

      // nothing left to do; the shared IP stays reported (its associating Service is gone, another uses it)
      const again = yield* orphans(w)
      assert.deepStrictEqual(again.report?.orphans, [])
      assert.deepStrictEqual(again.report?.left.map((l) => l.id), [expected.shared])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("--delete goes on after a failure, does not release the IP of a rule it could not delete, and fails at the end", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* Effect.gen(function*() {
        yield* oneLeftBehind("node-1", "node-2")
        yield* lbService({ name: "kept" })
        yield* Effect.flatMap(CloudStackSimulator, (s) => s.failNextJobs("deleteLoadBalancerRule", 1))
      }).pipe(Effect.provide(w.context))
      const run = yield* orphans(w, { delete: true })
      assert.deepStrictEqual(run.report?.results.map((r) => [r.kind, r.outcome]), [
        ["FirewallRule", "deleted"],
        ["LoadBalancerRule", "failed"],
        ["PublicIpAddress", "skipped"]
      ])
      assert.include(run.report?.results[1]?.detail ?? "", "deleteLoadBalancerRule")
      assert.strictEqual(run.report?.results[2]?.detail, "a rule on it could not be deleted")
      assert.isTrue(Exit.isFailure(run.exit))
      if (Exit.isFailure(run.exit)) assert.include(String(run.exit.cause), "2 of 3 deletions did not succeed")
      // the next run finishes the job
      const again = yield* orphans(w, { delete: true })
      assert.isTrue(Exit.isSuccess(again.exit))
      assert.deepStrictEqual(again.report?.results.map((r) => [r.kind, r.outcome]), [["LoadBalancerRule", "deleted"], [
        "PublicIpAddress",
        "deleted"
      ]])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("refuses to decide anything when the Services cannot be listed, even with --delete", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* Effect.gen(function*() {
        yield* oneLeftBehind("node-1")
        yield* Effect.flatMap(
          FakeKubernetes.FakeKubernetes,
          (k) => k.failNext({ verb: "list", resource: "services", reason: "Forbidden" })
        )
      }).pipe(Effect.provide(w.context))
      const before = yield* inventory.pipe(Effect.provide(w.context))
      const run = yield* orphans(w, { delete: true, output: "text" })
      assert.strictEqual(run.stdout, "")
      assert.isTrue(Exit.isFailure(run.exit))
      if (Exit.isFailure(run.exit)) {
        const error = Cause.failureOption(run.exit.cause)
        assert.strictEqual(Option.map(error, (e) => e._tag).pipe(Option.getOrUndefined), "ServicesUnavailableError")
        assert.match(
          Option.match(error, { onNone: () => "", onSome: (e) => e.message }),
          /^orphans: cannot list the cluster's Services \(Kubernetes list services.*Forbidden.*\); refusing to decide what is an orphan without them$/
        )
      }
      assert.deepStrictEqual(yield* inventory.pipe(Effect.provide(w.context)), before)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("lists CloudStack before the Services: an LB made for a Service created in between never looks orphaned", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* registerNodes("node-1").pipe(Effect.provide(w.context))
      const real = Context.get(w.kube, ServiceApi)
      // the controller builds an LB for a new Service right after any Service listing
      const racing = ServiceApi.of({
        ...real,
        list: Effect.tap(
          real.list,
          () => Effect.orDie(lbService({ name: "brand-new" }).pipe(Effect.provide(w.context)))
        )
      })
      const captured = yield* CapturingConsole.make
      const report = yield* orphansWith({ clusterName: "kubernetes", delete: true, output: "json" }, w.config, {
        kubernetes: Layer.succeedContext(Context.add(w.kube, ServiceApi, racing)),
        cloudStackTransport: Simulator.layerTransport.pipe(Layer.provide(Layer.succeedContext(w.simulator)))
      }).pipe(Effect.provide(CliLogger.layer), Effect.withConsole(captured.console))
      assert.deepStrictEqual(report.orphans, [])
      assert.strictEqual((yield* simState.pipe(Effect.provide(w.context))).lbRules.length, 1)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("lists only the key's own account: another account's resources tagged for this cluster are not even seen", () =>
    Effect.gen(function*() {
      const w = yield* world
      const alice = yield* Layer.build(clientOver(w.simulator, cloudConfig(demoKeys("alice"))))
      // as alice: tagged like this cluster's LB of a deleted Service (the IP too)
      const tags = tagsOf({ cluster: "kubernetes", namespace: "default", name: "gone", uid: DEAD_UID })
      const made = yield* Effect.gen(function*() {
        const ids = yield* handMade(
          networkId("alice-net").pipe(Effect.provide(w.context)),
          ruleName(lbName(DEAD_UID), "tcp", 80),
          80,
          tags
        )
        yield* Effect.flatMap(
          CloudStackClient,
          (cs) => cs.run(createTags, { resourceType: "PublicIpAddress", resourceIds: [ids.ip], tags })
        )
        return [ids.ip, ids.rule]
      }).pipe(Effect.provide(alice))
      const before = yield* inventory.pipe(Effect.provide(w.context))
      const run = yield* orphans(w, { delete: true })
      assert.deepStrictEqual(run.report?.orphans, [])
      assert.deepStrictEqual(run.report?.left, [])
      const after = yield* inventory.pipe(Effect.provide(w.context))
      assert.deepStrictEqual(after, before)
      for (const id of made) assert.isTrue([...after.ips, ...after.rules].includes(id))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("the text report: readable, what --delete would do, foreign text redacted and without control characters", () =>
    Effect.gen(function*() {
      const w = yield* world
      yield* Effect.gen(function*() {
        yield* oneLeftBehind("node-1")
        // a hand-made rule whose tags quote the secret key and a terminal escape
        yield* handMade(
          networkId("isolated1"),
          "hand-made",
          9090,
          tagsOf({ cluster: "kubernetes", namespace: "default", name: `x-${SECRET}\u001b[31m`, uid: DEAD_UID })
        )
      }).pipe(Effect.provide(w.context))
      const run = yield* orphans(w, { output: "text" })
      assert.isTrue(Exit.isSuccess(run.exit))
      const text = run.stdout
      assert.match(
        text,
        /^cloudstack-ccm orphans, cluster "kubernetes": 4 orphans \(1 firewall rule, 2 LB rules, 1 public IP\), 1 resource left alone \(dry run: nothing was changed\)$/m
      )
      assert.include(text, "Orphans (--delete removes them in this order):")
      assert.include(text, "    action: delete the firewall rule (deleteFirewallRule)")
      assert.include(text, "    action: release the IP (disassociateIpAddress)")
      assert.include(text, "    why:    Service default/gone (UID ")
      assert.include(
        text,
        "Service default/x-<redacted>?[31m (UID 0badc0de-5e1c-4000-a000-00000000dead) no longer exists"
      )
      assert.include(text, "Left alone:")
      assert.include(text, "IP left: not tagged as ours (it carries the orphan LB rule hand-made)")
      assert.include(text, "Run again with --delete to remove the orphans.")
      assert.notInclude(text, SECRET)
      assert.notInclude(text, "\u001b")
    }).pipe(Effect.provide(NodeContext.layer)))
})

const SECRET = "demo-admin-secret-key"

describe("orphans command line", () => {
  const configFile = Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(yield* fs.makeTempDirectoryScoped({ prefix: "orphans-" }), "cloud-config")
    yield* fs.writeFileString(
      file,
      "[Global]\napi-url = http://127.0.0.1:1/client/api\napi-key = k-123456\nsecret-key = s-123456\n"
    )
    return file
  })

  it.scoped("--help names every option", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runCli("orphans", "--help")
      assert.strictEqual(code, 0)
      for (const option of ["--cloud-config", "--kubeconfig", "--cluster-name", "--delete", "--output"]) {
        assert.include(stdout, option)
      }
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("a kubeconfig that cannot be loaded: exit 1 with one clear line, before any CloudStack call", () =>
    Effect.gen(function*() {
      const file = yield* configFile
      const { code, stderr } = yield* runCli(
        "orphans",
        "--cloud-config",
        file,
        "--kubeconfig",
        "/nonexistent/kubeconfig"
      )
      assert.strictEqual(code, 1)
      assert.match(stderr, /Kubernetes client configuration: .*\/nonexistent\/kubeconfig/)
      assert.notInclude(stderr, "CloudStack")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("an unknown output format and an unknown option are usage errors", () =>
    Effect.gen(function*() {
      const file = yield* configFile
      const bad = yield* runCli("orphans", "--cloud-config", file, "--output", "xml")
      assert.strictEqual(bad.code, 1)
      const unknown = yield* runCli("orphans", "--cloud-config", file, "--bogus")
      assert.strictEqual(unknown.code, 1)
      assert.include(unknown.stderr, "orphans: unknown option --bogus")
    }).pipe(Effect.provide(NodeContext.layer)))
})
