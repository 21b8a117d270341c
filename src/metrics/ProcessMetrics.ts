/**
 * prom-client's process metrics (CPU, RSS, fds, event-loop lag, handles, heap, version), each
 * collector of `collectDefaultMetrics` but its GC histogram. That one observes every collection
 * through a `gc` PerformanceObserver: Node builds an entry per collection (with four deprecated
 * accessors, a new hidden class each) and keeps it until the event loop turns to deliver it. While
 * a CPU-bound stretch keeps the loop busy under memory pressure, collections come milliseconds apart
 * and their entries pile up: megabytes held, which bring on more collections, at the worst moment.
 */
import type * as Prom from "prom-client"
import eventLoopLag from "prom-client/lib/metrics/eventLoopLag.js"
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js"
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed.js"
import osMemoryHeap from "prom-client/lib/metrics/osMemoryHeap.js"
import processCpuTotal from "prom-client/lib/metrics/processCpuTotal.js"
import processHandles from "prom-client/lib/metrics/processHandles.js"
import processMaxFileDescriptors from "prom-client/lib/metrics/processMaxFileDescriptors.js"
import processOpenFileDescriptors from "prom-client/lib/metrics/processOpenFileDescriptors.js"
import processRequests from "prom-client/lib/metrics/processRequests.js"
import processResources from "prom-client/lib/metrics/processResources.js"
import processStartTime from "prom-client/lib/metrics/processStartTime.js"
import version from "prom-client/lib/metrics/version.js"

/** What every collector takes (typed once, in prom-client-collectors.d.ts). */
export type ProcessMetricsConfig = Parameters<typeof processCpuTotal>[1]

/** Registers the process metrics on `registry`, in prom-client's order. */
export const register = (registry: Prom.Registry, config: ProcessMetricsConfig): void => {
  const collectors = [
    processCpuTotal,
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    eventLoopLag,
    // As prom-client: only where Node can list its active resources.
    ...(typeof process.getActiveResourcesInfo === "function" ? [processResources] : []),
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    version
  ]
  for (const collector of collectors) collector(registry, config)
}
