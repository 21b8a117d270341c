import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, FastCheck as fc, Option, Redacted } from "effect"
import type { CloudConfigShape } from "../../src/config/CloudConfig.js"
import { type CloudConfigError, type ConfigIssue, issueLine } from "../../src/config/CloudConfigError.js"
import { closest, parse, parseWithWarnings } from "../../src/config/CloudConfigParser.js"
import { render } from "../../src/config/CloudConfigRender.js"
import { tokenize } from "../../src/config/GcfgTokenizer.js"

const PATH = "/etc/kubernetes/cloud-config"
const API_KEY = "AKEY-Zq8w0rTh1s"
const SECRET = "SKEY-n3v3r-pr1nt-m3"

const valid = (extra = "") =>
  `[Global]\napi-url = https://cloud.example.com/client/api\napi-key = ${API_KEY}\nsecret-key = ${SECRET}\n${extra}`

const ok = (text: string): CloudConfigShape => {
  const r = parse(text, PATH)
  if (Either.isLeft(r)) assert.fail(`expected a valid config, got:\n${r.left.message}`)
  return r.right
}
const bad = (text: string): CloudConfigError => {
  const r = parse(text, PATH)
  if (Either.isRight(r)) assert.fail("expected the config to be rejected")
  // No rendered problem may ever reveal a secret.
  assert.notInclude(r.left.message, SECRET)
  assert.notInclude(r.left.message, API_KEY)
  return r.left
}
/** Issues as `tag@line` plus the key or detail, for compact exact assertions. */
const summary = (issues: ReadonlyArray<ConfigIssue>) =>
  issues.map((i) => {
    switch (i._tag) {
      case "SyntaxError":
        return `SyntaxError@${i.line}`
      case "UnknownKey":
        return `UnknownKey@${i.line}:${i.key}->${Option.getOrElse(i.suggestion, () => "-")}`
      case "UnknownSection":
        return `UnknownSection@${i.line}:${i.section}`
      case "MissingKeys":
        return `MissingKeys:${i.keys.join(",")}`
      case "InvalidValue":
        return `InvalidValue@${Option.getOrElse(i.line, () => 0)}:${i.key}`
      default:
        return i._tag
    }
  })

