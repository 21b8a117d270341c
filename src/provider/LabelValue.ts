/**
 * Turns CloudStack names into Kubernetes label values, the way the Go CCM (v1.2.0) does where it
 * writes a valid value, so nodeSelectors and affinities keep matching after a migration. Pure.
 *
 * - Instance type (`instanceType`): the Go CCM deletes every match of its `labelInvalidCharsRegex`
 *   (kept verbatim below), i.e. every character outside `[A-Za-z0-9]`: "Small Instance" ->
 *   `SmallInstance`, "m1.small" -> `m1small`. It does not shorten the result; a value over 63
 *   characters makes its Node update fail (the Node stays uninitialised), so we cut at 63 instead.
 * - Zone and region (`sanitize`): the Go CCM writes the names as they are. A valid label value is
 *   kept unchanged here too; for an invalid one (where the Go CCM's update fails) characters outside
 *   `[A-Za-z0-9-_.]` become `_`, the edges `-_.` are trimmed, at most 63 characters.
 */
const INVALID = /[^A-Za-z0-9\-_.]/g
const EDGES = /^[-_.]+|[-_.]+$/g

/** apache/cloudstack-kubernetes-provider cloudstack_instances.go `labelInvalidCharsRegex` (per code point, as Go's runes). */
const GO_LABEL_INVALID_CHARS = /([^A-Za-z0-9][^-A-Za-z0-9_.]*)?[^A-Za-z0-9]/gu

export const MAX_LENGTH = 63

/** Zone/region: the value itself when valid, else sanitised; undefined when nothing valid is left. */
export const sanitize = (raw: string): string | undefined => {
  const value = raw.replace(INVALID, "_").replace(EDGES, "").slice(0, MAX_LENGTH).replace(EDGES, "")
  return value === "" ? undefined : value
}

/** The instance-type label of a service offering, as the Go CCM writes it; undefined when nothing is left. */
export const instanceType = (offering: string): string | undefined => {
  const value = offering.replace(GO_LABEL_INVALID_CHARS, "").slice(0, MAX_LENGTH)
  return value === "" ? undefined : value
}

/** Whether a string is already a valid label value (what `sanitize` and `instanceType` guarantee). */
export const isValid = (value: string): boolean =>
  value.length <= MAX_LENGTH && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(value)
