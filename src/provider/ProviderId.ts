/**
 * Node `spec.providerID` codec. Written in the configured provider's format (upstream
 * `external-cloudstack://<uuid>`, fork/CAPC `cloudstack:///<uuid>`), parsed in every known form so
 * clusters initialised by either Go CCM are adopted. Pure.
 */
import { Data, Either } from "effect"

export type ProviderName = "external-cloudstack" | "cloudstack"

export const providerNames: ReadonlyArray<ProviderName> = ["external-cloudstack", "cloudstack"]

export interface ParsedProviderId {
  readonly vmId: string
  /** Only the fork's `cloudstack://<region>/<id>` form carries one. */
  readonly region: string | undefined
}

export class ProviderIdError extends Data.TaggedError("ProviderIdError")<{
  readonly providerId: string
  readonly reason: "Empty" | "ForeignProvider" | "Malformed"
}> {
  override get message(): string {
    switch (this.reason) {
      case "Empty":
        return "providerID is empty"
      case "ForeignProvider":
        return `providerID ${JSON.stringify(this.providerId)} belongs to another cloud provider`
      case "Malformed":
        return `providerID ${
          JSON.stringify(this.providerId)
        } is not external-cloudstack://<id>, cloudstack:///<id>, cloudstack://<region>/<id> or a bare id`
    }
  }
}

const ID = /^[^/\s]+$/

/** The providerID this CCM writes for a VM. */
export const format = (provider: ProviderName, vmId: string): string =>
  provider === "cloudstack" ? `cloudstack:///${vmId}` : `external-cloudstack://${vmId}`

/**
 * Parses `external-cloudstack://<id>`, `cloudstack:///<id>`, `cloudstack://<region>/<id>` and a bare
 * `<id>` (upstream treats a value without `://` as the id). Any other scheme is ForeignProvider.
 */
export const parse = (providerId: string): Either.Either<ParsedProviderId, ProviderIdError> => {
  const fail = (reason: ProviderIdError["reason"]) => Either.left(new ProviderIdError({ providerId, reason }))
  const value = providerId.trim()
  if (value === "") return fail("Empty")
  const sep = value.indexOf("://")
  if (sep < 0) return ID.test(value) ? Either.right({ vmId: value, region: undefined }) : fail("Malformed")
  const scheme = value.slice(0, sep)
  const rest = value.slice(sep + 3)
  if (scheme === "external-cloudstack") {
    // upstream writes two slashes; tolerate the three-slash spelling too
    const id = rest.startsWith("/") ? rest.slice(1) : rest
    return ID.test(id) ? Either.right({ vmId: id, region: undefined }) : fail("Malformed")
  }
  if (scheme === "cloudstack") {
    const slash = rest.indexOf("/")
    if (slash < 0) return ID.test(rest) ? Either.right({ vmId: rest, region: undefined }) : fail("Malformed")
    const region = rest.slice(0, slash)
    const id = rest.slice(slash + 1)
    if (!ID.test(id) || region.includes("/")) return fail("Malformed")
    return Either.right({ vmId: id, region: region === "" ? undefined : region })
  }
  return fail("ForeignProvider")
}
