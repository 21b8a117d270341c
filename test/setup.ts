import { addEqualityTesters, it } from "@effect/vitest"

// Test files share a worker process (isolate: false) and this file runs before each of them.
const key = Symbol.for("cloudstack-ccm/test/setup")
// @effect/vitest's `layer(...)` assigns its own `effect`, `scoped`, `prop`, `flakyTest` and `layer`
// onto the one shared `it` (its makeIt mutates it): after a file that uses it (the Kubernetes
// contract), every later `it.effect` in the process ran on that file's layer without TestClock. Each
// file starts from the methods the first file saw.
const methods = ["effect", "scoped", "prop", "flakyTest", "layer"] as const
const saved: unknown = Reflect.get(globalThis, key)
if (saved === undefined) {
  Reflect.set(globalThis, key, Object.fromEntries(methods.map((m) => [m, it[m]])))
  // the equality testers list is the process's too: added once
  addEqualityTesters()
} else {
  Object.assign(it, saved)
}
