/**
 * The node controllers of one run share one Node informer (one list, one watch, one cache), as
 * client-go's shared informers: a second cache of 5,000 Nodes cost ~7 MiB of the 120 MiB budget
 * (bench/Memory.bench.ts). Counted at the NodeApi seam, in-process on virtual time (runVirtual).
 */
import { Context, Effect, Either, Fiber, Layer, Option, Ref, Stream } from "effect"
import { assert, describe, it } from "vitest"
import { programWith } from "../../src/cli/RunCommand.js"
import { parse } from "../../src/cli/RunFlags.js"
import * as CloudConfigFile from "../../src/config/CloudConfigFile.js"
import { NodeApi } from "../../src/kubernetes/NodeApi.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import * as Simulator from "../../src/simulation/cloudstack/Simulator.js"
import * as FakeKubernetes from "../../src/simulation/FakeKubernetes.js"
import { pass, runScoped } from "../fakes/Virtual.js"

const run = (controllers: string) =>
  Effect.gen(function*() {
    const kube = yield* Layer.build(FakeKubernetes.layer())
    const cloud = yield* Layer.build(Simulator.layer(demoWorld, { seed: 7 }))
    const config = yield* CloudConfigFile.fromString(
      "[Global]\napi-url = http://127.0.0.1:1/client/api\napi-key = demo-admin-api-key\nsecret-key = demo-admin-secret-key\n"
    )
    const nodes = Context.get(kube, NodeApi)
    yield* Effect.forEach(["a", "b", "c"], (name) =>
      nodes.create({ name: `node-${name}`, providerID: `external-cloudstack:///${name}` }), {
      discard: true
    })
    const lists = yield* Ref.make(0)
    const watches = yield* Ref.make(0)
    const counted = NodeApi.of({
      ...nodes,
      list: Effect.zipRight(
        Ref.update(lists, (n) =>
          n + 1),
        nodes.list
      ),
      watch: (resourceVersion) =>
        Stream.unwrap(Effect.as(
          Ref.update(watches, (n) =>
            n + 1),
          nodes.watch(resourceVersion)
        ))
    })
    const parsed = parse([
      "--cloud-config=/unused",
      "--secure-port=0",
      "--leader-elect=false",
      `--controllers=${controllers}`
    ])
    if (Either.isLeft(parsed)) return assert.fail(parsed.left.message)
    const running = yield* Effect.fork(programWith(parsed.right.flags, Option.some(config), {
      kubernetes: Layer.succeedContext(Context.add(kube, NodeApi, counted)),
      cloudStackTransport: Simulator.layerTransport.pipe(Layer.provide(Layer.succeedContext(cloud)))
    }))
    yield* pass("20 seconds")
    yield* Fiber.interrupt(running)
    return { lists: yield* Ref.get(lists), watches: yield* Ref.get(watches) }
  }).pipe(Effect.scoped)

describe("RunCommand: the node controllers share one Node informer", () => {
  it("both node controllers: one list and one watch of Nodes, as for one controller alone", () =>
    Effect.gen(function*() {
      const alone = yield* run("cloud-node")
      const both = yield* run("cloud-node,cloud-node-lifecycle")
      assert.deepStrictEqual(alone, { lists: 1, watches: 1 })
      assert.deepStrictEqual(both, { lists: 1, watches: 1 })
    }).pipe(runScoped))
})
