/**
 * Generic gcfg (gopkg.in/gcfg.v1, scanner.go/read.go) tokenizing: INI text -> sections and entries
 * with their lines, every syntax error collected. Pure; knows no cloud-config key.
 *
 * Why a hand-written tokenizer and not the `ini` package: `ini` keeps no line numbers, treats
 * `key` without `=` as a string, knows no gcfg escapes or `\` line continuations and silently
 * accepts garbage lines, while compatibility with the upstream CCM (gcfg) and line-numbered errors
 * are required. The rules:
 * - `[section]` and `key = value` lines; names are case-insensitive, start with a letter and
 *   contain letters, digits, `-` and `_`; `[sec "sub"]` subsections are not used by the CCM.
 * - `;` and `#` start a comment, also right after an unquoted value (`key = a # note` is `a`).
 * - A value is trimmed; quoted parts (`"..."`) keep spaces, `;` and `#` and understand the escapes
 *   `\"`, `\\`, `\n`, `\t`; outside quotes a `\` must end the line and continues the value.
 * - `key` alone (no `=`) is the gcfg "blank" value; `key =` is an empty value.
 * Text that may be a secret (a line starting like key material) is never quoted in an issue.
 */
import { Option } from "effect"
import { ConfigIssue, echo, hidden, looksLikeSecret } from "./CloudConfigError.js"

/** A `[name]` or `[name "sub"]` header. */
export interface IniSection {
  readonly name: string
  readonly subsection: Option.Option<string>
  readonly line: number
}

/** One variable after unquoting; `value` is `None` for a gcfg blank (`key` without `=`). */
export interface IniEntry {
  readonly section: IniSection
  readonly key: string
  readonly value: Option.Option<string>
  readonly line: number
  /** The line starts like key material (`looksLikeSecret` of its first base64 token): never quote the key. */
  readonly secretLike: boolean
  /** The value had no quoted part and ended at a `;` or `#` (a gcfg comment) after it started. */
  readonly cutAtComment: boolean
}

export interface IniDocument {
  readonly sections: ReadonlyArray<IniSection>
  readonly entries: ReadonlyArray<IniEntry>
  readonly issues: ReadonlyArray<ConfigIssue>
}

const escapes: Readonly<Record<string, string>> = { "\"": "\"", "\\": "\\", n: "\n", t: "\t" }
const identStart = /^\p{L}$/u
const identPart = /^[\p{L}\p{N}_-]$/u

export interface TokenizeOptions {
  /**
   * Whether a (lower-cased) key is a key name or a typo of one, so shown in messages even when it
   * looks like key material (`requestTimeout`). Default: none is.
   */
  readonly isKeyName?: ((key: string) => boolean) | undefined
}

/**
 * Splits gcfg text into sections and entries. Syntax errors are collected (one per bad line, the
 * rest of that line skipped) so that a file with several mistakes reports all of them.
 * A leading UTF-8 BOM and CR of CRLF line ends are ignored, as gcfg does.
 */
