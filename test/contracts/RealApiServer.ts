/**
 * Starts (or reuses) the real kube-apiserver for the contract suite via scripts/kube-apiserver.sh.
 * `KUBE_CONTRACT_KUBECONFIG` points at an already running server; otherwise a private one is
 * started on free loopback ports and stopped afterwards. A missing binary is a failure, never a skip.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const script = join(import.meta.dirname, "..", "..", "scripts", "kube-apiserver.sh")

/** Bearer tokens of the users in the server's token file (scripts/kube-apiserver.sh). */
export const TOKENS = {
  /** Group system:masters: everything, also under RBAC. */
  admin: "contract-test-admin-token",
  /** No rights until a test binds some. */
  metricsReader: "contract-test-metrics-token",
  nobody: "contract-test-nobody-token",
  ccm: "contract-test-ccm-token"
} as const

export interface RealApiServerOptions {
  /** `RBAC` starts a private server enforcing RBAC (never a shared KUBE_CONTRACT_KUBECONFIG one, which may allow all). */
  readonly authorization?: "AlwaysAllow" | "RBAC"
}

export interface RunningApiServer {
  readonly kubeconfig: string
  readonly stop: () => void
  /** Compacts etcd: Node watches from older versions then get 410 Gone. */
  readonly compact: () => void
}

/** What `scripts/kube-apiserver.sh path|kubectl-path` prints: the cached binary, or "" when there is none. */
const cachedPath = (command: "path" | "kubectl-path"): string => {
  try {
    return execFileSync(script, [command], { encoding: "utf8" }).trim()
  } catch {
    return ""
  }
}

export const startRealApiServer = (options: RealApiServerOptions = {}): RunningApiServer => {
  const rbac = options.authorization === "RBAC"
  const given = process.env["KUBE_CONTRACT_KUBECONFIG"]
  if (!rbac && given !== undefined && given !== "") {
    const state = process.env["KUBE_APISERVER_STATE"] ?? "/tmp/cloudstack-ccm-kube"
    return { kubeconfig: given, stop: () => undefined, compact: () => execFileSync(script, ["compact", state]) }
  }
  if (cachedPath("path") === "") {
    throw new Error(
      "No kube-apiserver binary: run `scripts/kube-apiserver.sh build` once (about 8 minutes; cached in " +
        "${KUBE_APISERVER_CACHE:-/var/cache/cloudstack-ccm}), or set KUBE_CONTRACT_KUBECONFIG to a running server."
    )
  }
  const state = mkdtempSync(join(tmpdir(), "ccm-contract-kube-"))
  const kubeconfig = execFileSync(script, ["start", state], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, KUBE_APISERVER_AUTHZ: rbac ? "RBAC" : "AlwaysAllow" }
  }).trim()
  return {
    kubeconfig,
    stop: () => execFileSync(script, ["stop", state], { stdio: "inherit" }),
    compact: () => execFileSync(script, ["compact", state])
  }
}

/**
 * kubectl v1.20.2 (Debian's kubernetes-client, with the kustomize that release embeds), fetched by
 * `scripts/kube-apiserver.sh build`. A missing binary is a failure, never a skip.
 */
export const kubectlPath = (): string => {
  const path = cachedPath("kubectl-path")
  if (path === "") {
    throw new Error(
      "No kubectl: run `scripts/kube-apiserver.sh build` once (it fetches Debian's kubernetes-client, seconds when the apiserver is cached)."
    )
  }
  return path
}
