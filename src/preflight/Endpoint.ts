/**
 * The preflight's look at the API endpoint below HTTP: the host's addresses (DNS), a TCP
 * connection to its port, and for https the TLS handshake with the certificate and whether it
 * verifies (the handshake itself never refuses, so an untrusted certificate is still described).
 * Skipped when a proxy variable routes the API through a proxy. Owns sockets only for the probe.
 */
import { Clock, Duration, Effect, Option } from "effect"
import { lookup } from "node:dns/promises"
import { connect as tcpConnect, isIP } from "node:net"
import { connect as tlsConnect, type PeerCertificate } from "node:tls"

export type Outcome<A> =
  | { readonly _tag: "Ok"; readonly value: A }
  | { readonly _tag: "Failed"; readonly code: string; readonly detail: string }
  | { readonly _tag: "Skipped"; readonly why: string }

export interface TlsFacts {
  readonly protocol: string
  /** Whether the chain verifies against the trusted CAs and the name matches. */
  readonly verified: boolean
  /** Node's verification error code (e.g. DEPTH_ZERO_SELF_SIGNED_CERT) when it does not. */
  readonly verifyError: Option.Option<string>
  readonly subject: string
  readonly issuer: string
  readonly validTo: string
  readonly altNames: string
}

export interface EndpointFacts {
  readonly host: string
  readonly port: number
  readonly https: boolean
  /** The proxy the API goes through (credentials removed), from HTTPS_PROXY/HTTP_PROXY and NO_PROXY. */
  readonly proxy: Option.Option<string>
  readonly dns: Outcome<ReadonlyArray<string>>
  readonly tcp: Outcome<{ readonly address: string; readonly millis: number }>
  /** None for plain http. */
  readonly tls: Option.Option<Outcome<TlsFacts>>
}

const codeOf = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : "ERROR"

const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const failed = (cause: unknown): Outcome<never> => ({ _tag: "Failed", code: codeOf(cause), detail: messageOf(cause) })

const env = (name: string): string => process.env[name] ?? process.env[name.toLowerCase()] ?? ""

/** Whether NO_PROXY exempts `host` (`*`, exact names, `.suffix` or `suffix` domains), as undici reads it. */
export const noProxy = (host: string, value: string): boolean =>
  value.split(/[\s,]+/).filter((e) => e !== "").some((entry) => {
    if (entry === "*") return true
    const name = entry.replace(/^\*?\./, "").replace(/:\d+$/, "").toLowerCase()
    const h = host.toLowerCase()
    return h === name || h.endsWith(`.${name}`)
  })

/** The proxy URL (without credentials) the API requests take, if any. */
export const proxyFor = (
  url: URL,
  vars: { readonly https: string; readonly http: string; readonly noProxy: string }
): Option.Option<string> => {
  const raw = url.protocol === "https:" ? (vars.https !== "" ? vars.https : vars.http) : vars.http
  if (raw === "" || noProxy(url.hostname, vars.noProxy)) return Option.none()
  return Option.some(Option.match(Option.liftThrowable((u: string) => new URL(u))(raw), {
    onNone: () => raw.replace(/\/\/[^@/]*@/, "//"),
    onSome: (u) => `${u.protocol}//${u.host}`
  }))
}

const elapsed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const value = yield* effect
    return { value, millis: (yield* Clock.currentTimeMillis) - start }
  })

const resolveHost = (host: string): Effect.Effect<Outcome<ReadonlyArray<string>>> =>
  isIP(host) !== 0
    ? Effect.succeed({ _tag: "Skipped", why: "the api-url names an IP address" })
    : Effect.tryPromise({ try: () => lookup(host, { all: true }), catch: failed }).pipe(
      Effect.map((found): Outcome<ReadonlyArray<string>> => ({ _tag: "Ok", value: found.map((a) => a.address) })),
      Effect.merge
    )

const openTcp = (host: string, port: number) =>
  Effect.async<string, Outcome<never>>((resume) => {
    const socket = tcpConnect({ host, port })
    socket.once("connect", () => {
      const address = socket.remoteAddress ?? host
      socket.destroy()
      resume(Effect.succeed(address))
    })
    socket.once("error", (cause) => resume(Effect.fail(failed(cause))))
    return Effect.sync(() => socket.destroy())
  })

const name = (entity: PeerCertificate["subject"] | undefined): string =>
  entity === undefined ? "" : Object.entries(entity).map(([k, v]) => `${k}=${String(v)}`).join(", ")

const handshake = (host: string, port: number) =>
  Effect.async<TlsFacts, Outcome<never>>((resume) => {
    const socket = tlsConnect({
      host,
      port,
      servername: isIP(host) === 0 ? host : undefined,
      rejectUnauthorized: false
    })
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate()
      const error: unknown = socket.authorizationError
      const facts: TlsFacts = {
        protocol: socket.getProtocol() ?? "",
        verified: socket.authorized,
        verifyError: socket.authorized
          ? Option.none()
          : Option.some(
            error === null || error === undefined
              ? "UNVERIFIED"
              : codeOf(error) !== "ERROR"
              ? codeOf(error)
              : messageOf(error)
          ),
        subject: name(cert.subject),
        issuer: name(cert.issuer),
        validTo: cert.valid_to ?? "",
        altNames: cert.subjectaltname ?? ""
      }
      socket.destroy()
      resume(Effect.succeed(facts))
    })
    socket.once("error", (cause) => resume(Effect.fail(failed(cause))))
    return Effect.sync(() => socket.destroy())
  })

const timed = <A>(effect: Effect.Effect<A, Outcome<never>>, timeout: Duration.Duration) =>
  effect.pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: (): Outcome<never> => ({
        _tag: "Failed",
        code: "ETIMEDOUT",
        detail: `no answer within ${Duration.format(timeout)}`
      })
    })
  )

/** Probes `url` (the api-url); never fails: every problem is an outcome. */
export const probe = (url: URL, timeout: Duration.Duration): Effect.Effect<EndpointFacts> =>
  Effect.gen(function*() {
    const https = url.protocol === "https:"
    const host = url.hostname.replace(/^\[|\]$/g, "")
    const port = url.port === "" ? (https ? 443 : 80) : Number(url.port)
    const proxy = proxyFor(url, { https: env("HTTPS_PROXY"), http: env("HTTP_PROXY"), noProxy: env("NO_PROXY") })
    const base = { host, port, https, proxy }
    if (Option.isSome(proxy)) {
      const skipped = { _tag: "Skipped", why: `requests go through the proxy ${proxy.value}` } as const
      return { ...base, dns: skipped, tcp: skipped, tls: https ? Option.some(skipped) : Option.none() }
    }
    const dns = yield* resolveHost(host)
    const tcp = dns._tag === "Failed"
      ? { _tag: "Skipped", why: "the name does not resolve" } as const
      : yield* Effect.merge(
        Effect.map(
          elapsed(timed(openTcp(host, port), timeout)),
          ({ millis, value }): Outcome<{ readonly address: string; readonly millis: number }> => ({
            _tag: "Ok",
            value: { address: value, millis }
          })
        )
      )
    const tls = !https
      ? Option.none()
      : Option.some(
        tcp._tag !== "Ok"
          ? { _tag: "Skipped", why: "no TCP connection" } as const
          : yield* Effect.merge(
            Effect.map(timed(handshake(host, port), timeout), (value): Outcome<TlsFacts> => ({ _tag: "Ok", value }))
          )
      )
    return { ...base, dns, tcp, tls }
  })