describe("CloudConfigParser.parse", () => {
  it("decodes a minimal config with the documented defaults", () => {
    const c = ok(valid())
    assert.strictEqual(c.apiUrl.href, "https://cloud.example.com/client/api")
    assert.strictEqual(Redacted.value(c.apiKey), API_KEY)
    assert.strictEqual(Redacted.value(c.secretKey), SECRET)
    assert.deepStrictEqual([c.projectId, c.zone, c.region], [Option.none(), Option.none(), Option.none()])
    assert.strictEqual(c.sslNoVerify, false)
    assert.strictEqual(Duration.toMillis(c.requestTimeout), 30_000)
    assert.strictEqual(Duration.toMillis(c.asyncJobTimeout), 300_000)
    assert.strictEqual(c.maxInFlight, 16)
    assert.strictEqual(c.requestsPerSecond, 20)
    assert.strictEqual(c.source, PATH)
  })

  it("reads every key, including the tuning keys", () => {
    const c = ok(valid(
      "project-id = 5a7d2c1e-0000-4000-8000-000000000001\nzone = zone-1\nregion = eu-west\nssl-no-verify = true\n" +
        "request-timeout = 1m30s\nasync-job-timeout = 1h\nmax-in-flight = 4\nrequests-per-second = 2.5\n"
    ))
    assert.deepStrictEqual(c.projectId, Option.some("5a7d2c1e-0000-4000-8000-000000000001"))
    assert.deepStrictEqual(c.zone, Option.some("zone-1"))
    assert.deepStrictEqual(c.region, Option.some("eu-west"))
    assert.strictEqual(c.sslNoVerify, true)
    assert.strictEqual(Duration.toMillis(c.requestTimeout), 90_000)
    assert.strictEqual(Duration.toMillis(c.asyncJobTimeout), 3_600_000)
    assert.strictEqual(c.maxInFlight, 4)
    assert.strictEqual(c.requestsPerSecond, 2.5)
  })

  it("treats section and key names case-insensitively", () => {
    const c = ok(`[gLoBaL]\nAPI-URL = http://h:8080/client/api\nApi-Key = k\nSECRET-KEY = s\nZone = z\n`)
    assert.strictEqual(c.apiUrl.href, "http://h:8080/client/api")
    assert.deepStrictEqual(c.zone, Option.some("z"))
  })

  it("skips ; and # comments, also after unquoted values, but not inside quotes", () => {
    const c = ok(
      `; leading comment\n# another\n[Global] ; trailing\n` +
        `api-url = https://h/client/api # the endpoint\napi-key = k;no-space-comment\n` +
        `secret-key = "s;#x" ; quoted keeps ; and #\nzone = a b  \t ; internal spaces kept, trailing trimmed\n`
    )
    assert.strictEqual(c.apiUrl.href, "https://h/client/api")
    assert.strictEqual(Redacted.value(c.apiKey), "k")
    assert.strictEqual(Redacted.value(c.secretKey), "s;#x")
    assert.deepStrictEqual(c.zone, Option.some("a b"))
  })

  it("unquotes values with gcfg escapes and mixed quoted/unquoted parts", () => {
    const c = ok(
      `[Global]\napi-url = "https://h/client/api"\napi-key = "a\\"b\\\\c"\nsecret-key = x" y "z\n` +
        `zone = "tab\\there"\nregion = "two\\nlines"\nproject-id = "  padded  "\n`
    )
    assert.strictEqual(Redacted.value(c.apiKey), "a\"b\\c")
    assert.strictEqual(Redacted.value(c.secretKey), "x y z")
    assert.deepStrictEqual(c.zone, Option.some("tab\there"))
    assert.deepStrictEqual(c.region, Option.some("two\nlines"))
    assert.deepStrictEqual(c.projectId, Option.some("  padded  "))
  })

  it("accepts every gcfg boolean spelling, in any case", () => {
    const cases: ReadonlyArray<readonly [string, boolean]> = [
      ["true", true],
      ["YES", true],
      ["On", true],
      ["1", true],
      ["false", false],
      ["No", false],
      ["OFF", false],
      ["0", false]
    ]
    for (const [text, expected] of cases) {
      assert.strictEqual(ok(valid(`ssl-no-verify = ${text}\n`)).sslNoVerify, expected, text)
    }
  })

  it("reads a blank boolean (key without '=') as true, like gcfg", () => {
    assert.strictEqual(ok(valid("ssl-no-verify\n")).sslNoVerify, true)
    assert.strictEqual(ok(valid("ssl-no-verify ; with a comment")).sslNoVerify, true)
  })

  it("joins lines ending in an unquoted backslash (continuation)", () => {
    const c = ok(`[Global]\napi-url = https://h/\\\nclient/api\napi-key = k\nsecret-key = s\\\n  t\nzone = z\n`)
    assert.strictEqual(c.apiUrl.href, "https://h/client/api")
    assert.strictEqual(Redacted.value(c.secretKey), "s  t")
    // Line numbers after a continuation still point at the right line.
    assert.deepStrictEqual(summary(bad(`[Global]\napi-url = https://h/\\\nx\nnope = 1\n`).issues), [
      "MissingKeys:api-key,secret-key",
      "UnknownKey@4:nope->zone"
    ])
  })

  it("ignores a UTF-8 BOM and CRLF line ends", () => {
    const c = ok(`\uFEFF[Global]\r\napi-url = https://h/client/api\r\napi-key = "k"\r\nsecret-key = s \r\n`)
    assert.strictEqual(Redacted.value(c.apiKey), "k")
    assert.strictEqual(Redacted.value(c.secretKey), "s")
  })

  it("keeps the last value of a repeated key (gcfg), forgetting an earlier invalid one", () => {
    const c = ok(valid("max-in-flight = nope\nmax-in-flight = 3\n"))
    assert.strictEqual(c.maxInFlight, 3)
  })

  it("treats empty project-id/zone/region as unset (deploy scripts render empty variables)", () => {
    const c = ok(valid("project-id =\nzone = \"\"\nregion = ; nothing\n"))
    assert.deepStrictEqual([c.projectId, c.zone, c.region], [Option.none(), Option.none(), Option.none()])
  })
})

