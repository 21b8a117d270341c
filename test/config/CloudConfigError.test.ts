import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import { CloudConfigError, ConfigIssue, echo, looksLikeSecret, renderIssue } from "../../src/config/CloudConfigError.js"

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
    assert.strictEqual(
      e.message,
      "cannot use cloud-config /p (2 problems):\n  /p: file not found\n  /p:1: syntax error: x"
    )
  })

  it("message: at most 50 problems, then how many more", () => {
    const issues = Array.from({ length: 120 }, (_, i) => ConfigIssue.SyntaxError({ line: i + 1, detail: "x" }))
    const [first, ...rest] = issues
    if (first === undefined) return assert.fail("no issue")
    const lines = new CloudConfigError({ path: "/p", issues: [first, ...rest] }).message.split("\n")
    assert.strictEqual(lines.length, 1 + 50 + 1)
    assert.strictEqual(lines[0], "cannot use cloud-config /p (120 problems):")
    assert.strictEqual(lines[50], "  /p:50: syntax error: x")
    assert.strictEqual(lines[51], "  ... and 70 more problems")
    const one = new CloudConfigError({ path: "/p", issues: [first, ...rest.slice(0, 50)] }).message.split("\n")
    assert.strictEqual(one.at(-1), "  ... and 1 more problem")
  })

  it("looksLikeSecret: base64 key material, not key names or words", () => {
    for (const token of ["plgWJfZK4gyS3mOMTVmjUVg", "Zq8w0rTh1s-Abc", "abc123def456ghi", "AbCdEf12+xyz/QQ=="]) {
      assert.isTrue(looksLikeSecret(token), token)
    }
    for (
      const token of ["requests-per-second", "ssl-no-verify", "averyveryverylongword", "Short1", "abc def 123 XYZ"]
    ) {
      assert.isFalse(looksLikeSecret(token), token)
    }
  })

  it("echo quotes short text and hides long text (possible secrets)", () => {
    assert.strictEqual(echo("a\"b"), "\"a\\\"b\"")
    assert.strictEqual(echo("x".repeat(64)), JSON.stringify("x".repeat(64)))
    assert.strictEqual(echo("x".repeat(65)), "a 65-character text (not shown: it may be a secret)")
    assert.strictEqual(echo("abcd", 3), "a 4-character text (not shown: it may be a secret)")
  })
})
