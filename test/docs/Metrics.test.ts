import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as Metrics from "../../src/metrics/Metrics.js"

const reference = readFileSync(join(import.meta.dirname, "..", "..", "docs", "metrics.md"), "utf8")

/** The rows of the reference's tables: metric name -> documented type and labels. */
const documented = new Map(
  [...reference.matchAll(/^\| `(cloudstack_ccm_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|/gm)].map((m) => [
    m[1] ?? "",
    { type: m[2] ?? "", labels: [...(m[3] ?? "").matchAll(/`([a-z_]+)`/g)].map((l) => l[1] ?? "").sort() }
  ])
)

const LabelNames = Schema.Array(Schema.String)

/** What the registry declares: prom-client keeps a metric's label names on the object, untyped. */
const exposed = (layer: typeof Metrics.layer) =>
  Effect.gen(function*() {
    const m = yield* Metrics.Metrics
    const out = new Map<string, { type: string; labels: ReadonlyArray<string> }>()
    for (const metric of m.registry.getMetricsAsArray()) {
      const labels = yield* Schema.decodeUnknown(LabelNames)(Reflect.get(metric, "labelNames") ?? [])
      // Histograms expose `le` on their buckets: not a label of the metric.
      out.set(metric.name, { type: String(metric.type), labels: labels.filter((l) => l !== "le").slice().sort() })
    }
    return out
  }).pipe(Effect.provide(layer))

describe("docs/metrics.md", () => {
  it.effect("documents every metric the process exposes, with its type and labels, and nothing else", () =>
    Effect.gen(function*() {
      const all = yield* exposed(Metrics.layerWithProcessMetrics)
      assert.isAbove(all.size, 20)
      assert.deepStrictEqual([...documented.keys()].sort(), [...all.keys()].sort())
      for (const [name, actual] of all) assert.deepStrictEqual(documented.get(name), actual, name)
    }))
})
