/**
 * The shell commands the documentation shows, read from README.md and docs/*.md, so a test can run
 * every one. Pure: markdown text in, blocks out.
 *
 * - A ```sh (or bash, shell) fence is a command block, run as one bash script in a sandbox shared
 *   by the blocks of its file, in order.
 * - Its first line may say how: `# not run: <reason>` (never run; the reason is required),
 *   `# exit <N>: <reason>` (run, must exit N), `# serves until stopped: <reason>` (each command on
 *   its own: started, waited for until it says it listens, then SIGTERM, which must exit 0).
 * - `<!-- file: NAME -->` on the line before any fence writes that block's text to NAME in the
 *   sandbox before the file's commands run (e.g. the scenario a command names).
 * - Other fences (yaml, ini, ts, console, text) are never run.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

export const repo = join(import.meta.dirname, "..", "..")

export type Mode =
  | { readonly _tag: "Run"; readonly exitCode: number }
  | { readonly _tag: "NotRun"; readonly reason: string }
  | { readonly _tag: "Serves" }

export interface CommandBlock {
  readonly doc: string
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly script: string
  readonly mode: Mode
}

export interface FileBlock {
  readonly doc: string
  readonly name: string
  readonly content: string
}

export interface DocBlocks {
  readonly commands: ReadonlyArray<CommandBlock>
  readonly files: ReadonlyArray<FileBlock>
  readonly problems: ReadonlyArray<string>
}

const SHELL = new Set(["sh", "bash", "shell"])
const FENCE = /^```\s*([A-Za-z0-9_-]*)\s*$/
const FILE_MARK = /^<!--\s*file:\s*(\S+)\s*-->$/

const modeOf = (first: string): Mode | string => {
  const notRun = /^#\s*not run:\s*(.*)$/.exec(first)
  if (notRun) {
    return (notRun[1] ?? "").trim() === ""
      ? "`# not run:` without a reason"
      : { _tag: "NotRun", reason: (notRun[1] ?? "").trim() }
  }
  const exit = /^#\s*exit (\d+)(.*)$/.exec(first)
  if (exit) {
    return /^:\s*\S/.test(exit[2] ?? "")
      ? { _tag: "Run", exitCode: Number(exit[1]) }
      : `\`# exit ${exit[1]}\` without \`: <reason>\``
  }
  if (/^#\s*serves until stopped:/.test(first)) return { _tag: "Serves" }
  return { _tag: "Run", exitCode: 0 }
}

/** The blocks of one markdown text; `doc` names it in messages. */
export const parse = (doc: string, text: string): DocBlocks => {
  const lines = text.split("\n")
  const commands: Array<CommandBlock> = []
  const files: Array<FileBlock> = []
  const problems: Array<string> = []
  let i = 0
  while (i < lines.length) {
    const open = FENCE.exec(lines[i] ?? "")
    if (!open) {
      i++
      continue
    }
    const start = i
    const lang = open[1] ?? ""
    let end = i + 1
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? "")) end++
    if (end >= lines.length) {
      problems.push(`${doc}:${start + 1}: unclosed fence`)
      break
    }
    const body = lines.slice(start + 1, end)
    const fileMark = FILE_MARK.exec(lines[start - 1] ?? "")
    if (fileMark) files.push({ doc, name: fileMark[1] ?? "", content: body.join("\n") + "\n" })
    if (SHELL.has(lang)) {
      const mode = modeOf(body[0] ?? "")
      if (typeof mode === "string") problems.push(`${doc}:${start + 1}: ${mode}`)
      else commands.push({ doc, line: start + 1, script: body.join("\n") + "\n", mode })
    }
    i = end + 1
  }
  return { commands, files, problems }
}

/** The documents whose commands are run: README.md and every docs/*.md, as paths relative to the repo. */
export const documents = (root: string = repo): ReadonlyArray<string> => [
  "README.md",
  ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)
]

export const readAll = (root: string = repo): DocBlocks => {
  const all = documents(root).map((doc) => parse(doc, readFileSync(join(root, doc), "utf8")))
  return {
    commands: all.flatMap((d) => d.commands),
    files: all.flatMap((d) => d.files),
    problems: all.flatMap((d) => d.problems)
  }
}

/** The commands of a `Serves` block: comment lines dropped, `\` continuations joined. */
export const servedCommands = (script: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let current = ""
  for (const line of script.split("\n")) {
    if (current === "" && (line.trim() === "" || line.trim().startsWith("#"))) continue
    if (line.endsWith("\\")) {
      current += line.slice(0, -1)
      continue
    }
    out.push((current + line).trim())
    current = ""
  }
  return out
}
