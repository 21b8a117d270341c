import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as AnnotationReference from "../../src/provider/loadbalancer/AnnotationReference.js"
import * as Annotations from "../../src/provider/loadbalancer/Annotations.js"

const root = join(import.meta.dirname, "..", "..")
const read = (path: string) => readFileSync(join(root, path), "utf8")

describe("docs/annotations.md", () => {
  it("is exactly what the catalogue renders (regenerate with npm run docs:annotations)", () => {
    assert.strictEqual(read("docs/annotations.md"), AnnotationReference.renderReference())
  })
  // The file equals the rendering (above): what is left to check is that the rendering leaves no annotation out.
  it("the rendered table names every annotation of the catalogue", () => {
    const table = AnnotationReference.renderTable()
    for (const a of Annotations.catalogue) assert.include(table, `\`${a.key}\``)
  })
  it("the README links the reference", () => {
    assert.include(read("README.md"), "(docs/annotations.md)")
  })
})