describe("CloudConfigParser.parse errors", () => {
  it("reports syntax errors with their line numbers, all of them", () => {
    const e = bad(
      [
        "api-url = https://h/client/api", // 1: before any section
        "[Global", // 2: unclosed header (its keys are skipped)
        "api-key = x",
        "[Global]",
        "api-key https://h", // 5: no '='
        "secret-key = \"open", // 6: unterminated quote
        "zone = \"bad\\q\"", // 7: unknown escape
        "region = a\\b", // 8: backslash not at end of line
        "= 3", // 9: garbage
        "[Global \"sub\"]", // 10: subsection
        "[ ]" // 11: no section name
      ].join("\n")
    )
    assert.deepStrictEqual(summary(e.issues), [
      "MissingKeys:api-url,api-key,secret-key",
      "SyntaxError@1",
      "SyntaxError@2",
      "SyntaxError@5",
      "SyntaxError@6",
      "SyntaxError@7",
      "SyntaxError@8",
      "SyntaxError@9",
      "SyntaxError@10",
      "SyntaxError@11"
    ])
    const lines = e.message.split("\n").slice(1)
    assert.strictEqual(lines.length, e.issues.length)
    for (const l of lines) assert.include(l, PATH)
    assert.include(e.message, `${PATH}:1: syntax error: "api-url" appears before any section header`)
    assert.include(e.message, `${PATH}:5: syntax error: expected '=' after "api-key"`)
    assert.include(e.message, `${PATH}:6: syntax error: unterminated quoted string`)
    assert.include(e.message, `${PATH}:7: syntax error: invalid escape sequence "\\q"`)
  })

  it("names an unknown key, its line and the closest valid key", () => {
    const e = bad(valid("api_url = x\nssl-verify = true\nRequest-Timout = 3s\n"))
    assert.deepStrictEqual(summary(e.issues), [
      "UnknownKey@5:api_url->api-url",
      "UnknownKey@6:ssl-verify->ssl-no-verify",
      "UnknownKey@7:Request-Timout->request-timeout"
    ])
    assert.include(e.message, `${PATH}:7: unknown key "Request-Timout" in [Global] (did you mean "request-timeout"?)`)
  })

  it("rejects sections other than [Global], skipping their keys", () => {
    const e = bad(valid("[LoadBalancer]\nfoo = bar\n[globl]\nbaz = 1\n"))
    assert.deepStrictEqual(summary(e.issues), ["UnknownSection@5:LoadBalancer", "UnknownSection@7:globl"])
  })

  it("lists every missing required key in one problem", () => {
    const e = bad("[Global]\nzone = z\n")
    assert.deepStrictEqual(summary(e.issues), ["MissingKeys:api-url,api-key,secret-key"])
    assert.include(e.message, `${PATH}: missing required keys in [Global]: api-url, api-key, secret-key`)
    assert.deepStrictEqual(summary(bad("").issues), ["MissingKeys:api-url,api-key,secret-key"])
  })

  it("rejects URLs that are not http(s)", () => {
    for (const url of ["ftp://h/client/api", "cloud.example.com/client/api", "https//h", "file:///etc/passwd"]) {
      const e = bad(`[Global]\napi-url = ${url}\napi-key = ${API_KEY}\nsecret-key = ${SECRET}\n`)
      assert.deepStrictEqual(summary(e.issues), ["InvalidValue@2:api-url"], url)
    }
  })

  it("rejects invalid booleans, durations and numbers, each with its line", () => {
    const e = bad(valid(
      "ssl-no-verify = maybe\nrequest-timeout = 10\nasync-job-timeout = 0s\nmax-in-flight = 1.5\n" +
        "requests-per-second = -3\n"
    ))
    assert.deepStrictEqual(summary(e.issues), [
      "InvalidValue@5:ssl-no-verify",
      "InvalidValue@6:request-timeout",
      "InvalidValue@7:async-job-timeout",
      "InvalidValue@8:max-in-flight",
      "InvalidValue@9:requests-per-second"
    ])
    assert.include(e.message, `${PATH}:5: invalid value for "ssl-no-verify": "maybe" is not a boolean`)
    assert.include(e.message, `${PATH}:6: invalid value for "request-timeout": "10" is not a duration`)
    assert.include(e.message, `${PATH}:7: invalid value for "async-job-timeout": must be longer than zero`)
  })

  it("rejects empty values (and blank non-booleans) without listing them as missing", () => {
    const e = bad(
      "[Global]\napi-url = https://h/client/api\napi-key =\nsecret-key\nssl-no-verify =\nmax-in-flight = \"\"\n"
    )
    assert.deepStrictEqual(summary(e.issues), [
      "InvalidValue@3:api-key",
      "InvalidValue@4:secret-key",
      "InvalidValue@5:ssl-no-verify",
      "InvalidValue@6:max-in-flight"
    ])
    assert.include(e.message, `${PATH}:3: invalid value for "api-key": empty value`)
    assert.include(e.message, `${PATH}:4: invalid value for "secret-key": missing value`)
  })

  it("reports problems of every kind together, sorted by line", () => {
    const e = bad(`[Global]\napi-url = ftp://x\napi-kee = ${API_KEY}\n"oops"\nssl-no-verify = perhaps\n`)
    assert.deepStrictEqual(summary(e.issues), [
      "MissingKeys:api-key,secret-key",
      "InvalidValue@2:api-url",
      "UnknownKey@3:api-kee->api-key",
      "SyntaxError@4",
      "InvalidValue@5:ssl-no-verify"
    ])
  })

  it("does not echo long text or bare words that may be a wrapped secret", () => {
    const secret = // CloudStack-like key material, 87 characters
      "Xk3vQ9zT0aLmN5bR7cD2eF8gH1iJ4kL6mN0oP3qR5sT7uV9wX2yZ4aB6cD8eF0gH3iJ5kL7mN9oP1qR3sT5uV7w"
    const e = bad(
      `[Global]\napi-url = https://h/client/api\napi-key = k\nsecret-key = ${secret.slice(0, 40)}\n` +
        `${secret.slice(40, 60)}\n${secret.slice(60)}\nrequest-timeout = ${secret}\n${secret} = 1\nssl-no-verfy\n`
    )
    for (const fragment of [secret.slice(40, 60), secret.slice(60), secret]) assert.notInclude(e.message, fragment)
    assert.deepStrictEqual(summary(e.issues), [
      "SyntaxError@5",
      "SyntaxError@6",
      "InvalidValue@7:request-timeout",
      "UnknownKey@8:" + secret + "->-",
      "UnknownKey@9:ssl-no-verfy->ssl-no-verify"
    ])
    assert.include(
      e.message,
      `${PATH}:7: invalid value for "request-timeout": a ${secret.length}-character text (not shown`
    )
    assert.include(
      e.message,
      `${PATH}:8: unknown key a ${secret.length}-character text (not shown: it may be a secret)`
    )
    assert.include(e.message, `${PATH}:9: unknown key "ssl-no-verfy" in [Global] (did you mean "ssl-no-verify"?)`)
  })

  it("a line that starts like a wrapped secret is never quoted, whatever follows it on the line", () => {
    const secret = "plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg"
    const e = bad(
      `[Global]\napi-url = https://h/client/api\napi-key = k\nsecret-key = ${secret.slice(0, 50)}\n` +
        `${secret.slice(50, 70)} = x\n` + // a 20-character tail, then "= x"
        `${secret.slice(70)}+Q9/z trailing words\n` + // base64 punctuation inside, then text
        `Xk3vQ9zT0aLmN5bR==\n` + // padding: the key part ends at the first "="
        `requestTimeout = 5s\n` // a camelCase typo of a key is still shown, with the suggestion
    )
    for (const fragment of [secret.slice(50, 70), secret.slice(70), secret.slice(70, 78), "Xk3vQ9zT0aLmN5bR"]) {
      assert.notInclude(e.message, fragment)
    }
    assert.deepStrictEqual(summary(e.issues), [
      `UnknownKey@5:${secret.slice(50, 70)}->-`,
      "SyntaxError@6",
      "UnknownKey@7:Xk3vQ9zT0aLmN5bR->-",
      "UnknownKey@8:requestTimeout->request-timeout"
    ])
    assert.include(e.message, `${PATH}:5: unknown key a 20-character text (not shown: it may be a secret) in [Global]`)
    assert.include(
      e.message,
      `${PATH}:6: syntax error: expected '=' after a ${secret.slice(70).length + 5}-character text (not shown`
    )
    assert.include(e.message, `${PATH}:8: unknown key "requestTimeout" in [Global] (did you mean "request-timeout"?)`)
  })

  it("an unquoted api-key/secret-key value cut at ';' or '#' is kept (gcfg) but warned about, naming the key only", () => {
    const r = parseWithWarnings(
      `[Global]\napi-url = https://h/client/api\napi-key = AKEY;rest\nsecret-key = SKEY # note\nzone = a ; b\n`,
      PATH
    )
    if (Either.isLeft(r)) return assert.fail(r.left.message)
    assert.strictEqual(Redacted.value(r.right.config.apiKey), "AKEY")
    assert.strictEqual(Redacted.value(r.right.config.secretKey), "SKEY")
    assert.deepStrictEqual(r.right.warnings, [
      { _tag: "CommentCut", line: 3, key: "api-key" },
      { _tag: "CommentCut", line: 4, key: "secret-key" }
    ])
    // quoted values keep ; and #, so a comment after them is just a comment
    for (const quietly of [`api-key = "A;K" ; note`, "api-key = AKEY"]) {
      const q = parseWithWarnings(
        `[Global]\napi-url = https://h/client/api\n${quietly}\nsecret-key = "S#1" # note\n`,
        PATH
      )
      assert.deepStrictEqual(Either.map(q, (x) => x.warnings), Either.right([]), quietly)
    }
  })

  it("a 1 MB file of garbage reports every problem in the error but prints the first 50", () => {
    const e = bad(`[Global]\n${"not a key value line\n".repeat(50_000)}`)
    assert.isAbove(e.issues.length, 50_000)
    const lines = e.message.split("\n")
    assert.strictEqual(lines.length, 52)
    assert.strictEqual(lines[51], `  ... and ${e.issues.length - 50} more problems`)
  })

  it("never quotes a secret in a message, even when the secret's own line is wrong", () => {
    // The helpers assert that neither API_KEY nor SECRET appears in the message.
    bad(`[Global]\napi-url = https://h/client/api\napi-key = "${API_KEY}\nsecret-key = ${SECRET} \\x\n`)
    bad(`[Global]\napi-url = nope\napi-key = ${API_KEY} "\nsecret-key = "${SECRET}\\q"\n`)
  })
})

