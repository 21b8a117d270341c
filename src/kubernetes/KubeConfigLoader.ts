/**
 * Loads the Kubernetes client configuration the way client-go's BuildConfigFromFlags does
 * (in-cluster, kubeconfig, `--master`), and inlines the files it names once. `layer` loads it once
 * for every client of the process that uses it. Failures are KubeConfigError; nothing here makes a
 * request.
 */
import * as k8s from "@kubernetes/client-node"
import { Context, Data, Effect, Layer } from "effect"
import { readFileSync } from "node:fs"

/** Where the API server is: neither field = in-cluster; `master` overrides the kubeconfig's server. */
export interface KubeConfigOptions {
  readonly kubeconfig?: string | undefined
  readonly master?: string | undefined
}

export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Kubernetes client configuration: ${this.detail}`
  }
}

/** Loads the client configuration the way client-go's BuildConfigFromFlags does. */
export const loadConfig = (options: KubeConfigOptions): Effect.Effect<k8s.KubeConfig, KubeConfigError> => {
  const master = options.master ?? ""
  const kubeconfig = options.kubeconfig ?? ""
  // client-node refuses plain http unless TLS verification is marked as skipped.
  const plainHttp = master.startsWith("http:")
  const foreign = (f: (config: k8s.KubeConfig) => void) =>
    Effect.try({
      try: () => {
        const config = new k8s.KubeConfig()
        f(config)
        return config
      },
      catch: (cause) => new KubeConfigError({ detail: cause instanceof Error ? cause.message : String(cause), cause })
    })
  if (kubeconfig === "" && master !== "") {
    return foreign((config) =>
      config.loadFromClusterAndUser({ name: "master", server: master, skipTLSVerify: plainHttp }, { name: "anonymous" })
    )
  }
  if (kubeconfig === "" && (process.env["KUBERNETES_SERVICE_HOST"] ?? "") === "") {
    return Effect.fail(
      new KubeConfigError({
        detail: "no API server: pass --kubeconfig or --master, or run in a cluster (KUBERNETES_SERVICE_HOST)"
      })
    )
  }
  const loaded = foreign((config) => kubeconfig === "" ? config.loadFromCluster() : config.loadFromFile(kubeconfig))
  if (master === "") return loaded
  return Effect.flatMap(loaded, (config) => {
    const current = config.getCurrentCluster()
    if (current === null) return Effect.fail(new KubeConfigError({ detail: "the kubeconfig has no current cluster" }))
    return foreign((overridden) =>
      overridden.loadFromOptions({
        clusters: config.clusters.map((cluster) =>
          cluster.name === current.name
            ? { ...cluster, server: master, skipTLSVerify: cluster.skipTLSVerify || plainHttp }
            : cluster
        ),
        users: config.users,
        contexts: config.contexts,
        currentContext: config.currentContext
      })
    )
  })
}

/**
 * client-node reads the CA, client certificate and key files again for every request (a sync file
 * read each time); client-go reads them once. A copy of the configuration with those files inlined
 * as data; a file that cannot be read fails here, once, instead of every request later.
 */
export const inlineFiles = (config: k8s.KubeConfig): Effect.Effect<k8s.KubeConfig, KubeConfigError> =>
  Effect.try({
    try: () => {
      const data = (file: string) => readFileSync(file).toString("base64")
      const inlined = new k8s.KubeConfig()
      inlined.loadFromOptions({
        clusters: config.clusters.map(({ caFile, ...cluster }) =>
          caFile === undefined || caFile === "" ? cluster : { ...cluster, caData: data(caFile) }
        ),
        users: config.users.map(({ certFile, keyFile, ...user }) => ({
          ...user,
          ...(certFile === undefined || certFile === "" ? {} : { certData: data(certFile) }),
          ...(keyFile === undefined || keyFile === "" ? {} : { keyData: data(keyFile) })
        })),
        contexts: config.contexts,
        currentContext: config.currentContext
      })
      return inlined
    },
    catch: (cause) => new KubeConfigError({ detail: cause instanceof Error ? cause.message : String(cause), cause })
  })

/** A loaded client configuration with its files inlined (`layer`), shared by the clients built on it. */
export class LoadedKubeConfig extends Context.Tag("cloudstack-ccm/kubernetes/LoadedKubeConfig")<
  LoadedKubeConfig,
  k8s.KubeConfig
>() {}

/** Where a configuration comes from, for the log line (never a server's credentials). */
const sourceOf = (options: KubeConfigOptions) => ({
  source: (options.kubeconfig ?? "") !== "" ? "kubeconfig" : (options.master ?? "") !== "" ? "master" : "in-cluster",
  ...((options.kubeconfig ?? "") === "" ? {} : { kubeconfig: options.kubeconfig }),
  ...((options.master ?? "") === "" ? {} : { master: options.master })
})

/**
 * The configuration loaded and inlined once (logged at Debug): the clients of the process built on
 * this one layer value share it (the main client, the secure port's reviews).
 */
export const layer = (options: KubeConfigOptions): Layer.Layer<LoadedKubeConfig, KubeConfigError> =>
  Layer.effect(
    LoadedKubeConfig,
    Effect.flatMap(loadConfig(options), inlineFiles).pipe(
      Effect.tap(
        Effect.logDebug("kubernetes client configuration loaded").pipe(
          Effect.annotateLogs({ module: "KubeConfigLoader", ...sourceOf(options) })
        )
      )
    )
  )
