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

export interface RunningApiServer {
  readonly kubeconfig: string
  readonly stop: () => void
  /** Compacts etcd: Node watches from older versions then get 410 Gone. */
  readonly compact: () => void
}

export const startRealApiServer = (): RunningApiServer => {
  const given = process.env["KUBE_CONTRACT_KUBECONFIG"]
  if (given !== undefined && given !== "") {
    const state = process.env["KUBE_APISERVER_STATE"] ?? "/tmp/cloudstack-ccm-kube"
    return { kubeconfig: given, stop: () => undefined, compact: () => execFileSync(script, ["compact", state]) }
  }
  let binary = ""
  try {
    binary = execFileSync(script, ["path"], { encoding: "utf8" }).trim()
  } catch {
    binary = ""
  }
  if (binary === "") {
    throw new Error(
      "No kube-apiserver binary: run `scripts/kube-apiserver.sh build` once (about 8 minutes; cached in " +
        "${KUBE_APISERVER_CACHE:-/var/cache/cloudstack-ccm}), or set KUBE_CONTRACT_KUBECONFIG to a running server."
    )
  }
  const state = mkdtempSync(join(tmpdir(), "ccm-contract-kube-"))
  const kubeconfig = execFileSync(script, ["start", state], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()
  return {
    kubeconfig,
    stop: () => execFileSync(script, ["stop", state], { stdio: "inherit" }),
    compact: () => execFileSync(script, ["compact", state])
  }
}
