/**
 * The simulator's fault flags: what each accepts, the one-line message of what it refuses, and the
 * Faults they become (the API-down window placed after the start time).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, Option } from "effect"
import {
  describeFaults,
  faultsOf,
  parseApiDown,
  parseDelay,
  parseErrorRate,
  parseRate
} from "../../src/cli/SimulatorFaults.js"

const isCommand = (c: string) => c === "listZones" || c === "createLoadBalancerRule"
const left = <A>(e: Either.Either<A, string>): string =>
  Either.match(e, { onLeft: (m) => m, onRight: () => "accepted" })

describe("SimulatorFaults", () => {
  it("durations: Go syntax from 0 to 1h", () => {
    assert.deepStrictEqual(parseDelay("job-duration", "5s"), Either.right(Duration.seconds(5)))
    assert.deepStrictEqual(parseDelay("latency", "250ms"), Either.right(Duration.millis(250)))
    assert.deepStrictEqual(parseDelay("latency", "0"), Either.right(Duration.zero))
    assert.strictEqual(
      left(parseDelay("job-duration", "5")),
      "--job-duration: '5' is not a duration (use a number and a unit: 500ms, 5s, 1m)"
    )
    assert.strictEqual(
      left(parseDelay("latency", "-1s")),
      "--latency: '-1s' is not a duration (use a number and a unit: 500ms, 5s, 1m)"
    )
    assert.strictEqual(left(parseDelay("latency", "2h")), "--latency: '2h' is longer than 1h")
  })

  it("rates: 0..1 or a percentage", () => {
    assert.deepStrictEqual(parseRate("x", "0.25"), Either.right(0.25))
    assert.deepStrictEqual(parseRate("x", "5%"), Either.right(0.05))
    assert.deepStrictEqual(parseRate("x", "1"), Either.right(1))
    for (const bad of ["1.5", "120%", "-0.1", "abc", ""]) {
      assert.strictEqual(
        left(parseRate("x", bad)),
        `--x: '${bad}' is not a rate (a number from 0 to 1, or a percentage such as 5%)`
      )
    }
  })

  it("--error-rate COMMAND:CODE:RATE with a known command or *, a code in 400..599", () => {
    assert.deepStrictEqual(
      parseErrorRate("createLoadBalancerRule:530:0.2", isCommand),
      Either.right({ command: "createLoadBalancerRule", code: 530, rate: 0.2 })
    )
    assert.deepStrictEqual(parseErrorRate("*:503:5%", isCommand), Either.right({ command: "*", code: 503, rate: 0.05 }))
    assert.strictEqual(
      left(parseErrorRate("listZones:530", isCommand)),
      "--error-rate: 'listZones:530' is not COMMAND:CODE:RATE (e.g. createLoadBalancerRule:530:0.2 or *:503:5%)"
    )
    assert.strictEqual(
      left(parseErrorRate("listzones:530:1", isCommand)),
      "--error-rate: 'listzones' is not a command the simulator answers (names are case-sensitive; * means every command)"
    )
    assert.strictEqual(
      left(parseErrorRate("listZones:200:1", isCommand)),
      "--error-rate: code '200' is not an error code in 400..599"
    )
    assert.strictEqual(
      left(parseErrorRate("listZones:5x0:1", isCommand)),
      "--error-rate: code '5x0' is not an error code in 400..599"
    )
    assert.strictEqual(
      left(parseErrorRate("listZones:530:2", isCommand)),
      "--error-rate: '2' is not a rate (a number from 0 to 1, or a percentage such as 5%)"
    )
  })

  it("--api-down FROM..UNTIL[:mode] in seconds after start", () => {
    assert.deepStrictEqual(
      parseApiDown("30..90"),
      Either.right({ fromSeconds: 30, untilSeconds: 90, mode: "unreachable" })
    )
    assert.deepStrictEqual(
      parseApiDown("0..2.5:unavailable"),
      Either.right({ fromSeconds: 0, untilSeconds: 2.5, mode: "unavailable" })
    )
    const usage = (t: string) =>
      `--api-down: '${t}' is not FROM..UNTIL[:unreachable|unavailable] in seconds after start (e.g. 30..90)`
    for (const bad of ["30", "30-90", "a..b", "-1..5", "1..2..3", "1..2:x:y"]) {
      assert.strictEqual(left(parseApiDown(bad)), usage(bad))
    }
    assert.strictEqual(
      left(parseApiDown("90..30")),
      "--api-down: '90..30' ends before it starts (UNTIL must be after FROM)"
    )
    assert.strictEqual(
      left(parseApiDown("5..5")),
      "--api-down: '5..5' ends before it starts (UNTIL must be after FROM)"
    )
    assert.strictEqual(
      left(parseApiDown("1..2:down")),
      "--api-down: mode 'down' is neither unreachable nor unavailable"
    )
  })

  it("faultsOf places the window after the start; describeFaults says each active fault", () => {
    const flags = {
      jobDuration: Option.some(Duration.seconds(5)),
      latency: Option.none(),
      jobFailureRate: Option.some(0.1),
      errorRates: [{ command: "*", code: 503, rate: 0.05 }],
      apiDown: Option.some({ fromSeconds: 30, untilSeconds: 90.5, mode: "unavailable" as const })
    }
    const faults = faultsOf(flags, 1_000_000)
    assert.deepStrictEqual(faults.apiDown, Option.some({ from: 1_030_000, until: 1_090_500, mode: "unavailable" }))
    assert.deepStrictEqual([faults.jobDuration, faults.jobFailureRate, faults.errorRates], [
      Duration.seconds(5),
      0.1,
      flags.errorRates
    ])
    assert.isFalse("latency" in faults)
    assert.deepStrictEqual(describeFaults(flags), [
      "job duration: 5s per async job",
      "job failures: 10% of async jobs fail (530)",
      "errors: every command answers 503 for 5% of calls",
      "API down: 30s..90.5s after start (unavailable)"
    ])
  })
})
