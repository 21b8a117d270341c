import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as Annotations from "../../../src/provider/loadbalancer/Annotations.js"

describe("README", () => {
  it("documents every load-balancer annotation exactly as the catalogue has it", () => {
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "..", "README.md"), "utf8")
    assert.include(readme, Annotations.renderTable())
    for (const a of Annotations.catalogue) assert.include(readme, `\`${a.key}\``)
  })
})
