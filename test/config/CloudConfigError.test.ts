import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import { CloudConfigError, ConfigIssue, echo, renderIssue } from "../../src/config/CloudConfigError.js"

describe("CloudConfigError", () => {
  it("renders each kind of issue with the path, and the line where there is one", () => {
    const rendered = [
      ConfigIssue.FileNotFound(),
      ConfigIssue.FileUnreadable({ detail: "permission denied" }),
      ConfigIssue.SyntaxError({ line: 3, detail: "unterminated quoted string" }),
      ConfigIssue.UnknownSection({ line: 4, section: "Globl", suggestion: Option.some("Global") }),
      ConfigIssue.UnknownKey({ line: 5, key: "zome", suggestion: Option.some("zone") }),
      ConfigIssue.UnknownKey({ line: 6, key: "foo", suggestion: Option.none() }),
      ConfigIssue.MissingKeys({ keys: ["api-key"] }),
      ConfigIssue.InvalidValue({ line: Option.some(7), key: "zone", detail: "bad" }),
      ConfigIssue.InvalidValue({ line: Option.none(), key: "zone", detail: "bad" })
    ].map((i) => renderIssue("/p", i))
    assert.deepStrictEqual(rendered, [
      "/p: file not found",
      "/p: cannot read file: permission denied",
      "/p:3: syntax error: unterminated quoted string",
      "/p:4: unknown section [Globl] (did you mean \"Global\"?); only [Global] is read",
      "/p:5: unknown key \"zome\" in [Global] (did you mean \"zone\"?)",
      "/p:6: unknown key \"foo\" in [Global]",
      "/p: missing required key in [Global]: api-key",
      "/p:7: invalid value for \"zone\": bad",
      "/p: invalid value for \"zone\": bad"
    ])
  })

  it("message: a header counting the problems, then one indented line each", () => {
    const e = new CloudConfigError({
      path: "/p",
      issues: [ConfigIssue.FileNotFound(), ConfigIssue.SyntaxError({ line: 1, detail: "x" })]
    })
    assert.strictEqual(e.message, "cannot use cloud-config /p (2 problems):\n  /p: file not found\n  /p:1: syntax error: x")
  })

  it("echo quotes short text and hides long text (possible secrets)", () => {
    assert.strictEqual(echo("a\"b"), "\"a\\\"b\"")
    assert.strictEqual(echo("x".repeat(64)), JSON.stringify("x".repeat(64)))
    assert.strictEqual(echo("x".repeat(65)), "a 65-character text (not shown: it may be a secret)")
    assert.strictEqual(echo("abcd", 3), "a 4-character text (not shown: it may be a secret)")
  })
})