export const tokenize = (input: string, options: TokenizeOptions = {}): IniDocument => {
  const isKeyName = options.isKeyName ?? (() => false)
  const text = input.startsWith("\uFEFF") ? input.slice(1) : input
  const sections: Array<IniSection> = []
  const entries: Array<IniEntry> = []
  const issues: Array<ConfigIssue> = []
  let pos = 0
  let line = 1
  // undefined: before any header; "broken": after a malformed header (its keys are skipped).
  let current: IniSection | "broken" | undefined = undefined

  const skipSpace = () => {
    while (text[pos] === " " || text[pos] === "\t" || text[pos] === "\r") pos++
  }
  const skipLine = () => {
    while (pos < text.length && text[pos] !== "\n") pos++
  }
  const atLineEnd = () => pos >= text.length || text[pos] === "\n" || text[pos] === ";" || text[pos] === "#"
  const syntax = (at: number, detail: string): undefined => {
    issues.push(ConfigIssue.SyntaxError({ line: at, detail }))
    skipLine()
    return undefined
  }
  const ident = (): string => {
    const start = pos
    if (!identStart.test(text[pos] ?? "")) return ""
    while (identPart.test(text[pos] ?? "")) pos++
    return text.slice(start, pos)
  }
  /** Quoted part starting at `"`; returns the unescaped text or undefined after an error. */
  const quoted = (at: number): string | undefined => {
    pos++ // opening quote
    let out = ""
    for (;;) {
      const ch = text[pos]
      if (ch === undefined || ch === "\n") return syntax(at, "unterminated quoted string")
      pos++
      if (ch === "\"") return out
      if (ch === "\\") {
        const e = text[pos]
        const u = e === undefined ? undefined : escapes[e]
        if (u === undefined) {
          return syntax(at, `invalid escape sequence "\\${e ?? ""}" (valid: \\" \\\\ \\n \\t)`)
        }
        pos++
        out += u
      } else if (ch !== "\r") {
        out += ch
      }
    }
  }
  /** A value after `=`: mixed unquoted and quoted parts, up to end of line or a comment. */
  const value = (at: number): { readonly text: string; readonly cutAtComment: boolean } | undefined => {
    let out = ""
    let end = 0 // length of `out` without trailing unquoted whitespace
    let quotedPart = false
    for (;;) {
      const ch = text[pos]
      if (ch === undefined || ch === "\n" || ch === ";" || ch === "#") {
        return { text: out.slice(0, end), cutAtComment: (ch === ";" || ch === "#") && end > 0 && !quotedPart }
      }
      if (ch === "\"") {
        const part = quoted(at)
        if (part === undefined) return undefined
        quotedPart = true
        out += part
        end = out.length
      } else if (ch === "\\") {
        pos++
        if (text[pos] === "\r") pos++
        if (text[pos] !== "\n") {
          return syntax(at, "a \\ outside quotes must end the line (continuation); quote the value to use a backslash")
        }
        pos++
        line++
      } else {
        pos++
        if (ch === "\r") continue
        out += ch
        if (ch !== " " && ch !== "\t") end = out.length
      }
    }
  }
  const header = () => {
    const at = line
    pos++ // [
    current = "broken"
    skipSpace()
    const name = ident()
    if (name === "") return syntax(at, "expected a section name after '['")
    skipSpace()
    let subsection = Option.none<string>()
    if (text[pos] === "\"") {
      const sub = quoted(at)
      if (sub === undefined) return
      subsection = Option.some(sub)
      skipSpace()
    }
    if (text[pos] !== "]") return syntax(at, `expected ']' to close the section header [${name}`)
    pos++
    skipSpace()
    if (!atLineEnd()) return syntax(at, "unexpected text after the section header")
    const section: IniSection = { name, subsection, line: at }
    sections.push(section)
    current = section
  }
  /** The base64 token starting at `from`: what a wrapped secret's line starts with, whatever follows. */
  const tokenAt = (from: number): string => {
    let end = from
    while (end < text.length && /[A-Za-z0-9+/=_-]/.test(text[end] ?? "")) end++
    return text.slice(from, end)
  }
  const variable = () => {
    const at = line
    const token = tokenAt(pos)
    const key = ident()
    // A key name within a typo of a known key is shown even if it mixes case and digits.
    const secretLike = looksLikeSecret(token) && !isKeyName(key.toLowerCase())
    const shown = secretLike ? hidden(token) : echo(key, 32)
    skipSpace()
    let v = Option.none<string>()
    let cutAtComment = false
    if (!atLineEnd()) {
      if (text[pos] !== "=") return syntax(at, `expected '=' after ${shown}`)
      pos++
      skipSpace()
      const parsed = value(at)
      if (parsed === undefined) return
      v = Option.some(parsed.text)
      cutAtComment = parsed.cutAtComment
    }
    if (current === undefined) {
      issues.push(
        ConfigIssue.SyntaxError({
          line: at,
          detail: `${shown} appears before any section header (add [Global] above it)`
        })
      )
    } else if (current !== "broken") {
      entries.push({ section: current, key, value: v, line: at, secretLike, cutAtComment })
    }
  }

  while (pos < text.length) {
    skipSpace()
    const ch = text[pos]
    if (ch === undefined) break
    if (ch === "\n") {
      pos++
      line++
    } else if (ch === ";" || ch === "#") {
      skipLine()
    } else if (ch === "[") {
      header()
    } else if (identStart.test(ch)) {
      variable()
    } else {
      syntax(line, `unexpected ${JSON.stringify(ch)}: expected a [section] header or a "key = value" line`)
    }
  }
  return { sections, entries, issues }
}
