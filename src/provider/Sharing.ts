/**
 * One copy of equal values that many long-lived objects hold (a zone name in every cached VM or
 * Node, the same labels on every Node): JSON.parse gives each object its own copy of every value
 * longer than a few characters, and of every object.
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

/**
 * A function answering each value with the first one it was handed under the same key (`key` must
 * tell equal values apart from the others), remembering at most `max` keys. Values must be immutable:
 * they end up shared.
 */
export const sharingBy = <A>(max = Number.POSITIVE_INFINITY) => {
  const seen = new Map<string, A>()
  return (key: string, value: A): A => {
    const known = seen.get(key)
    if (known !== undefined) return known
    if (seen.size < max) seen.set(key, value)
    return value
  }
}
