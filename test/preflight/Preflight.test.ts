/**
 * The preflight against the simulator over HTTP with admin and user keys (what each role may run,
 * the project, the zone, the VMs and their networks), a role without the LB commands, every kind
 * of 401, an unreachable port and a server that is not CloudStack.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import { passed, type PreflightReport } from "../../src/preflight/Report.js"
import { isCommand, layer as simulatorLayer } from "../../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { ADMIN, ALICE, apiUrl, BOB, Face, levels, NO_LB, portOf, preflight, textOf, world } from "./PreflightEnv.js"

const network = (report: PreflightReport, name: string) => report.networks.find((n) => n.name === name)

describe("preflight against the simulator over HTTP", () => {
  it.live("root admin keys: everything checks out; networks of every kind with their LB facts", () =>
    Effect.gen(function*() {
      const report = yield* preflight(yield* apiUrl, ADMIN)
      assert.isTrue(passed(report), JSON.stringify(report.checks))
      assert.deepStrictEqual(levels(report), {
        "endpoint.dns": "skip",
        "endpoint.tcp": "ok",
        "endpoint.tls": "note",
        http: "ok",
        credentials: "ok",
        "permissions.nodes": "ok",
        "permissions.loadBalancers": "ok",
        "permissions.project": "skip",
        version: "note",
        project: "skip",
        zone: "ok",
        vms: "ok"
      })
      assert.match(textOf(report, "version"), /^CloudStack 4\.20\.1\.0: before 4\.22/)
      assert.isTrue(report.commands.every((c) => Option.contains(c.allowed, true)))
      const vr = network(report, "isolated1")
      assert.deepStrictEqual(vr?.kind, "isolated")
      assert.deepStrictEqual(vr?.vms, ["node-1", "node-2", "node-3"])
      assert.deepStrictEqual(
        Option.map(vr?.lb ?? Option.none(), (lb) => [lb.provider, lb.protocols, lb.healthCheck]),
        Option.some(["VirtualRouter", ["tcp", "udp", "tcp-proxy"], false])
      )
      const findings = vr?.findings.map((f) => `${f.level}: ${f.text}`) ?? []
      assert.isTrue(
        findings.some((f) =>
          f.startsWith(
            "note: UDP: the virtual router advertises udp but refuses UDP rules (HTTP 431, apache/cloudstack#4501)"
          )
        ),
        findings.join("\n")
      )
      assert.include(
        findings,
        "note: health checks: not offered (the virtual router has no HealthCheckPolicy capability)"
      )
      assert.include(findings, "ok: public access: a firewall rule per LB port (the Firewall service)")
      const ns = network(report, "isolated-ns")
      assert.deepStrictEqual(ns?.findings.slice(1, 3).map((f) => f.text), [
        "UDP: offered by Netscaler",
        "health checks: offered (HealthCheckPolicy) by Netscaler"
      ])
      assert.deepStrictEqual([network(report, "vpc1-web")?.kind, network(report, "vpc1-web")?.access], ["vpc-tier", {
        kind: "networkAcl",
        list: "web-acl"
      }])
      assert.include(
        network(report, "vpc1-db")?.findings.map((f) => f.text).join("\n") ?? "",
        "default_allow, which cannot be changed"
      )
      assert.deepStrictEqual(network(report, "shared1")?.kind, "shared")
      assert.deepStrictEqual(network(report, "shared1")?.findings, [{
        level: "warn",
        text: "no Lb service: LoadBalancer Services cannot be served for Nodes on this network"
      }])
    }).pipe(Effect.provide(Face)))

  it.live("user keys (alice): the role lacks only admin-only commands, so the CCM can work; only her VMs and network", () =>
    Effect.gen(function*() {
      const report = yield* preflight(yield* apiUrl, ALICE)
      assert.isTrue(passed(report), JSON.stringify(report.checks))
      assert.isTrue(report.commands.every((c) => Option.contains(c.allowed, true)))
      assert.deepStrictEqual(report.networks.map((n) => [n.name, n.vms]), [["alice-net", ["alice-1"]]])
      assert.strictEqual(textOf(report, "vms"), "1 VMs in zone zone1 (1 Running)")
    }).pipe(Effect.provide(Face)))

  it.live("a role without the LB commands fails for the service controller, and passes when it is not enabled", () =>
    Effect.gen(function*() {
      const url = yield* apiUrl
      const all = yield* preflight(url, NO_LB)
      assert.isFalse(passed(all))
      assert.strictEqual(levels(all)["permissions.loadBalancers"], "fail")
      assert.strictEqual(levels(all)["permissions.nodes"], "ok")
      assert.strictEqual(
        textOf(all, "permissions.loadBalancers"),
        "the role may not run 6 of the 27 commands of the service controller (LoadBalancer Services): " +
          "createLoadBalancerRule (create a rule per port), " +
          "updateLoadBalancerRule (change a rule's algorithm or source CIDRs), deleteLoadBalancerRule (delete a rule), " +
          "assignToLoadBalancerRule (add Nodes to a rule), removeFromLoadBalancerRule (remove Nodes from a rule), " +
          "associateIpAddress (acquire a public IP)"
      )
      const missing = all.commands.filter((c) => Option.contains(c.allowed, false)).map((c) => c.command)
      assert.include(missing, "associateIpAddress")
      const nodesOnly = yield* preflight(url, NO_LB, {}, new Set(["nodes"]))
      assert.isTrue(passed(nodesOnly), JSON.stringify(nodesOnly.checks))
      assert.strictEqual(levels(nodesOnly)["permissions.loadBalancers"], "note")
    }).pipe(Effect.provide(Face)))

  it.live("project: a member resolves it by name and sees the project's VMs; a non-member fails; an unknown zone fails", () =>
    Effect.gen(function*() {
      const url = yield* apiUrl
      const alice = yield* preflight(
        url,
        ALICE,
        { projectId: Option.some("demo-project") },
        new Set(["nodes", "loadBalancers", "project"])
      )
      assert.isTrue(passed(alice), JSON.stringify(alice.checks))
      assert.match(textOf(alice, "project"), /^demo-project \([0-9a-f-]{36}\), state Active$/)
      assert.deepStrictEqual(alice.networks.map((n) => [n.name, n.vms]), [["project-net", ["proj-1", "proj-2"]]])
      const bob = yield* preflight(url, BOB, { projectId: Option.some("demo-project") }, new Set(["nodes", "project"]))
      assert.deepStrictEqual([levels(bob)["project"], textOf(bob, "project")], [
        "fail",
        `no project "demo-project" visible to this account (is it a member?)`
      ])
      assert.strictEqual(levels(bob)["vms"], "skip")
      const zone = yield* preflight(url, ALICE, { zone: Option.some("zone9") })
      assert.deepStrictEqual([levels(zone)["zone"], textOf(zone, "zone")], [
        "fail",
        `no zone named "zone9"; the account sees: zone1`
      ])
    }).pipe(Effect.provide(Face)))

  it.live("401: which credential is at fault", () =>
    Effect.gen(function*() {
      const url = yield* apiUrl
      const fault = (keys: { readonly apiKey: string; readonly secretKey: string }) =>
        Effect.map(preflight(url, keys), (r) => {
          assert.deepStrictEqual([levels(r)["http"], levels(r)["credentials"], levels(r)["project"]], [
            "ok",
            "fail",
            "skip"
          ])
          return textOf(r, "credentials")
        })
      assert.match(
        yield* fault({ ...ALICE, secretKey: "wrong" }),
        /the fault: secret-key: CloudStack knows the api-key \(it belongs to an account that is not a root admin\)/
      )
      assert.match(
        yield* fault({ apiKey: "nobody-has-this-key", secretKey: "x" }),
        /the fault: api-key or secret-key: CloudStack does not say which/
      )
      // A root admin's key may run every command, so nothing tells an unknown key from a wrong secret.
      assert.match(yield* fault({ ...ADMIN, secretKey: "wrong" }), /the fault: api-key or secret-key/)
    }).pipe(Effect.provide(Face)))
})

/** A management server whose clock runs an hour ahead: the CCM's signed requests arrive expired. */
const AheadFace = (() => {
  const real = Clock.make()
  const hour = 3_600_000
  const ahead: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => real.unsafeCurrentTimeMillis() + hour,
    currentTimeMillis: Effect.sync(() => real.unsafeCurrentTimeMillis() + hour),
    unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos() + BigInt(hour) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos() + BigInt(hour) * 1_000_000n),
    sleep: (d) => real.sleep(d)
  }
  return Layer.scoped(HttpFace.SimulatorHttpServer, Effect.withClock(HttpFace.make({ port: 0, isCommand }), ahead))
    .pipe(
      Layer.provide(simulatorLayer(world, { seed: 3 }))
    )
})()

