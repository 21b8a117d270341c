/**
 * The package as a user gets it: `npm pack` (which builds), the tarball installed with its peers in
 * a fresh project whose tsconfig is strict (no skipLibCheck, exactOptionalPropertyTypes,
 * noUncheckedIndexedAccess), the three examples/ compiled there against the shipped .d.ts and run:
 * list-vms and node-controllers with node, simulator.test.ts with vitest. Deep imports must fail.
 *
 * Dependencies come from the npm cache first (`--prefer-offline`): CI's `npm ci` has filled it with
 * every version this project locks, so no download is needed there, and where the cache lacks one
 * the registry is asked.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { execFile } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { repo } from "../cli/CliBundle.js"

const exec = promisify(execFile)
const run = (cwd: string, file: string, args: ReadonlyArray<string>) =>
  exec(file, [...args], { cwd, env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 })

const Manifest = Schema.Struct({
  devDependencies: Schema.Record({ key: Schema.String, value: Schema.String }),
  peerDependencies: Schema.Record({ key: Schema.String, value: Schema.String })
})
const manifest = Schema.decodeUnknownSync(Schema.parseJson(Manifest))(readFileSync(join(repo, "package.json"), "utf8"))
/** The versions this repository tests with (so the npm cache has them). */
const tested = (name: string) => manifest.devDependencies[name] ?? "*"

const PackResult = Schema.parseJson(Schema.Tuple(Schema.Struct({
  filename: Schema.String,
  files: Schema.Array(Schema.Struct({ path: Schema.String }))
})))

/** The strict settings a careful user compiles with; skipLibCheck false checks every shipped .d.ts. */
const strictTsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    types: ["node"],
    outDir: "dist",
    rootDir: "src"
  },
  include: ["src"]
}

const EXAMPLES = ["list-vms.ts", "node-controllers.ts", "simulator.test.ts"]

let work = ""
let project = ""
let packed: { readonly filename: string; readonly files: ReadonlyArray<string> } = { filename: "", files: [] }

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "cloudstack-ccm-pack-"))
  const { stdout } = await run(repo, "npm", ["pack", "--json", "--pack-destination", work])
  // npm prints the prepack build's output before the JSON.
  const result = Schema.decodeUnknownSync(PackResult)(stdout.slice(stdout.indexOf("[")))[0]
  packed = { filename: join(work, result.filename), files: result.files.map((f) => f.path) }

  project = join(work, "user-project")
  mkdirSync(join(project, "src"), { recursive: true })
  const peers = Object.keys(manifest.peerDependencies)
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify(
      {
        name: "user-project",
        private: true,
        type: "module",
        dependencies: {
          "cloudstack-ccm": `file:${packed.filename}`,
          ...Object.fromEntries(peers.map((name) => [name, tested(name)]))
        },
        devDependencies: Object.fromEntries(["typescript", "@types/node", "vitest"].map((name) => [name, tested(name)]))
      },
      null,
      2
    )
  )
  writeFileSync(join(project, "tsconfig.json"), JSON.stringify(strictTsconfig, null, 2))
  for (const file of EXAMPLES) copyFileSync(join(repo, "examples", file), join(project, "src", file))
  await run(project, "npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"])
}, 900_000)

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true })
})

describe("the packed package in a strict project", () => {
  it("ships the build, LICENSE and NOTICE, and no source maps (their sources are not shipped)", () => {
    assert.includeMembers([...packed.files], [
      "LICENSE",
      "NOTICE",
      "package.json",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/src/testing.d.ts",
      "dist/src/cli/bin.js"
    ])
    assert.deepStrictEqual(packed.files.filter((f) => f.endsWith(".map")), [])
    assert.deepStrictEqual(
      packed.files.filter((f) =>
        !f.startsWith("dist/src/") && !["LICENSE", "NOTICE", "README.md", "package.json"].includes(f)
      ),
      []
    )
  })

  it(
    "the examples compile against the shipped .d.ts without skipLibCheck, under exactOptionalPropertyTypes",
    async () => {
      const result = await run(project, "npx", ["tsc", "-p", "."]).catch((e: { stdout?: string; stderr?: string }) => e)
      assert.strictEqual(`${result.stdout ?? ""}${result.stderr ?? ""}`, "")
    },
    300_000
  )

  it("list-vms lists the simulator's VMs through the typed client", async () => {
    const { stdout } = await run(project, "node", ["dist/list-vms.js"])
    const lines = stdout.trim().split("\n")
    const count = Number(/^(\d+) VMs$/.exec(lines.at(-1) ?? "")?.[1])
    assert.isAbove(count, 0)
    assert.strictEqual(lines.length - 1, count)
    for (const line of lines.slice(0, -1)) assert.match(line, /\t(Running|Stopped)\t.*\t[0-9a-f-]{36}$/)
  }, 120_000)

  it("node-controllers initialises the Nodes and deletes the one whose VM is destroyed", async () => {
    const { stdout } = await run(project, "node", ["dist/node-controllers.js"])
    assert.strictEqual(
      stdout.split("\n").filter((l) => / initialised: external-cloudstack:\/\/[0-9a-f-]{36} /.test(l)).length,
      3
    )
    assert.match(stdout, /deleted: its VM no longer exists\n2 nodes left\n$/)
  }, 120_000)

  it("simulator.test.ts passes under the user's vitest", async () => {
    const { stdout } = await run(project, "npx", ["vitest", "run", "src/simulator.test.ts"])
    assert.match(stdout, /1 passed/)
  }, 300_000)

  it("only . and ./testing resolve: internal modules are not importable", async () => {
    const load = (specifier: string) =>
      run(project, "node", ["--input-type=module", "-e", `await import(${JSON.stringify(specifier)})`]).then(
        () => "ok",
        (e: { stderr?: string }) => e.stderr ?? ""
      )
    assert.strictEqual(await load("cloudstack-ccm"), "ok")
    assert.strictEqual(await load("cloudstack-ccm/testing"), "ok")
    assert.include(await load("cloudstack-ccm/cloudstack/CloudStackClient.js"), "ERR_PACKAGE_PATH_NOT_EXPORTED")
    assert.include(await load("cloudstack-ccm/dist/src/index.js"), "ERR_PACKAGE_PATH_NOT_EXPORTED")
  }, 60_000)
})
