import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as HealthServer from "../../src/runtime/HealthServer.js"
import * as TlsFiles from "../../src/runtime/TlsFiles.js"
import * as InProcessCli from "../cli/InProcessCli.js"

/** A temp dir with a good pair, a second pair's key, garbage, and a directory. */
const files = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "ccm-tls-" })
  const write = (name: string, text: string) =>
    Effect.as(fs.writeFileString(path.join(dir, name), text), path.join(dir, name))
  const one = yield* HealthServer.selfSigned
  const other = yield* HealthServer.selfSigned
  return {
    cert: yield* write("tls.crt", one.cert),
    key: yield* write("tls.key", one.key),
    otherKey: yield* write("other.key", other.key),
    garbage: yield* write("garbage.pem", "not pem at all\n"),
    missing: path.join(dir, "missing.pem"),
    dir
  }
}).pipe(Effect.provide(NodeContext.layer))

const problem = (paths: TlsFiles.TlsFilePaths) =>
  Effect.map(Effect.either(TlsFiles.load(paths)), Either.match({ onLeft: (e) => e.message, onRight: () => "ok" }))

describe("TlsFiles.load", () => {
  it.scoped("names the file and the problem: unreadable, not a certificate, no key, key not matching", () =>
    Effect.gen(function*() {
      const f = yield* files
      assert.strictEqual(yield* problem({ certFile: f.cert, keyFile: f.key }), "ok")
      assert.strictEqual(
        yield* problem({ certFile: f.missing, keyFile: f.key }),
        `--tls-cert-file ${f.missing}: cannot read: no such file`
      )
      assert.strictEqual(
        yield* problem({ certFile: f.cert, keyFile: f.dir }),
        `--tls-private-key-file ${f.dir}: cannot read: it is a directory`
      )
      const notCert = `--tls-cert-file ${f.garbage}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`
      assert.strictEqual(yield* problem({ certFile: f.garbage, keyFile: f.key }), notCert)
      // The two files swapped: the "certificate" is a key.
      assert.strictEqual(yield* problem({ certFile: f.key, keyFile: f.cert }), notCert.replace(f.garbage, f.key))
      const noKey = "no private key in it (expected an unencrypted PEM key, -----BEGIN PRIVATE KEY----- or RSA/EC)"
      assert.strictEqual(
        yield* problem({ certFile: f.cert, keyFile: f.garbage }),
        `--tls-private-key-file ${f.garbage}: ${noKey}`
      )
      assert.strictEqual(
        yield* problem({ certFile: f.cert, keyFile: f.cert }),
        `--tls-private-key-file ${f.cert}: ${noKey}`
      )
      assert.strictEqual(
        yield* problem({ certFile: f.cert, keyFile: f.otherKey }),
        `--tls-private-key-file ${f.otherKey}: the key does not match the certificate in --tls-cert-file ${f.cert}`
      )
    }))
})

describe("cloudstack-ccm with a bad TLS pair", () => {
  it.scoped("exits 1 with one line naming the file and the problem, no stack trace", () =>
    Effect.gen(function*() {
      const f = yield* files
      const run = (cert: string, key: string) =>
        InProcessCli.runCli(
          "--controllers=-*",
          "--leader-elect=false",
          "--master=http://127.0.0.1:1",
          "--bind-address=127.0.0.1",
          // Never bound: the pair is checked before listening.
          "--secure-port=1",
          `--tls-cert-file=${cert}`,
          `--tls-private-key-file=${key}`
        )
      for (
        const [cert, key, line] of [
          [
            f.garbage,
            f.key,
            `health server: --tls-cert-file ${f.garbage}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----)`
          ],
          [
            f.cert,
            f.otherKey,
            `health server: --tls-private-key-file ${f.otherKey}: the key does not match the certificate in --tls-cert-file ${f.cert}`
          ],
          [f.missing, f.key, `health server: --tls-cert-file ${f.missing}: cannot read: no such file`]
        ] as const
      ) {
        const r = yield* run(cert, key)
        assert.strictEqual(r.code, 1)
        const errors = r.stderr.split("\n").filter((l) => !l.startsWith("{"))
        assert.deepStrictEqual(errors, [line])
        assert.notInclude(r.stderr, "    at ")
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})
