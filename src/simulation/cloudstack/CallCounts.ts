/**
 * Reading the simulator's call counters (`CloudStackSimulator.counters`: calls by command) the way
 * tests, benchmarks and the chaos suite measure a CCM: what changed since a mark, and which calls
 * change CloudStack. Pure.
 */

/** Reads and job polls change nothing; every other command does. */
export const isMutation = (command: string): boolean => !command.startsWith("list") && command !== "queryAsyncJobResult"

/** Calls by command since `mark` (both counter snapshots), the commands with any, sorted by name. */
export const since = (
  mark: ReadonlyMap<string, number>,
  now: ReadonlyMap<string, number>
): ReadonlyArray<readonly [string, number]> =>
  [...now].map(([command, n]) => [command, n - (mark.get(command) ?? 0)] as const).filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** The sum of calls in `counts`, of every command or only of those `which` selects. */
export const total = (
  counts: Iterable<readonly [string, number]>,
  which: (command: string) => boolean = () => true
): number => {
  let sum = 0
  for (const [command, n] of counts) if (which(command)) sum += n
  return sum
}
