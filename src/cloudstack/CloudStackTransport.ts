/**
 * The seam between the typed client and whatever answers CloudStack API calls: the live HTTP
 * transport (signs and sends) or the in-memory simulator. It moves raw answers only; decoding,
 * error classification, retries and job polling live above it in CloudStackClient.
 */
import { Context, type Effect } from "effect"
import type { CloudStackTransportError } from "./CloudStackError.js"
import type { Skim, Skimmed } from "./ListSkim.js"

export interface CloudStackRequest {
  readonly command: string
  /** Command parameters without command/apiKey/response/signature: the transport adds those. */
  readonly params: Readonly<Record<string, string>>
  /** GET for reads, POST form for mutations. */
  readonly method: "GET" | "POST"
  /** A list read for some fields of its items: a transport that streams may read it so as it arrives. */
  readonly skim?: Skim | undefined
}

export interface CloudStackRawResponse {
  readonly status: number
  readonly contentType: string
  /** The answer's text; with `skimmed`, its first bytes only. */
  readonly body: string
  /** The answer as ListSkim read it while it arrived (a request with `skim`). */
  readonly skimmed?: Skimmed | undefined
  /** The request's signature, when it was signed: redacted, like the keys, from errors built from this answer. */
  readonly signature?: string | undefined
}

export class CloudStackTransport extends Context.Tag("cloudstack-ccm/cloudstack/CloudStackTransport")<
  CloudStackTransport,
  {
    readonly send: (request: CloudStackRequest) => Effect.Effect<CloudStackRawResponse, CloudStackTransportError>
  }
>() {}
