/**
 * "An outage deletes nothing", also when `api-url` reaches something that is not CloudStack: the
 * cloud-node-lifecycle controller over the real HttpTransport and client, against loopback servers
 * that answer a health endpoint's JSON, another command's envelope, HTML, truncated JSON, nothing,
 * or a redirect to a login page. A NotReady Node with a valid providerID and one matched by name
 * survive every round, and the log says why. A well-formed empty answer does delete both (the
 * control: the setup can see a deletion).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as CliLogger from "../../src/cli/CliLogger.js"
import * as CloudStackClient from "../../src/cloudstack/CloudStackClient.js"
import * as HttpTransport from "../../src/cloudstack/HttpTransport.js"
import { MAX_ATTEMPTS } from "../../src/cloudstack/RetryPolicy.js"
import { CloudConfig } from "../../src/config/CloudConfig.js"
import * as NodeLifecycleController from "../../src/controllers/NodeLifecycleController.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import * as Instances from "../../src/provider/Instances.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import * as CapturingConsole from "../fakes/CapturingConsole.js"
import { cloudConfig } from "../fakes/CloudStackTestEnv.js"
import { advance } from "../fakes/LiveIo.js"
import * as LoopbackServer from "../fakes/LoopbackServer.js"

const VM_ID = "6d1f2c1e-3b1a-4c55-9a3e-0f1e2d3c4b5a"

const env = (apiUrl: URL) =>
  Layer.mergeAll(
    Instances.layer("external-cloudstack").pipe(
      Layer.provideMerge(CloudStackClient.layer),
      Layer.provide(HttpTransport.layer),
      Layer.provideMerge(Layer.mergeAll(Layer.succeed(CloudConfig, cloudConfig({ apiUrl })), Metrics.layer))
    ),
    FakeKubernetes.layer()
  )

/** Two NotReady Nodes (one by providerID, one by name), the controller for ~16 s, then what is left and what it logged. */
const lifecycleAgainst = (reply: LoopbackServer.Reply) =>
  Effect.gen(function*() {
    const server = yield* LoopbackServer.make(() => reply)
    const output = yield* CapturingConsole.make
    const left = yield* Effect.gen(function*() {
      const nodes = yield* NodeApi
      yield* nodes.create({ name: "by-id", providerID: `external-cloudstack://${VM_ID}` })
      yield* nodes.create({ name: "by-name" })
      const lifecycle = yield* NodeLifecycleController.make({ monitorPeriod: "1 second" })
      yield* Effect.forkScoped(lifecycle.run)
      yield* advance(80, "200 millis")
      return (yield* (yield* FakeKubernetes.FakeKubernetes).nodes).map((n) => n.metadata.name).sort()
    }).pipe(
      Effect.provide(env(server.apiUrl)),
      Effect.provide(CliLogger.layer),
      Effect.withConsole(output.console),
      Effect.scoped
    )
    return { left, requests: server.seen(), stderr: output.stderr().join("\n") }
  })

const foreign: ReadonlyArray<readonly [string, LoopbackServer.Reply, string]> = [
  ["a health endpoint's JSON", LoopbackServer.jsonReply(200, { status: { ok: true } }), "status"],
  ["another command's empty envelope", LoopbackServer.jsonReply(200, { listzonesresponse: {} }), "listzonesresponse"],
  ["an empty object", LoopbackServer.jsonReply(200, {}), "{}"],
  ["HTML with 200", {
    status: 200,
    headers: { "content-type": "text/html" },
    body: "<html><body>Welcome</body></html>"
  }, "Welcome"],
  ["truncated JSON", {
    status: 200,
    headers: { "content-type": "application/json" },
    body: "{\"listvirtualmachinesresponse\":{\"count\":1,\"virtualmach"
  }, "virtualmach"],
  ["an empty body", { status: 200, headers: { "content-type": "application/json" }, body: "" }, "HTTP 200"],
  ["a 302 to a login page", {
    status: 302,
    headers: { location: "/login", "content-type": "text/html" },
    body: "<a href=\"/login\">Found</a>"
  }, "HTTP 302"]
]

describe("cloud-node-lifecycle against an api-url that is not CloudStack", () => {
  for (const [what, reply, shown] of foreign) {
    it.scoped(`${what}: no Node is deleted and the log says why`, () =>
      Effect.gen(function*() {
        const { left, requests, stderr } = yield* lifecycleAgainst(reply)
        assert.deepStrictEqual(left, ["by-id", "by-name"])
        // the VM listing was asked for and retried (a read), never taken as an answer
        assert.isAtLeast(requests.filter((r) => r.url.includes("command=listVirtualMachines")).length, MAX_ATTEMPTS)
        const skipped = stderr.split("\n").filter((line) =>
          line.includes("node lifecycle round skipped, nothing deleted")
        )
        assert.isNotEmpty(skipped, stderr)
        assert.include(skipped[0], "CloudStackUnexpectedBodyError")
        assert.include(skipped[0], "is not CloudStack's answer to listVirtualMachines")
        assert.include(skipped[0], shown)
        assert.notInclude(stderr, "node deleted")
      }))
  }

  it.scoped("control: a well-formed empty listing (and by-id lookup) deletes both NotReady Nodes", () =>
    Effect.gen(function*() {
      const { left, stderr } = yield* lifecycleAgainst(
        LoopbackServer.jsonReply(200, { listvirtualmachinesresponse: {} })
      )
      assert.deepStrictEqual(left, [])
      assert.include(stderr, "node deleted: its VM no longer exists")
    }))
})
