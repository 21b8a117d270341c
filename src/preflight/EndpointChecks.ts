/**
 * The endpoint part of the preflight as checks: DNS, TCP and TLS from the socket probes, then the
 * first HTTP exchange (a signed listApis) judged from its raw answer: not CloudStack at all, an
 * error of the server, a 401 for the keys, or an answer. Pure.
 */
import { Either, Option } from "effect"
import type {
  CloudStackApiError,
  CloudStackTransportError,
  CloudStackUnexpectedBodyError
} from "../cloudstack/CloudStackError.js"
import { type Check, check } from "./Check.js"
import type { EndpointFacts, Outcome, TlsFacts } from "./Endpoint.js"

const skipped = (id: string, outcome: Outcome<unknown>) =>
  outcome._tag === "Skipped" ? [check(id, "skip", outcome.why)] : []

const tlsCheck = (tls: Outcome<TlsFacts>, sslNoVerify: boolean): Check => {
  if (tls._tag === "Skipped") return check("endpoint.tls", "skip", tls.why)
  if (tls._tag === "Failed") {
    return check("endpoint.tls", "fail", `the TLS handshake failed: ${tls.code}: ${tls.detail}`)
  }
  const f = tls.value
  const cert = `subject ${f.subject}; issuer ${f.issuer}; valid until ${f.validTo}${
    f.altNames === "" ? "" : `; ${f.altNames}`
  }`
  if (f.verified) return check("endpoint.tls", "ok", `${f.protocol}, certificate verified (${cert})`)
  const why = Option.getOrElse(f.verifyError, () => "UNVERIFIED")
  return sslNoVerify
    ? check(
      "endpoint.tls",
      "warn",
      `${f.protocol}, certificate NOT verified (${why}) and accepted because ssl-no-verify is set (${cert})`
    )
    : check(
      "endpoint.tls",
      "fail",
      `${f.protocol}, certificate not trusted: ${why} (${cert}); trust its CA (e.g. NODE_EXTRA_CA_CERTS=/path/ca.pem) or set ssl-no-verify = true`
    )
}

/** The DNS, TCP and TLS checks, and whether an HTTP request can be tried at all (else why not). */
export const socketChecks = (
  facts: EndpointFacts,
  sslNoVerify: boolean
): { readonly checks: ReadonlyArray<Check>; readonly blocked: Option.Option<string> } => {
  const dns: ReadonlyArray<Check> = facts.dns._tag === "Ok"
    ? [check("endpoint.dns", "ok", `${facts.host}: ${facts.dns.value.join(", ")}`)]
    : facts.dns._tag === "Failed"
    ? [check("endpoint.dns", "fail", `${facts.host} does not resolve: ${facts.dns.code}`)]
    : skipped("endpoint.dns", facts.dns)
  const tcp: ReadonlyArray<Check> = facts.tcp._tag === "Ok"
    ? [
      check(
        "endpoint.tcp",
        "ok",
        `connected to ${facts.tcp.value.address} port ${facts.port} in ${facts.tcp.value.millis} ms`
      )
    ]
    : facts.tcp._tag === "Failed"
    ? [
      check(
        "endpoint.tcp",
        "fail",
        `cannot connect to ${facts.host} port ${facts.port}: ${facts.tcp.code}: ${facts.tcp.detail}`
      )
    ]
    : skipped("endpoint.tcp", facts.tcp)
  const tls: ReadonlyArray<Check> = Option.match(facts.tls, {
    onNone: () => [check("endpoint.tls", "note", "plain http: the requests (not the secret key) travel unencrypted")],
    onSome: (t) => [tlsCheck(t, sslNoVerify)]
  })
  const checks = [...dns, ...tcp, ...tls]
  const blocked = facts.dns._tag === "Failed" || facts.tcp._tag === "Failed"
    ? Option.some("no TCP connection")
    : checks.some((c) => c.id === "endpoint.tls" && c.level === "fail")
    ? Option.some("the TLS check failed")
    : Option.none()
  return { checks, blocked }
}

export type FirstAnswer = Either.Either<
  { readonly millis: number; readonly inner: Readonly<Record<string, unknown>> },
  CloudStackTransportError | CloudStackUnexpectedBodyError | CloudStackApiError
>

/**
 * The `http` check of the first signed request. An API error answer is still CloudStack answering
 * (HTTP ok); an unavailable one (534, 502-504) fails, since the CCM cannot work against it.
 */
export const httpCheck = (first: FirstAnswer): Check =>
  Either.match(first, {
    onRight: ({ millis }) => check("http", "ok", `CloudStack answered listApis in ${millis} ms`),
    onLeft: (error) => {
      switch (error._tag) {
        case "CloudStackTransportError":
          return check("http", "fail", `no HTTP answer: ${error.reason.toLowerCase()} error: ${error.detail}`)
        case "CloudStackUnexpectedBodyError":
          return check(
            "http",
            "fail",
            `HTTP ${error.httpStatus} (${error.contentType || "no content type"}) is not a CloudStack API answer: ` +
              `${JSON.stringify(error.bodyPrefix.slice(0, 120))}; check api-url (it usually ends in /client/api)`
          )
        case "CloudStackApiError":
          return error.errorClass === "unavailable"
            ? check("http", "fail", `CloudStack is unavailable (HTTP ${error.httpStatus}): ${error.errorText}`)
            : check("http", "ok", `CloudStack answered (HTTP ${error.httpStatus} to listApis)`)
      }
    }
  })
