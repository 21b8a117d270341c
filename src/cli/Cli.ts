/**
 * The `cloudstack-ccm` command tree (@effect/cli). The root command runs the controller manager
 * with the k8s CCM flags (`RunCommand`); everything else is a subcommand, one file each,
 * registered in `subcommands` below. Runs nothing itself: `bin.ts` provides the platform.
 */
import { CliApp, Command, CommandDescriptor } from "@effect/cli"
import { Cause, Data, Effect, Exit } from "effect"
import * as CheckCommand from "./CheckCommand.js"
import * as OrphansCommand from "./OrphansCommand.js"
import { reportFailure } from "./ReportFailure.js"
import * as RunCommand from "./RunCommand.js"
import * as SimulateCommand from "./SimulateCommand.js"
import * as SimulatorCommand from "./SimulatorCommand.js"

export const version = "0.1.0"

/**
 * `cloudstack-ccm [k8s CCM flags]` runs the controller manager (a drop-in for the upstream image's
 * command line; see RunCommand/RunFlags). Validating a cloud-config alone is the `check` subcommand.
 */
export const rootCommand = Command.make(
  "cloudstack-ccm",
  { flags: RunCommand.flagsArgs },
  ({ flags }) => RunCommand.runWithTokens(flags)
).pipe(
  Command.withDescription("Cloud controller manager for Apache CloudStack (k8s cloud-controller-manager flags).")
)

/** Arguments a subcommand did not recognise (@effect/cli hands them to the root command's flags). */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly command: string
  readonly args: ReadonlyArray<string>
}> {
  override get message(): string {
    const first = this.args[0] ?? ""
    const what = first.startsWith("-") ? `unknown option ${first}` : `unexpected argument "${first}"`
    return `${this.command}: ${what}${
      this.args.length > 1 ? ` (in: ${this.args.join(" ")})` : ""
    }; see cloudstack-ccm ${this.command} --help`
  }
}

/**
 * Rejects what the subcommand left over. @effect/cli re-parses a subcommand's unknown options and
 * extra arguments as the root command's (k8s) flags, where they would be dropped silently.
 */
const strict = <Name extends string, R, E, A>(sub: Command.Command<Name, R, E, A>) =>
  Command.transformHandler(
    sub,
    (effect) =>
      Effect.flatMap(rootCommand, ({ flags }) =>
        flags.length === 0
          ? Effect.void
          : Effect.fail(new UsageError({ command: nameOf(sub.descriptor), args: flags }))).pipe(
          Effect.zipRight(effect)
        )
  )

const nameOf = <A>(descriptor: CommandDescriptor.Command<A>): string =>
  [...CommandDescriptor.getNames(descriptor)][0] ?? ""

/**
 * Every subcommand, ONE line each. To add one, write `src/cli/<Name>Command.ts` exporting
 * `command` (an @effect/cli `Command`), import it above and list it here. A handler may require
 * only the platform (`CliApp.Environment`, from NodeContext); it provides its own layers
 * (CloudConfig, CloudStack, Kubernetes...) with `Effect.provide`/`Command.provide` inside its file.
 */
const subcommands = [
  strict(CheckCommand.command),
  strict(SimulatorCommand.command),
  strict(SimulateCommand.command),
  strict(OrphansCommand.command),
  strict(RunCommand.command)
] as const

export const command = rootCommand.pipe(Command.withSubcommands(subcommands))

/** Parses `argv` (as `process.argv`: node, script, args...) and runs the chosen command. */
export const run = Command.run(command, { name: "cloudstack-ccm", version })

const builtins: ReadonlySet<string> = new Set(["--help", "-h", "--version"])

/**
 * Moves `--help`/`-h`/`--version` to just after the subcommand path: @effect/cli honours them only
 * there, while users append them anywhere (`cloudstack-ccm check --cloud-config f --help`).
 * Arguments after `--` are left alone. Pure.
 */
export const normalizeArgs = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const end = args.includes("--") ? args.indexOf("--") : args.length
  const flag = args.slice(0, end).find((a) => builtins.has(a))
  if (flag === undefined) return args
  const rest = args.filter((a, i) => i >= end || !builtins.has(a))
  const firstFlag = rest.findIndex((a) => a.startsWith("-"))
  const pathLength = firstFlag === -1 ? rest.length : firstFlag
  return [...rest.slice(0, pathLength), flag, ...rest.slice(pathLength)]
}

/** Subcommands whose options @effect/cli parses (`run` and the root parse pflag syntax themselves). */
const effectCliCommands: ReadonlySet<string> = new Set(
  [
    nameOf(CheckCommand.command.descriptor),
    nameOf(SimulatorCommand.command.descriptor),
    nameOf(SimulateCommand.command.descriptor)
  ]
)

/** Repeatable options of the @effect/cli subcommands: @effect/cli matches them only as `--name value`. */
const repeatedOptions: ReadonlySet<string> = new Set(["--error-rate"])

/**
 * pflag's `--name=value` spellings @effect/cli does not take, for its subcommands: `--name=` (an
 * empty value) becomes `--name ""`, so the option's own check says what is wrong; a repeatable
 * option's `--name=value` becomes `--name value`. Arguments after `--` are left alone. Pure.
 */
export const splitEmptyValues = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (!effectCliCommands.has(args[0] ?? "")) return args
  const end = args.includes("--") ? args.indexOf("--") : args.length
  return args.flatMap((a, i) => {
    if (i >= end) return [a]
    const eq = a.indexOf("=")
    if (/^--[^=]+=$/.test(a)) return [a.slice(0, -1), ""]
    return eq > 2 && repeatedOptions.has(a.slice(0, eq)) ? [a.slice(0, eq), a.slice(eq + 1)] : [a]
  })
}

/**
 * `run`, then the process exit code: 0 on success; 1 after printing every error on stderr (no
 * stack traces; @effect/cli prints its own usage errors). Never fails.
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number, never, CliApp.CliApp.Environment> =>
  run([...argv.slice(0, 2), ...normalizeArgs(splitEmptyValues(argv.slice(2)))]).pipe(
    Effect.as(0),
    Effect.catchAllCause((cause) => Effect.as(reportFailure(cause), 1))
  )

/**
 * The process exit code for the end of `main`: its value on success; 0 when only interrupted
 * (SIGTERM/SIGINT is a clean shutdown); 1 for anything else (a defect escaping `main`).
 */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.match(exit, {
    onSuccess: (code) => (typeof code === "number" ? code : 0),
    onFailure: (cause) => (Cause.isInterruptedOnly(cause) ? 0 : 1)
  })
