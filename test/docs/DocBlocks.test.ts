import { assert, describe, it } from "@effect/vitest"
import * as DocBlocks from "./DocBlocks.js"

const sample = [
  "# Title",
  "```sh",
  "echo one",
  "```",
  "```sh",
  "# not run: needs a cluster",
  "kubectl apply -k deploy/base",
  "```",
  "```bash",
  "# exit 1: a bad file",
  "false",
  "```",
  "<!-- file: world.yaml -->",
  "```yaml",
  "zones: [{ name: zone1 }]",
  "```",
  "```sh",
  "# serves until stopped: the simulator",
  "cloudstack-ccm simulator            # default port",
  "cloudstack-ccm simulator --seed 7 \\",
  "  --scenario world.yaml",
  "```",
  "```console",
  "$ not a command",
  "```",
  "```sh",
  "# not run:",
  "```",
  "```sh",
  "# exit 2",
  "```"
].join("\n")

describe("DocBlocks.parse", () => {
  const parsed = DocBlocks.parse("x.md", sample)
  it("finds shell blocks with their mode and line; other fences are not commands", () => {
    assert.deepStrictEqual(parsed.commands.map((c) => [c.line, c.mode]), [
      [2, { _tag: "Run", exitCode: 0 }],
      [5, { _tag: "NotRun", reason: "needs a cluster" }],
      [9, { _tag: "Run", exitCode: 1 }],
      [17, { _tag: "Serves" }]
    ])
    assert.strictEqual(parsed.commands[0]?.script, "echo one\n")
  })
  it("a file mark writes the next block", () => {
    assert.deepStrictEqual(parsed.files, [{ doc: "x.md", name: "world.yaml", content: "zones: [{ name: zone1 }]\n" }])
  })
  it("a not-run or exit line without a reason is a problem, never a silent skip", () => {
    assert.deepStrictEqual(parsed.problems, [
      "x.md:26: `# not run:` without a reason",
      "x.md:29: `# exit 2` without `: <reason>`"
    ])
  })
  it("served commands: one per command, continuations joined, comments dropped", () => {
    const served = parsed.commands[3]
    assert.deepStrictEqual(DocBlocks.servedCommands(served?.script ?? ""), [
      "cloudstack-ccm simulator            # default port",
      "cloudstack-ccm simulator --seed 7   --scenario world.yaml"
    ])
  })
})

describe("the repository's documentation", () => {
  const all = DocBlocks.readAll()
  it("has only well-formed command blocks", () => {
    assert.deepStrictEqual(all.problems, [])
  })
  it("runs most of what it shows: the blocks marked not run are the minority", () => {
    const notRun = all.commands.filter((c) => c.mode._tag === "NotRun")
    assert.isAbove(
      all.commands.length - notRun.length,
      notRun.length,
      notRun.map((c) => `${c.doc}:${c.line}`).join(", ")
    )
  })
})
