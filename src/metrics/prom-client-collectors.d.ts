/** prom-client ships its process collectors as CommonJS files without types: one signature for all. */
declare module "prom-client/lib/metrics/*.js" {
  import type { Registry } from "prom-client"
  const collector: (
    registry: Registry,
    config: {
      readonly prefix: string
      /** How often the event-loop-lag histogram samples, in ms. */
      readonly eventLoopMonitoringPrecision: number
    }
  ) => void
  export default collector
}