describe("CloudConfigParser helpers", () => {
  it("tokenize keeps sections, raw keys, blank values and lines", () => {
    const doc = tokenize("[A]\nk1 = v\nK2\n\n[b \"s\"]\nk3 = \"\"\n")
    assert.deepStrictEqual(
      doc.entries.map((e) => [e.section.name, e.key, e.value, e.line]),
      [["A", "k1", Option.some("v"), 2], ["A", "K2", Option.none(), 3], ["b", "k3", Option.some(""), 6]]
    )
    assert.deepStrictEqual(doc.sections.map((s) => [s.name, s.subsection, s.line]), [
      ["A", Option.none(), 1],
      ["b", Option.some("s"), 5]
    ])
    assert.deepStrictEqual(doc.issues, [])
  })

  it("closest picks the nearest candidate by edit distance", () => {
    assert.deepStrictEqual(closest("secret_key", ["api-key", "secret-key"]), Option.some("secret-key"))
    assert.deepStrictEqual(closest("APIKEY", ["api-url", "api-key"]), Option.some("api-key"))
    assert.deepStrictEqual(closest("x", []), Option.none())
    assert.deepStrictEqual(closest("zonee", ["zone", "region"], 1), Option.some("zone"))
    assert.deepStrictEqual(closest("completely-different", ["zone"], 3), Option.none())
  })
})

