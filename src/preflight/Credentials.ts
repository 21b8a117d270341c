/**
 * What a 401 from CloudStack means for the cloud-config's keys. CloudStack answers every
 * authentication failure alike, so the preflight gathers evidence (the server's clock, a request
 * without expiry, and a wrongly signed admin-only command, which a known non-admin key gets 432
 * for before the signature is checked) and this module names the credential to fix. Pure.
 */
import { Duration, Option } from "effect"
import { SIGNATURE_VALIDITY } from "../cloudstack/HttpTransport.js"
import * as GoDuration from "../config/GoDuration.js"

/** A command only root admins may run, known to every CloudStack since 4.17. */
export const ADMIN_ONLY_PROBE = "listManagementServersMetrics"

export interface AuthEvidence {
  /** HTTP status of a request signed without expiry, when one was sent. */
  readonly noExpiryStatus: Option.Option<number>
  /** HTTP status of ADMIN_ONLY_PROBE with a wrong signature, when one was sent. */
  readonly keyProbeStatus: Option.Option<number>
  /** The server's `Date` minus this machine's clock at sending, when the server sent a Date. */
  readonly serverAheadMillis: Option.Option<number>
}

/** The credential at fault, in one sentence an operator can act on. */
export const diagnose401 = (evidence: AuthEvidence): string => {
  const validity = Duration.toMillis(SIGNATURE_VALIDITY)
  if (Option.exists(evidence.serverAheadMillis, (ahead) => ahead > validity)) {
    const ahead = Option.getOrElse(evidence.serverAheadMillis, () => 0)
    return `the clock: the management server's clock is ${
      GoDuration.format(Duration.seconds(Math.round(ahead / 1000)))
    } ahead ` +
      `of this machine's, so the CCM's signed requests (valid ${
        GoDuration.format(SIGNATURE_VALIDITY)
      }) arrive expired; ` +
      "synchronise both clocks (NTP); the keys may well be right"
  }
  if (Option.contains(evidence.noExpiryStatus, 200)) {
    return "the clock: the keys are right (a request without expiry is accepted) but requests with an expiry are refused; " +
      "synchronise the clocks of this machine and the management server (NTP)"
  }
  if (Option.contains(evidence.keyProbeStatus, 432)) {
    return "secret-key: CloudStack knows the api-key (it belongs to an account that is not a root admin), " +
      "but the secret-key does not match it; copy the secret key of the same key pair"
  }
  return "api-key or secret-key: CloudStack does not say which; the api-key is unknown, or the secret-key does not " +
    "match it, or the user or account is disabled or has API key access turned off; compare both with the user's " +
    "keys (UI: the user's Generate/View API keys)"
}
