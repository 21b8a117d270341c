/**
 * What CloudStack's ApiServlet/ApiServer.verifyRequest do with a raw request before any command
 * runs (reference 1.2, 1.3, 1.6, 1.7): parameter decoding and merging, signature and `expires`
 * checks, the 401 answer, and rendering answers as JSON or minimal XML. Pure: no clock, no I/O.
 */
import { Data, Option } from "effect"
import * as Signing from "../../cloudstack/Signing.js"
import { responseKey } from "./Fail.js"

/** Decoded request parameters, one value per name, names exactly as sent. */
export type RawParams = Readonly<Record<string, string>>

/**
 * Merges the query string and an `application/x-www-form-urlencoded` body the way the servlet
 * does: values are URL-decoded (`+` is a space); the form keeps a name's first occurrence, then
 * `utf8Fixup` writes every query parameter over it, the last occurrence winning.
 */
export const parseParams = (query: string, form: string): RawParams => {
  const params: Record<string, string> = {}
  for (const [name, value] of new URLSearchParams(form)) {
    if (!Object.hasOwn(params, name)) params[name] = value
  }
  for (const [name, value] of new URLSearchParams(query)) params[name] = value
  return params
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(.*)$/

/** Offset suffixes each accepted format allows, keyed by whether a fraction is present (1.6). */
const offsetMinutes = (suffix: string, fraction: string | undefined): Option.Option<number> => {
  const plain = fraction === undefined
  const sixDigits = fraction !== undefined && fraction.length === 6
  // ISO_OFFSET_DATE_TIME / ISO_INSTANT (any fraction): Z, +HH:MM; legacy `ss'Z'Z`: Z+HHMM
  // `ssZ` and `.SSSSSSZ`: +HHMM; `.SSSSSSX`: Z, +HH, +HHMM; `.SSSSSS'Z'`: Z
  if (suffix === "Z") return Option.some(0)
  const colon = /^([+-])(\d{2}):(\d{2})$/.exec(suffix)
  if (colon) return signed(colon[1], colon[2], colon[3])
  const compact = /^([+-])(\d{2})(\d{2})$/.exec(suffix)
  if (compact && (plain || sixDigits)) return signed(compact[1], compact[2], compact[3])
  const hours = /^([+-])(\d{2})$/.exec(suffix)
  if (hours && sixDigits) return signed(hours[1], hours[2], "00")
  const legacy = /^Z([+-])(\d{2})(\d{2})$/.exec(suffix)
  if (legacy && plain) return signed(legacy[1], legacy[2], legacy[3])
  return Option.none()
}

const signed = (sign: string | undefined, hh: string | undefined, mm: string | undefined): Option.Option<number> => {
  const h = Number(hh)
  const m = Number(mm)
  if (h > 18 || m > 59) return Option.none()
  return Option.some((sign === "-" ? -1 : 1) * (h * 60 + m))
}

/**
 * Parses an `expires` value in the formats DateUtil.parseTZDateString accepts (reference 1.6):
 * `2030-01-01T00:00:00+0000`, `…Z`, `…+00:00`, fractions, the legacy `…Z+0000`. Calendar fields
 * are checked strictly (no 30 February). Returns epoch milliseconds.
 */
export const parseExpires = (value: string): Option.Option<number> => {
  const m = DATE_TIME.exec(value)
  if (!m) return Option.none()
  const [, y, mo, d, h, mi, s, fraction, suffix] = m
  const offset = offsetMinutes(suffix ?? "", fraction)
  if (Option.isNone(offset)) return offset
  const fields = [y, mo, d, h, mi, s].map(Number)
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return Option.none()
  if (day < 1 || day > daysInMonth(year, month)) return Option.none()
  const utc = Date.UTC(year, month - 1, day, hour, minute, second)
  const millis = Math.floor(Number(`0.${fraction ?? "0"}`) * 1000)
  return Option.some(utc + millis - offset.value * 60_000)
}

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
    : [4, 6, 9, 11].includes(month)
    ? 30
    : 31

/** Why a request got the 401 answer; all of them look the same on the wire (reference 1.7). */
export type RejectReason =
  | "MissingCommand"
  | "MissingCredentials"
  | "ExpiresMissing"
  | "ExpiresUnparseable"
  | "Expired"
  | "UnknownApiKey"
  | "UnknownCommand"
  | "BadSignature"

export type Verdict = Data.TaggedEnum<{
  /** Authenticated: `params` are what the command sees (see {@link commandParams}). */
  Accepted: { readonly command: string; readonly apiKey: string; readonly params: RawParams }
  Rejected: { readonly reason: RejectReason }
  /**
   * A known key whose role may not run the command: the server answers 432 before it checks the
   * signature (ApiServer.verifyRequest calls commandAvailable first).
   */
  Unavailable: { readonly command: string }
}>
export const Verdict = Data.taggedEnum<Verdict>()

/** What the verifier needs to know about the server: the clock reading, the key pair and its commands. */
export interface VerifyContext {
  /** The server's "now", epoch milliseconds (the simulator's Clock). */
  readonly now: number
  /** The secret of the request's {@link apiKeyOf}, if such a user exists. */
  readonly secretKey: Option.Option<string>
  readonly isCommand: (command: string) => boolean
  /** Whether the key's role may run a command (only asked for a known key and command). */
  readonly isAllowed: (command: string) => boolean
}

interface AuthParams {
  apiKey?: string
  signature?: string
  version?: string
  expires?: string
}

/** The authentication parameters, names in any case; the last in sorted name order wins, as in the server's loop. */
const authParams = (params: RawParams): AuthParams => {
  const auth: AuthParams = {}
  for (const name of Object.keys(params).sort()) {
    const value = params[name]
    if (value === undefined) continue
    switch (name.toLowerCase()) {
      case "signature":
        auth.signature = value
        break
      case "apikey":
        auth.apiKey = value
        break
      case "signatureversion":
        auth.version = value
        break
      case "expires":
        auth.expires = value
        break
    }
  }
  return auth
}

/** The api key the request presents (`apiKey` in any case), to look its secret up. */
export const apiKeyOf = (params: RawParams): string | undefined => authParams(params).apiKey

const CONTROL = new Set(["apikey", "signature", "signatureversion", "expires"])

/**
 * The parameters a command receives: names lowercased (ParamUnpackWorker does so), without
 * `command`, `response` and the authentication parameters `apiKey`, `signature`,
 * `signatureVersion` and `expires` (any case).
 */
export const commandParams = (params: RawParams): RawParams => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(params)) {
    const lower = name.toLowerCase()
    if (name === "command" || name === "response" || CONTROL.has(lower)) continue
    out[lower] = value
  }
  return out
}

