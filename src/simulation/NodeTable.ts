/**
 * Human-readable renderings of Nodes for `cloudstack-ccm simulate`: the final table and the one-line
 * change descriptions printed as the controllers work. Pure: strings from NodeViews, no I/O.
 */
import { LABELS, TAINT_SHUTDOWN, TAINT_UNINITIALIZED } from "../controllers/NodePlan.js"
import type { NodeView } from "../kubernetes/NodeView.js"

const taintKeys = (node: NodeView): ReadonlyArray<string> => node.spec.taints.map((t) => t.key)

const shortTaint = (key: string): string =>
  key === TAINT_UNINITIALIZED
    ? "uninitialized"
    : key === TAINT_SHUTDOWN
    ? "shutdown"
    : key.replace(/^node\.kubernetes\.io\//, "")

const addresses = (node: NodeView): string =>
  node.status.addresses.map((a) => `${a.type === "InternalIP" ? "" : `${a.type}:`}${a.address}`).join(" ")

/** The Ready condition's status, or undefined when kubelet never reported. */
const readyStatus = (node: NodeView): string | undefined =>
  node.status.conditions.find((c) => c.type === "Ready")?.status

/** As `kubectl get nodes` prints it: Ready, NotReady, or Unknown when kubelet never reported. */
const statusOf = (node: NodeView): string => {
  const ready = readyStatus(node)
  return ready === undefined ? "Unknown" : ready === "True" ? "Ready" : "NotReady"
}

/** A fixed-width table with a header row; every column as wide as its widest cell. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/** NODE, STATUS, PROVIDER ID, TYPE, ZONE, REGION, ADDRESSES, TAINTS, sorted by name. */
export const nodesTable = (nodes: ReadonlyArray<NodeView>): string =>
  table(
    ["NODE", "STATUS", "PROVIDER ID", "INSTANCE TYPE", "ZONE", "REGION", "ADDRESSES", "TAINTS"],
    [...nodes]
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
      .map((n) => [
        n.metadata.name,
        statusOf(n),
        n.spec.providerID === "" ? "-" : n.spec.providerID,
        n.metadata.labels[LABELS.instanceType[0]] ?? "-",
        n.metadata.labels[LABELS.zone[0]] ?? "-",
        n.metadata.labels[LABELS.region[0]] ?? "-",
        addresses(n) || "-",
        taintKeys(n).map(shortTaint).join(",") || "-"
      ])
  )

/** What changed between two versions of a Node, as short human sentences (empty: nothing notable). */
export const describeChange = (before: NodeView | undefined, after: NodeView): ReadonlyArray<string> => {
  if (before === undefined) {
    return [`registered by kubelet${taintKeys(after).includes(TAINT_UNINITIALIZED) ? " (tainted uninitialized)" : ""}`]
  }
  const out: Array<string> = []
  const had = (key: string, n: NodeView) => taintKeys(n).includes(key)
  if (had(TAINT_UNINITIALIZED, before) && !had(TAINT_UNINITIALIZED, after)) {
    const labels = after.metadata.labels
    out.push(
      `initialised: ${after.spec.providerID}, type ${labels[LABELS.instanceType[0]] ?? "-"}, zone ${
        labels[LABELS.zone[0]] ?? "-"
      }, region ${labels[LABELS.region[0]] ?? "-"}`
    )
  }
  const [wasReady, isReady] = [readyStatus(before), readyStatus(after)]
  if (wasReady !== isReady) {
    out.push(
      isReady === "True"
        ? wasReady === undefined ? "kubelet reports Ready" : "Ready again: kubelet posts status"
        : isReady === "Unknown"
        ? "NotReady: kubelet stopped posting status"
        : "NotReady: kubelet reports not ready"
    )
  }
  if (!had(TAINT_SHUTDOWN, before) && had(TAINT_SHUTDOWN, after)) out.push("VM stopped: shutdown taint added")
  if (had(TAINT_SHUTDOWN, before) && !had(TAINT_SHUTDOWN, after)) out.push("shutdown taint removed")
  if (addresses(before) !== addresses(after)) out.push(`addresses: ${addresses(after) || "-"}`)
  return out
}
