import { HelpDoc, ValidationError } from "@effect/cli"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, FiberId, Option } from "effect"
import { failureLines } from "../../src/cli/ReportFailure.js"
import { CloudConfigError, ConfigIssue } from "../../src/config/CloudConfigError.js"

class Tagged extends Data.TaggedError("Tagged")<{}> {}

describe("ReportFailure.failureLines", () => {
  it("prints each typed error's message, without a stack trace", () => {
    const error = new CloudConfigError({
      path: "/c",
      issues: [ConfigIssue.UnknownKey({ line: 2, key: "x", suggestion: Option.none() })]
    })
    const lines = failureLines(Cause.parallel(Cause.fail(error), Cause.fail(new Tagged())))
    assert.deepStrictEqual(lines, [
      "cannot use cloud-config /c (1 problem):\n  /c:2: unknown key \"x\" in [Global]",
      "Tagged"
    ])
    assert.notInclude(lines.join("\n"), "    at ")
  })

  it("prints nothing for @effect/cli validation errors (already shown) and interruptions", () => {
    const invalid = ValidationError.invalidValue(HelpDoc.p("bad flag"))
    assert.deepStrictEqual(failureLines(Cause.fail(invalid)), [])
    assert.deepStrictEqual(failureLines(Cause.interrupt(FiberId.none)), [])
  })

  it("marks a defect as a bug and keeps its detail", () => {
    const [line, ...rest] = failureLines(Cause.die(new Error("boom")))
    assert.deepStrictEqual(rest, [])
    assert.match(line ?? "", /^internal error \(a bug\): .*boom/s)
  })
})
