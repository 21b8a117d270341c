import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { FLAGS } from "../../src/cli/RunFlags.js"
import { knownKeys } from "../../src/config/CloudConfigSchema.js"

const reference = readFileSync(join(import.meta.dirname, "..", "..", "docs", "configuration.md"), "utf8")

/** Table rows whose first cell names things in backticks: [names in the first cell, second cell]. */
const rows = (first: RegExp) =>
  reference.split("\n").filter((l) => first.test(l)).map((l) => {
    const cells = l.split(" | ")
    return { names: [...(cells[0] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ""), second: cells[1] ?? "" }
  })

describe("docs/configuration.md", () => {
  const flagRows = rows(/^\| `--[a-z]/)
  it("has a row for every flag of run, with its default, and no row for a flag run does not have", () => {
    for (const flag of FLAGS) {
      const row = flagRows.find((r) => r.names.includes(`--${flag.name}`))
      assert.isDefined(row, `--${flag.name} is not documented`)
      if (flag.default !== "") assert.include(row?.second, `\`${flag.default}\``, `--${flag.name}'s default`)
    }
    const known = new Set(FLAGS.map((f) => `--${f.name}`).concat(["-v"]))
    for (const name of flagRows.flatMap((r) => r.names)) {
      assert.isTrue(known.has(name), `${name} is documented but not a flag`)
    }
  })
  it("has a row for every cloud-config key, and no other", () => {
    const documented = rows(/^\| `[a-z][a-z-]*`(, `[a-z-]+`)* \| /).flatMap((r) => r.names).filter((n) =>
      !n.startsWith("--")
    )
    assert.deepStrictEqual(documented.slice().sort(), [...knownKeys].sort())
  })
})
