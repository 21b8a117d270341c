/**
 * One copy of equal text that many long-lived objects hold (a zone name in every cached VM or Node):
 * JSON.parse gives each object its own copy of every value longer than a few characters.
 */

/**
 * A function answering each distinct value with the first equal one it was handed, remembering at
 * most `max` values (past them a value comes back as it came). Its memory lives as long as it does.
 */
export const sharing = <S extends string>(max = Number.POSITIVE_INFINITY) => {
  const seen = new Map<S, S>()
  return (value: S): S => {
    const known = seen.get(value)
    if (known !== undefined) return known
    if (seen.size < max) seen.set(value, value)
    return value
  }
}
