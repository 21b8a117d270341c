/**
 * The preflight's command catalogue is the code's: (1) it names exactly the command definitions
 * the provider and client code import, and (2) every command the LB and node code sends while
 * serving Services on every kind of network (create, update, move, members, UDP refusal, delete)
 * and resolving Nodes and a project name is in it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import { Instances } from "../../src/provider/Instances.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"
import { LoadBalancers } from "../../src/provider/loadbalancer/LoadBalancers.js"
import { REQUIRED_COMMANDS } from "../../src/provider/RequiredCommands.js"
import { CloudStackSimulator } from "../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../src/simulation/cloudstack/DemoWorld.js"
import { World } from "../../src/simulation/cloudstack/World.js"
import { cloudLayer } from "../simulation/NodeScenariosEnv.js"
import { annotationStore, env, nodesFor, request, service } from "./loadbalancer/LbTestEnv.js"

const src = resolve(import.meta.dirname, "..", "..", "src")
const declared = new Set(REQUIRED_COMMANDS.map((c) => c.command))

const tsFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  )

const IMPORT = /import\s*\{([^}]*)\}\s*from\s*"([^"]*\/commands\/[A-Za-z]+)\.js"/g

const isCommand = (value: unknown): value is { readonly name: string } =>
  typeof value === "object" && value !== null && "kind" in value && "name" in value && typeof value.name === "string"

/** The wire names of the command definitions `files` import from src/cloudstack/commands. */
const importedCommands = (files: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const names = new Set<string>()
    for (const file of files) {
      for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
        const module: Record<string, unknown> = await import(
          pathToFileURL(`${resolve(dirname(file), m[2] ?? "")}.ts`).href
        )
        for (
          const id of (m[1] ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "" && !s.startsWith("type "))
        ) {
          const value = module[id]
          if (isCommand(value)) names.add(value.name)
        }
      }
    }
    return names
  })

describe("RequiredCommands", () => {
  it.effect("names exactly the commands the provider and the client import", () =>
    Effect.gen(function*() {
      const files = [
        ...tsFiles(join(src, "provider")).filter((f) => !f.endsWith("RequiredCommands.ts")),
        join(src, "cloudstack", "CloudStackClient.ts")
      ]
      const imported = yield* importedCommands(files)
      assert.deepStrictEqual([...declared].sort(), [...imported].sort())
    }))

  it.effect("covers every command sent while serving Services and resolving Nodes", () =>
    Effect.gen(function*() {
      const sent = new Set<string>()
      const collect = Effect.flatMap(CloudStackSimulator, (s) => s.counters).pipe(
        Effect.map((counters) => [...counters.keys()].forEach((c) => sent.add(c)))
      )
      const lbStory = Effect.gen(function*() {
        const lbs = yield* LoadBalancers
        const instances = yield* Instances
        const nodes = yield* nodesFor("node-1", "node-2", "node-3")
        yield* instances.resolve(nodes)
        yield* instances.instanceExists(nodes[0] ?? { name: "", providerID: "" })
        const store = yield* annotationStore()
        const svc = service({ loadBalancerSourceRanges: ["192.0.2.0/24"] })
        yield* lbs.ensure(yield* request(svc, nodes, store, true))
        yield* lbs.ensure(
          yield* request(
            {
              ...svc,
              annotations: { [Annotations.ALGORITHM]: "leastconn" },
              loadBalancerSourceRanges: ["198.51.100.0/24"]
            },
            nodes,
            store
          )
        )
        yield* lbs.ensure(yield* request(svc, nodes.slice(0, 2), store))
        yield* lbs.ensure(
          yield* request(
            { ...svc, ports: [{ name: "http", protocol: "TCP", port: 8080, nodePort: 30080 }] },
            nodes,
            store
          )
        )
        const udp = service({ ports: [{ name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }] })
        yield* Effect.either(lbs.ensure(yield* request(udp, nodes, yield* annotationStore(), true)))
        yield* lbs.delete(yield* request(svc, nodes, store))
        const tier = yield* nodesFor("web-1", "web-2")
        const vpc = service()
        const vpcStore = yield* annotationStore()
        yield* lbs.ensure(yield* request(vpc, tier, vpcStore, true))
        yield* lbs.delete(yield* request(vpc, tier, vpcStore))
        // policies: stickiness set, then removed; a health check on the Netscaler-like network, then changed
        const ns = (yield* Effect.flatMap(CloudStackSimulator, (sim) =>
          sim.state)).networks.find((n) =>
            n.name === "isolated-ns"
          )?.uuid ?? ""
        const nsNodes = yield* nodesFor("ns-node-1")
        const sticky = service({
          annotations: { [Annotations.NETWORK_ID]: ns, [Annotations.STICKY_METHOD]: "SourceBased" }
        })
        const stickyStore = yield* annotationStore()
        yield* lbs.ensure(yield* request(sticky, nsNodes, stickyStore, true))
        yield* lbs.ensure(
          yield* request(
            { ...sticky, annotations: { [Annotations.NETWORK_ID]: ns, [Annotations.HEALTH_CHECK_INTERVAL]: "9" } },
            nsNodes,
            stickyStore
          )
        )
        yield* collect
      })
      // 4.20: a cidrlist update is ignored, so the rule is recreated instead
      const old = new World({ ...demoWorld, version: "4.20.1.0" })
      for (const world of [demoWorld, old]) yield* lbStory.pipe(Effect.provide(env({ world })))
      // a project-id given by name is resolved with listProjects
      yield* Effect.flatMap(CloudStackClient, (cs) => Effect.succeed(cs.projectId)).pipe(
        Effect.tap((id) => assert.isTrue(Option.isSome(id))),
        Effect.zipRight(collect),
        Effect.provide(cloudLayer({ config: { projectId: Option.some("demo-project") } }).pipe(Layer.orDie))
      )
      const undeclared = [...sent].filter((c) => !declared.has(c))
      assert.deepStrictEqual(undeclared, [], "sent but not in REQUIRED_COMMANDS")
      // the story reaches the whole catalogue but for the pre-4.19 ACL list lookup
      assert.deepStrictEqual([...declared].filter((c) => !sent.has(c)), ["listNetworkACLLists"])
    }))
})
