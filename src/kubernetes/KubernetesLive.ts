/**
 * The composition of every live Kubernetes service over one KubeClient: what `main.ts` provides
 * for `--kubeconfig` / `--master` / in-cluster. Wiring only; each service lives in its own module.
 */
import { Layer } from "effect"
import * as EndpointSliceApi from "./EndpointSliceApi.js"
import * as EventApi from "./EventApi.js"
import * as KubeClient from "./KubeClient.js"
import * as KubeConfigLoader from "./KubeConfigLoader.js"
import type { KubeRateLimit } from "./KubeRateLimiter.js"
import * as LeaseApi from "./LeaseApi.js"
import * as NodeApi from "./NodeApi.js"
import * as ServiceApi from "./ServiceApi.js"

export type KubernetesServices =
  | NodeApi.NodeApi
  | ServiceApi.ServiceApi
  | EndpointSliceApi.EndpointSliceApi
  | EventApi.EventApi
  | LeaseApi.LeaseApi

/**
 * All live Kubernetes services over one kept-alive client; a `rate` gives each clientset (controllers,
 * informers, leader election) its own bucket at that rate, as the Go CCM's clientsets, so the total may
 * reach three times it. Fails with KubeConfigError when no API server can be configured.
 */
export const layer = (
  options: KubeConfigLoader.KubeConfigOptions,
  rate?: KubeRateLimit
): Layer.Layer<KubernetesServices, KubeConfigLoader.KubeConfigError> =>
  layerFrom(rate).pipe(Layer.provide(KubeConfigLoader.layer(options)))

/** `layer` over a configuration loaded elsewhere (`KubeConfigLoader.layer`, shared with other clients). */
export const layerFrom = (
  rate?: KubeRateLimit
): Layer.Layer<KubernetesServices, KubeConfigLoader.KubeConfigError, KubeConfigLoader.LoadedKubeConfig> =>
  Layer.mergeAll(NodeApi.layer, ServiceApi.layer, EndpointSliceApi.layer, EventApi.layer, LeaseApi.layer).pipe(
    Layer.provide(KubeClient.layerFrom(rate))
  )
