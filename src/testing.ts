/**
 * `cloudstack-ccm/testing`: the simulated outside worlds, for tests and demos of your own. An
 * in-memory CloudStack management server (`Simulator`, in process or over loopback HTTP), its demo
 * world and scenario Schema, an in-memory Kubernetes API (`FakeKubernetes`) and a cloud-config that
 * signs as a world's default account (`SimulatedCloudConfig`), and a driver that runs a program on
 * virtual time at CPU speed (`VirtualTime`).
 */
export * as CloudStackSimulator from "./simulation/cloudstack/CloudStackSimulator.js"
export * as DemoWorld from "./simulation/cloudstack/DemoWorld.js"
export * as Simulator from "./simulation/cloudstack/Simulator.js"
export * as SimulatorHttpServer from "./simulation/cloudstack/SimulatorHttpServer.js"
export * as World from "./simulation/cloudstack/World.js"
export * as DemoCluster from "./simulation/DemoCluster.js"
export * as FakeKubernetes from "./simulation/FakeKubernetes.js"
export * as SimulatedCloudConfig from "./simulation/SimulatedCloudConfig.js"
export * as VirtualTime from "./simulation/VirtualTime.js"
