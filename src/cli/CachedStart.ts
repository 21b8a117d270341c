/**
 * The image's entry point (deploy/Dockerfile bundles it with esbuild as `start.cjs`; not part of the
 * package): runs the CLI bundle beside it, `cloudstack-ccm.cjs`, from V8's code cache
 * `cloudstack-ccm.cjs.cache`, so that a start does not parse and compile the 4 MB bundle again (a
 * third of the CPU the process spends before its first request). Without the cache, or when V8
 * rejects it (other node flags or another node build than the ones that wrote it), the bundle is
 * compiled as usual. `CLOUDSTACK_CCM_CODE_CACHE=write` writes the cache as the process exits (the
 * image build runs `--version` so); `=report` prints `code cache: used|rejected|none` on stderr.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { Script } from "node:vm"

const bundle = join(__dirname, "cloudstack-ccm.cjs")
const cacheFile = `${bundle}.cache`
const mode = process.env["CLOUDSTACK_CCM_CODE_CACHE"] ?? ""

const readCache = (): Buffer | undefined => {
  try {
    return readFileSync(cacheFile)
  } catch {
    return undefined
  }
}

const cachedData = mode === "write" ? undefined : readCache()
// The CommonJS wrapper as node's own loader writes it; the shebang line is no JavaScript.
const source = `(function (exports, require, module, __filename, __dirname) {${
  readFileSync(bundle, "utf8").replace(/^#!.*/, "")
}\n})`
const script = new Script(source, { filename: bundle, ...(cachedData === undefined ? {} : { cachedData }) })
if (mode === "report") {
  process.stderr.write(
    `code cache: ${cachedData === undefined ? "none" : script.cachedDataRejected === true ? "rejected" : "used"}\n`
  )
}
if (mode === "write") process.once("exit", () => writeFileSync(cacheFile, script.createCachedData()))
const module = { exports: {} }
const run: unknown = script.runInThisContext()
if (typeof run === "function") run(module.exports, createRequire(bundle), module, bundle, __dirname)
