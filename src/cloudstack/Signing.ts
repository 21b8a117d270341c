/**
 * Request signing exactly as CloudStack's ApiServer.verifyRequest checks it (reference 1.3):
 * Java URLEncoder value encoding, names sorted in Java String order before lowercasing, HMAC-SHA1.
 * Pure: no clock, no I/O; the caller supplies `expires`.
 */
import { createHmac, timingSafeEqual } from "node:crypto"

/** Parameter map as sent on the wire: one value per name. */
export type Params = Readonly<Record<string, string>>

const JAVA_EXTRA = /[!'()~]/g
const extraEscape = (c: string): string => "%" + c.charCodeAt(0).toString(16).toUpperCase()

const utf8Encode = (value: string): string => {
  let out = ""
  for (const byte of new TextEncoder().encode(value)) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9.\-*_]/.test(c) ? c : "%" + byte.toString(16).toUpperCase().padStart(2, "0")
  }
  return out
}

/**
 * `java.net.URLEncoder.encode(v, "UTF-8")` with `+` replaced by `%20`: only `A-Z a-z 0-9 . - * _`
 * stay raw. Also the encoding to put values on the wire (a raw `+` would decode as a space).
 */
export const encodeValue = (value: string): string => {
  try {
    return encodeURIComponent(value).replace(JAVA_EXTRA, extraEscape)
  } catch {
    // lone surrogates: encodeURIComponent throws; TextEncoder substitutes U+FFFD like Java does '?'
    return utf8Encode(value)
  }
}

/** The lowercased canonical string the HMAC is computed over; `signature` (any case) is excluded. */
export const stringToSign = (params: Params): string =>
  Object.keys(params)
    .filter((name) => name.toLowerCase() !== "signature")
    .sort() // UTF-16 code-unit order = Java String.compareTo
    .map((name) => `${name}=${encodeValue(params[name] ?? "")}`)
    .join("&")
    .toLowerCase()

/** Base64 HMAC-SHA1 of {@link stringToSign} with the secret key. */
export const sign = (params: Params, secretKey: string): string =>
  createHmac("sha1", secretKey).update(stringToSign(params), "utf8").digest("base64")

/** Constant-time comparison of a supplied signature with the expected one (server side). */
export const verify = (params: Params, secretKey: string, signature: string): boolean => {
  const expected = Buffer.from(sign(params, secretKey))
  const given = Buffer.from(signature)
  return expected.length === given.length && timingSafeEqual(expected, given)
}

/** `yyyy-MM-ddTHH:mm:ss+0000`, the `expires` format every CloudStack release parses. */
export const formatExpires = (epochMillis: number): string =>
  new Date(epochMillis).toISOString().replace(/\.\d{3}Z$/, "+0000")

/** Encodes a parameter map as a query string / form body the server decodes back exactly. */
export const encodeQuery = (params: Params): string =>
  Object.keys(params)
    .map((name) => `${encodeValue(name)}=${encodeValue(params[name] ?? "")}`)
    .join("&")