// ------------------------------------------------------------------------------------------------
// Properties

/** Any text a value may hold: quotes, backslashes, comment and `=` characters, tabs, newlines, unicode. */
const valueText = fc.string({
  unit: fc.oneof(
    fc.constantFrom("\"", "\\", ";", "#", "=", " ", "\t", "\n", "[", "]", "é", "ü", "€"),
    fc.char()
  ),
  minLength: 1,
  maxLength: 24
})
const knownKeysForNoise = [
  "api-url = https://h/client/api",
  "api-key = k",
  "secret-key = s",
  "ssl-no-verify",
  "zone = z"
]
const configArb = fc.record({
  apiUrl: fc.webUrl({ withQueryParameters: true }).map((u) => new URL(u)),
  apiKey: valueText.map(Redacted.make),
  secretKey: valueText.map(Redacted.make),
  projectId: fc.option(valueText, { nil: undefined }).map(Option.fromNullable),
  zone: fc.option(valueText, { nil: undefined }).map(Option.fromNullable),
  region: fc.option(valueText, { nil: undefined }).map(Option.fromNullable),
  sslNoVerify: fc.boolean(),
  requestTimeout: fc.integer({ min: 1, max: 100_000_000 }).map(Duration.millis),
  asyncJobTimeout: fc.integer({ min: 1, max: 100_000_000 }).map(Duration.millis),
  maxInFlight: fc.integer({ min: 1, max: 100_000 }),
  requestsPerSecond: fc.integer({ min: 1, max: 1_000_000 }).map((n) => n / 100)
})
type Plain = ReturnType<typeof plain>
const plain = (c: Omit<CloudConfigShape, "source">) => ({
  apiUrl: c.apiUrl.href,
  apiKey: Redacted.value(c.apiKey),
  secretKey: Redacted.value(c.secretKey),
  projectId: c.projectId,
  zone: c.zone,
  region: c.region,
  sslNoVerify: c.sslNoVerify,
  requestTimeout: Duration.toMillis(c.requestTimeout),
  asyncJobTimeout: Duration.toMillis(c.asyncJobTimeout),
  maxInFlight: c.maxInFlight,
  requestsPerSecond: c.requestsPerSecond
})
const parsedPlain = (text: string): Plain | string =>
  Either.match(parse(text, PATH), { onLeft: (e) => e.message, onRight: plain })