describe("preflight against a server whose clock is ahead", () => {
  it.live("401 with the right keys: the fault is the clock (a request without expiry is accepted)", () =>
    Effect.gen(function*() {
      const report = yield* preflight(yield* apiUrl, ALICE)
      assert.strictEqual(levels(report)["credentials"], "fail")
      assert.match(
        textOf(report, "credentials"),
        /the fault: the clock: the keys are right \(a request without expiry is accepted\)/
      )
    }).pipe(Effect.provide(AheadFace)))
})

describe("preflight against no CloudStack", () => {
  it.live("an unreachable port: the TCP check fails, nothing else is tried", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const s = createServer()
          s.listen(0, "127.0.0.1", () => {
            const p = portOf(s)
            s.close(() => resolve(p))
          })
        })
      )
      const report = yield* preflight(`http://127.0.0.1:${port}/client/api`, ADMIN)
      assert.isFalse(passed(report))
      assert.deepStrictEqual(levels(report), {
        "endpoint.dns": "skip",
        "endpoint.tcp": "fail",
        "endpoint.tls": "note",
        http: "skip"
      })
      assert.match(
        textOf(report, "endpoint.tcp"),
        new RegExp(`^cannot connect to 127\\.0\\.0\\.1 port ${port}: ECONNREFUSED`)
      )
    }))

  it.live("a web server that is not the API: the HTTP check fails and names what answered", () =>
    Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const s = createServer((_, res) => {
            res.writeHead(404, { "content-type": "text/html" })
            res.end("<html><body>Not Found</body></html>")
          })
          s.listen(0, "127.0.0.1", () => resolve(s))
        })
      ),
      (s) => Effect.promise(() => new Promise<void>((resolve) => s.close(() => resolve())))
    ).pipe(
      Effect.flatMap((server) => preflight(`http://127.0.0.1:${portOf(server)}/client`, ADMIN)),
      Effect.map((report) => {
        assert.isFalse(passed(report))
        assert.deepStrictEqual([levels(report)["http"], levels(report)["credentials"]], ["fail", "skip"])
        assert.strictEqual(
          textOf(report, "http"),
          `HTTP 404 (text/html) is not a CloudStack API answer: "<html><body>Not Found</body></html>"; check api-url (it usually ends in /client/api)`
        )
      }),
      Effect.scoped
    ))
})
