/**
 * The preflight's unit of judgement: a check with a level and what was found. `fail` means the CCM
 * cannot do its job (the command exits 1); `warn` is a problem for some Services or Nodes; `note`
 * is worth knowing; `skip` was not checked (and says why). Pure data.
 */

export type Level = "ok" | "note" | "warn" | "fail" | "skip"

export interface Finding {
  readonly level: Level
  readonly text: string
}

export interface Check extends Finding {
  /** Stable id, also the JSON key: `endpoint.dns`, `credentials`, `permissions.loadBalancers`, `zone`... */
  readonly id: string
}

export const check = (id: string, level: Level, text: string): Check => ({ id, level, text })
