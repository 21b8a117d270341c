/**
 * Turns a raw HTTP answer into the object under the single top-level response key, or a classified
 * error (reference 2.1-2.2). Pure; never depends on the response key's name (createLBStickinessPolicy
 * answers under a non-standard key, unknown commands under `errorresponse`).
 */
import { Either, Predicate, Schema } from "effect"
import { CloudStackApiError, CloudStackUnexpectedBodyError } from "./CloudStackError.js"
import type { CloudStackRawResponse } from "./CloudStackTransport.js"
import * as Wire from "./Wire.js"

const PREFIX_LENGTH = 200

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

const unexpected = (command: string, raw: CloudStackRawResponse) =>
  new CloudStackUnexpectedBodyError({
    command,
    httpStatus: raw.status,
    contentType: raw.contentType,
    bodyPrefix: raw.body.slice(0, PREFIX_LENGTH)
  })

const parseJson = (body: string): Either.Either<unknown, void> => {
  try {
    return Either.right(JSON.parse(body))
  } catch {
    return Either.left(undefined)
  }
}

/**
 * Success: HTTP 200 and no `errorcode` inside; the inner object is returned undecoded.
 * Error envelope (any status, or `errorcode` present): `CloudStackApiError`.
 * Anything else (HTML, truncated JSON, several top-level keys, JSON from a proxy on a non-200
 * status): `CloudStackUnexpectedBodyError` with the first bytes for the operator.
 */
export const decode = (
  command: string,
  raw: CloudStackRawResponse
): Either.Either<Readonly<Record<string, unknown>>, CloudStackApiError | CloudStackUnexpectedBodyError> => {
  const parsed = parseJson(raw.body)
  if (Either.isLeft(parsed) || !Predicate.isRecord(parsed.right)) return Either.left(unexpected(command, raw))
  const keys = Object.keys(parsed.right)
  const inner = keys.length === 1 && keys[0] !== undefined ? parsed.right[keys[0]] : undefined
  if (!Predicate.isRecord(inner)) return Either.left(unexpected(command, raw))
  if (raw.status === 200 && !("errorcode" in inner)) return Either.right(inner)
  const error = decodeErrorBody(inner)
  if (Either.isLeft(error)) return Either.left(unexpected(command, raw))
  return Either.left(
    new CloudStackApiError({
      command,
      httpStatus: raw.status,
      errorCode: error.right.errorCode,
      csErrorCode: error.right.csErrorCode,
      errorText: error.right.errorText,
      uuidList: error.right.uuidList
    })
  )
}