/**
 * ApiServer.verifyRequest: `command` present; `apiKey` and `signature` present (names in any case,
 * the last in sorted name order winning, as the server's loop does); with signatureVersion exactly
 * "3" an `expires` that parses and is not before `now`; a known key; a known command; a command the
 * key's role may run (else Unavailable, whatever the signature); and the HMAC over all parameters
 * but `signature`, compared in constant time.
 */
export const verify = (params: RawParams, ctx: VerifyContext): Verdict => {
  const command = params["command"]
  if (command === undefined) return Verdict.Rejected({ reason: "MissingCommand" })
  const { apiKey, expires, signature, version } = authParams(params)
  if (apiKey === undefined || signature === undefined) return Verdict.Rejected({ reason: "MissingCredentials" })
  if (version === "3") {
    if (expires === undefined) return Verdict.Rejected({ reason: "ExpiresMissing" })
    const at = parseExpires(expires)
    if (Option.isNone(at)) return Verdict.Rejected({ reason: "ExpiresUnparseable" })
    if (at.value < ctx.now) return Verdict.Rejected({ reason: "Expired" })
  }
  if (Option.isNone(ctx.secretKey)) return Verdict.Rejected({ reason: "UnknownApiKey" })
  if (!ctx.isCommand(command)) return Verdict.Rejected({ reason: "UnknownCommand" })
  if (!ctx.isAllowed(command)) return Verdict.Unavailable({ command })
  if (!Signing.verify(params, ctx.secretKey.value, signature)) return Verdict.Rejected({ reason: "BadSignature" })
  return Verdict.Accepted({ command, apiKey, params: commandParams(params) })
}

/** `response=json` (value in any case) selects JSON; absent or anything else means XML (1.2). */
export const wantsJson = (params: RawParams): boolean => params["response"]?.toLowerCase() === "json"

export const UNAUTHORIZED_TEXT = "unable to verify user credentials and/or request signature"

/**
 * The 401's outer key: the command's response name when it exists (the engine's, so a command's
 * answers all share one key), else `errorresponse` (1.7).
 */
export const rejectionKey = (params: RawParams, isCommand: (command: string) => boolean): string => {
  const command = params["command"]
  return command !== undefined && isCommand(command) ? responseKey(command) : "errorresponse"
}

/** The 401 body: no `cserrorcode`; key `<command>response` for a known command, else `errorresponse`. */
export const unauthorizedBody = (responseKey: string): Record<string, unknown> => ({
  [responseKey]: { uuidList: [], errorcode: 401, errortext: UNAUTHORIZED_TEXT }
})

export const JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
export const XML_CONTENT_TYPE = "text/xml; charset=UTF-8"

const escapeXml = (text: string): string => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)

const xmlElement = (name: string, value: unknown): string => {
  if (Array.isArray(value)) return value.map((item) => xmlElement(name, item)).join("")
  if (value !== null && typeof value === "object") {
    return `<${name}>${Object.entries(value).map(([k, v]) => xmlElement(k, v)).join("")}</${name}>`
  }
  if (value === null || value === undefined) return ""
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

/**
 * Minimal XML rendering of a JSON answer, shaped like the real XML serializer: the response key
 * is the root element, objects nest, arrays repeat their element name. Good enough for clients
 * that only check status and element names; the simulator's first-class format is JSON.
 */
export const renderXml = (body: Record<string, unknown>): string =>
  `<?xml version="1.0" encoding="UTF-8"?>` +
  Object.entries(body).map(([k, v]) => xmlElement(k, v)).join("")
