import { addEqualityTesters } from "@effect/vitest"

// Test files share a worker process (isolate: false) and this file runs before each of them, while
// the testers list is the process's: add Effect's equality testers once per process.
const added = Symbol.for("cloudstack-ccm/test/effectEqualityTesters")
if (!(added in globalThis)) {
  addEqualityTesters()
  Object.defineProperty(globalThis, added, { value: true })
}
