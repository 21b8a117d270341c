/**
 * The file-backed `CloudConfig`: reads the cloud-config through @effect/platform's `FileSystem`
 * and decodes it with the pure `CloudConfigParser`. The only place a cloud-config file is read;
 * file-system failures become a typed `CloudConfigError` naming the path.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Effect, Layer } from "effect"
import { CloudConfig, type CloudConfigShape } from "./CloudConfig.js"
import { CloudConfigError, ConfigIssue } from "./CloudConfigError.js"
import { parse, parseWithWarnings } from "./CloudConfigParser.js"

const readFailure = (path: string, error: PlatformError): CloudConfigError => {
  if (error._tag === "SystemError" && error.reason === "NotFound") {
    return new CloudConfigError({ path, issues: [ConfigIssue.FileNotFound()], cause: error })
  }
  const detail = error._tag === "BadArgument"
    ? "invalid path"
    : error.reason === "PermissionDenied"
    ? "permission denied"
    : error.reason === "BadResource"
    ? "not a regular file"
    : `${error.reason}${error.description === undefined ? "" : ` (${error.description})`}`
  return new CloudConfigError({ path, issues: [ConfigIssue.FileUnreadable({ detail })], cause: error })
}

/**
 * Reads and validates the cloud-config at `path`. Fails with `CloudConfigError` listing every
 * problem (file missing or unreadable, or all syntax and value errors). Not retryable.
 */
export const load = Effect.fn("CloudConfig.load")(function*(path: string) {
  return (yield* loadWithWarnings(path)).config
})

/** `load`, plus the warnings about the file (`ConfigWarning`: valid, but maybe not what was meant). */
export const loadWithWarnings = Effect.fn("CloudConfig.loadWithWarnings")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(path).pipe(Effect.mapError((error) => readFailure(path, error)))
  return yield* parseWithWarnings(text, path)
})

/** Validates cloud-config text; `source` names it in errors (tests, configs from a Secret). */
export const fromString = (
  text: string,
  source = "<cloud-config>"
): Effect.Effect<CloudConfigShape, CloudConfigError> => parse(text, source)

/** `CloudConfig` from the file at `path` (the `--cloud-config` flag). */
export const layerFromFile = (path: string): Layer.Layer<CloudConfig, CloudConfigError, FileSystem.FileSystem> =>
  Layer.effect(CloudConfig, load(path))

/** `CloudConfig` from text, for tests and embedded demo configs. */
export const layerFromString = (text: string, source = "<cloud-config>"): Layer.Layer<CloudConfig, CloudConfigError> =>
  Layer.effect(CloudConfig, fromString(text, source))