/** Re-cases the section name and every key of rendered text, and varies spacing around `=`. */
const recase = (text: string, flips: ReadonlyArray<boolean>, spaces: ReadonlyArray<number>): string => {
  let n = 0
  const flip = (s: string) =>
    Array.from(s, (ch) => (flips[n++ % flips.length] ? ch.toUpperCase() : ch.toLowerCase())).join("")
  return text.split("\n").map((line, i) => {
    const pad = " ".repeat(spaces[i % spaces.length] ?? 1)
    const header = /^\[(\w+)\]$/.exec(line)
    if (header?.[1] !== undefined) return `[${flip(header[1])}]`
    const kv = /^([a-z-]+) = (.*)$/.exec(line)
    return kv?.[1] !== undefined && kv[2] !== undefined ? `${pad}${flip(kv[1])}${pad}=${pad}${kv[2]}` : line
  }).join("\n")
}

/** Line-oriented gcfg-ish noise: headers, keys, values, quotes, escapes, continuations, comments. */
const noise = fc.array(
  fc.oneof(
    fc.constantFrom("[Global]", "[global \"x\"]", "[", "]", "=", "\"", "\\", "\\\n", "\n", "\r\n", ";", "#", " ", "\t"),
    fc.constantFrom(...knownKeysForNoise),
    fc.string({ maxLength: 6 })
  ),
  { maxLength: 40 }
).map((parts) => parts.join(""))

describe("CloudConfigParser properties", () => {
  it.prop("never throws on any text; every issue's line exists in the text", [noise], ([text]) => {
    const lines = text.split("\n").length
    Either.match(parse(text, PATH), {
      onLeft: (e) => {
        assert.isAbove(e.issues.length, 0)
        for (const issue of e.issues) {
          Option.map(issueLine(issue), (l) => assert.isTrue(l >= 1 && l <= lines, `line ${l} of ${lines}`))
        }
      },
      onRight: (c) => assert.strictEqual(c.source, PATH)
    })
  })

  it.prop("a rendered valid config parses back to the same config", [configArb], ([config]) => {
    assert.deepStrictEqual(parsedPlain(render(config)), plain(config))
  })

  it.prop(
    "key and section names parse the same in any case and with any spacing",
    [configArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 64 }), fc.array(fc.nat(3), { minLength: 1 })],
    ([config, flips, spaces]) => {
      const text = render(config)
      assert.deepStrictEqual(parsedPlain(recase(text, flips, spaces)), parsedPlain(text))
    }
  )
})
