/**
 * Turns a raw HTTP answer into the object under CloudStack's envelope key for the command, or a
 * classified error (reference 2.1-2.2). Pure. An answer counts only under the command's own key
 * (`ResponseKey.accepted`), or `errorresponse` for the 401/432 errors that use it: any other JSON
 * (a proxy's, a health endpoint's) is an unexpected body, never an answer. Every foreign text an
 * error carries is redacted first.
 */
import { Either, Predicate, Schema } from "effect"
import { CloudStackApiError, CloudStackUnexpectedBodyError } from "./CloudStackError.js"
import type { CloudStackRawResponse } from "./CloudStackTransport.js"
import * as ListSkim from "./ListSkim.js"
import * as Redact from "./Redact.js"
import * as ResponseKey from "./ResponseKey.js"
import * as Wire from "./Wire.js"

const PREFIX_LENGTH = 200
/** How much of a body is redacted to build the prefix: a secret cut at PREFIX_LENGTH is still whole. */
const REDACT_WINDOW = 4096

/** The error codes CloudStack sends under `errorresponse` (unknown command: 401; 432 UNSUPPORTED_ACTION). */
const ERROR_RESPONSE_CODES: ReadonlySet<number> = new Set([401, 432])

const ErrorBody = Schema.Struct({
  errorCode: Wire.required("errorcode", Schema.Int),
  csErrorCode: Wire.optional("cserrorcode", Schema.Int),
  errorText: Schema.optionalWith(Schema.String, { default: () => "" }).pipe(Schema.fromKey("errortext")),
  uuidList: Schema.optionalWith(
    Schema.Array(Schema.Struct({ uuid: Schema.String, description: Schema.optional(Schema.String) })),
    { default: () => [] }
  )
})
const decodeErrorBody = Schema.decodeUnknownEither(ErrorBody)

const unexpected = (command: string, raw: CloudStackRawResponse, redact: Redact.Redactor) =>
  new CloudStackUnexpectedBodyError({
    command,
    httpStatus: raw.status,
    contentType: redact(raw.contentType),
    bodyPrefix: redact(raw.body.slice(0, REDACT_WINDOW)).slice(0, PREFIX_LENGTH)
  })

const parseJson = (body: string): Either.Either<unknown, void> => {
  try {
    return Either.right(JSON.parse(body))
  } catch {
    return Either.left(undefined)
  }
}

/** The single top-level key and its object, if the body was one such JSON object. */
const envelopeOf = (
  parsed: Either.Either<unknown, void>
): { readonly key: string; readonly inner: Readonly<Record<string, unknown>> } | undefined => {
  if (Either.isLeft(parsed) || !Predicate.isRecord(parsed.right)) return undefined
  const keys = Object.keys(parsed.right)
  const key = keys.length === 1 ? keys[0] : undefined
  if (key === undefined) return undefined
  const inner = parsed.right[key]
  return Predicate.isRecord(inner) ? { key, inner } : undefined
}

/** The body's JSON value: read by the transport as it arrived (`skimmed`), skimmed from the text, or parsed. */
const valueOf = (raw: CloudStackRawResponse, skim: ListSkim.Skim | undefined): Either.Either<unknown, void> => {
  const read = raw.skimmed ?? (skim === undefined ? undefined : ListSkim.text(raw.body, skim))
  if (read === undefined) return parseJson(raw.body)
  return read.json ? Either.right(read.value) : Either.left(undefined)
}

/**
 * Success: HTTP 200, the command's envelope key and no `errorcode` inside; the inner object is
 * returned undecoded. Error envelope (the command's key on any status or with `errorcode`, or
 * `errorresponse` with errorcode 401/432): `CloudStackApiError`. Anything else (HTML, truncated
 * JSON, an empty body, several top-level keys, another key, JSON from a proxy on a non-200
 * status): `CloudStackUnexpectedBodyError` with the first bytes for the operator. `secrets` (the
 * configured keys, the request's signature) are redacted from every text an error carries. With
 * `skim` (or an answer the transport read so), the items of a list keep only the fields asked for;
 * everything else is the same.
 */
export const decode = (
  command: string,
  raw: CloudStackRawResponse,
  secrets: ReadonlyArray<string>,
  skim?: ListSkim.Skim
): Either.Either<Readonly<Record<string, unknown>>, CloudStackApiError | CloudStackUnexpectedBodyError> => {
  const envelope = envelopeOf(valueOf(raw, skim))
  const ours = envelope !== undefined && ResponseKey.accepted(command).includes(envelope.key)
  if (ours && raw.status === 200 && !("errorcode" in envelope.inner)) return Either.right(envelope.inner)
  const redact = Redact.make(secrets)
  if (envelope === undefined || (!ours && envelope.key !== ResponseKey.ERROR_RESPONSE_KEY)) {
    return Either.left(unexpected(command, raw, redact))
  }
  const error = decodeErrorBody(envelope.inner)
  if (Either.isLeft(error) || (!ours && !ERROR_RESPONSE_CODES.has(error.right.errorCode))) {
    return Either.left(unexpected(command, raw, redact))
  }
  return Either.left(
    new CloudStackApiError({
      command,
      httpStatus: raw.status,
      errorCode: error.right.errorCode,
      csErrorCode: error.right.csErrorCode,
      errorText: redact(error.right.errorText),
      uuidList: error.right.uuidList.map((u) => ({
        uuid: redact(u.uuid),
        ...(u.description === undefined ? {} : { description: redact(u.description) })
      }))
    })
  )
}
