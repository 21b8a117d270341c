/**
 * The public API of `cloudstack-ccm` (the package's `.` entry): the stable services, each as a
 * namespace named after its module. Every other module is internal and may change in any release;
 * the simulator and fakes are in `cloudstack-ccm/testing` (`testing.ts`).
 */

// Configuration: the cloud-config file (gcfg INI, the Go CCM's format) and its validated shape.
export * as CloudConfig from "./config/CloudConfig.js"
export * as CloudConfigError from "./config/CloudConfigError.js"
export * as CloudConfigFile from "./config/CloudConfigFile.js"
export * as CloudConfigParser from "./config/CloudConfigParser.js"
export * as CloudConfigRender from "./config/CloudConfigRender.js"
export * as CloudConfigSchema from "./config/CloudConfigSchema.js"

// CloudStack: the typed client, its transports, errors, ids and every command definition.
export * as CloudStackClient from "./cloudstack/CloudStackClient.js"
export * as CloudStackError from "./cloudstack/CloudStackError.js"
export * as CloudStackTransport from "./cloudstack/CloudStackTransport.js"
export * as Commands from "./cloudstack/Commands.js"
export * as HttpTransport from "./cloudstack/HttpTransport.js"
export * as Ids from "./cloudstack/Ids.js"

// Kubernetes: the narrow API services the controllers use, their views and the live wiring.
export * as EndpointSliceApi from "./kubernetes/EndpointSliceApi.js"
export * as EventApi from "./kubernetes/EventApi.js"
export * as Informer from "./kubernetes/Informer.js"
export * as KubeClient from "./kubernetes/KubeClient.js"
export * as KubeConfigLoader from "./kubernetes/KubeConfigLoader.js"
export * as KubeError from "./kubernetes/KubeError.js"
export * as KubeRequest from "./kubernetes/KubeRequest.js"
export * as KubernetesLive from "./kubernetes/KubernetesLive.js"
export * as LeaseApi from "./kubernetes/LeaseApi.js"
export * as NodeApi from "./kubernetes/NodeApi.js"
export * as NodeView from "./kubernetes/NodeView.js"
export * as ServiceApi from "./kubernetes/ServiceApi.js"
export * as ServiceView from "./kubernetes/ServiceView.js"
export * as WatchEvent from "./kubernetes/WatchEvent.js"

// The cloud provider: Instances (nodes to VMs), LoadBalancers (Services to LB rules), their annotations.
export * as Instances from "./provider/Instances.js"
export * as Annotations from "./provider/loadbalancer/Annotations.js"
export * as LoadBalancers from "./provider/loadbalancer/LoadBalancers.js"
export * as ProviderId from "./provider/ProviderId.js"

// Controllers: the three the CCM runs.
export * as Controller from "./controllers/Controller.js"
export * as NodeController from "./controllers/NodeController.js"
export * as NodeLifecycleController from "./controllers/NodeLifecycleController.js"
export * as ServiceController from "./controllers/ServiceController.js"

// Runtime: the composition root (start the CCM here), running controllers, leader election, health and metrics.
export * as Metrics from "./metrics/Metrics.js"
export * as Ccm from "./runtime/Ccm.js"
export * as CcmSettings from "./runtime/CcmSettings.js"
export * as ControllerManager from "./runtime/ControllerManager.js"
export * as HealthChecks from "./runtime/HealthChecks.js"
export * as HealthServer from "./runtime/HealthServer.js"
export * as LeaderElection from "./runtime/LeaderElection.js"
