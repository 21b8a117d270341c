/**
 * Turns CloudStack names (offerings, zones, regions) into valid Kubernetes label values: characters
 * outside `[A-Za-z0-9-_.]` become `_`, leading/trailing `-_.` are trimmed, at most 63 characters.
 * Pure. (Upstream deletes such characters instead, merging words: "m1.small" -> "m1small".)
 */
const INVALID = /[^A-Za-z0-9\-_.]/g
const EDGES = /^[-_.]+|[-_.]+$/g

export const MAX_LENGTH = 63

/** The sanitised value, or undefined when nothing valid is left (the label is then not set). */
export const sanitize = (raw: string): string | undefined => {
  const value = raw.replace(INVALID, "_").replace(EDGES, "").slice(0, MAX_LENGTH).replace(EDGES, "")
  return value === "" ? undefined : value
}

/** Whether a string is already a valid label value (what `sanitize` guarantees for its output). */
export const isValid = (value: string): boolean =>
  value.length <= MAX_LENGTH && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(value)
