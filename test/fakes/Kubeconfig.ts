/**
 * Writes a one-cluster kubeconfig with a bearer token to a fresh temporary directory, for tests of
 * the client's configuration and transport. Returns its path.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const writeKubeconfig = (
  server: string,
  options: { readonly token?: string; readonly skipTlsVerify?: boolean } = {}
): string => {
  const path = join(mkdtempSync(join(tmpdir(), "kubeconfig-test-")), "config")
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: c",
      "  cluster:",
      `    server: ${server}`,
      ...(options.skipTlsVerify === true ? ["    insecure-skip-tls-verify: true"] : []),
      "users:",
      "- name: u",
      "  user:",
      `    token: ${options.token ?? "t"}`,
      "contexts:",
      "- name: x",
      "  context: {cluster: c, user: u}",
      "current-context: x"
    ].join("\n")
  )
  return path
}
