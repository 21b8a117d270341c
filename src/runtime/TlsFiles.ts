/**
 * Reads and checks the serving certificate pair of `--tls-cert-file` / `--tls-private-key-file`
 * before the health server uses it, so a bad pair is one line naming the file and the problem
 * (unreadable, not a PEM certificate, no private key, key not matching) instead of a TLS stack trace.
 */
import { Data, Effect, Predicate } from "effect"
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto"
import { readFile } from "node:fs/promises"

export interface TlsFilePaths {
  readonly certFile: string
  readonly keyFile: string
}

/** What is wrong with the pair; the message is the one line the CLI prints. */
export class TlsFilesError extends Data.TaggedError("TlsFilesError")<{
  readonly flag: "--tls-cert-file" | "--tls-private-key-file"
  readonly path: string
  readonly problem: "Unreadable" | "NotCertificate" | "NotPrivateKey" | "KeyMismatch"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.flag} ${this.path}: ${this.detail}`
  }
}

/** The fs error code (ENOENT...) in words; the code itself otherwise. */
const unreadable = (cause: unknown): string => {
  const code = Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined
  switch (code) {
    case "ENOENT":
      return "cannot read: no such file"
    case "EACCES":
    case "EPERM":
      return "cannot read: permission denied"
    case "EISDIR":
      return "cannot read: it is a directory"
    default:
      return `cannot read${code === undefined ? "" : ` (${code})`}`
  }
}

const read = (flag: TlsFilesError["flag"], path: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) => new TlsFilesError({ flag, path, problem: "Unreadable", detail: unreadable(cause) })
  })

/**
 * Both files as PEM text, checked: the certificate parses as X.509, the key as an unencrypted
 * private key, and the key is the certificate's. Fails with the first problem found.
 */
export const load = (
  paths: TlsFilePaths
): Effect.Effect<{ readonly cert: string; readonly key: string }, TlsFilesError> =>
  Effect.gen(function*() {
    const cert = yield* read("--tls-cert-file", paths.certFile)
    const key = yield* read("--tls-private-key-file", paths.keyFile)
    const certificate = yield* Effect.try({
      try: () => new X509Certificate(cert),
      catch: () =>
        new TlsFilesError({
          flag: "--tls-cert-file",
          path: paths.certFile,
          problem: "NotCertificate",
          detail: "not a PEM certificate (expected -----BEGIN CERTIFICATE-----)"
        })
    })
    const privateKey: KeyObject = yield* Effect.try({
      try: () => createPrivateKey(key),
      catch: () =>
        new TlsFilesError({
          flag: "--tls-private-key-file",
          path: paths.keyFile,
          problem: "NotPrivateKey",
          detail: "no private key in it (expected an unencrypted PEM key, -----BEGIN PRIVATE KEY----- or RSA/EC)"
        })
    })
    if (!certificate.checkPrivateKey(privateKey)) {
      return yield* new TlsFilesError({
        flag: "--tls-private-key-file",
        path: paths.keyFile,
        problem: "KeyMismatch",
        detail: `the key does not match the certificate in --tls-cert-file ${paths.certFile}`
      })
    }
    return { cert, key }
  })
