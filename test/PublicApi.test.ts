/**
 * The package's public surface: `exports` names only the two entries (plus the bin), each pointing
 * at the build output of a module in src/, and the entries expose the stable services.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import * as Api from "../src/index.js"
import * as Testing from "../src/testing.js"

const pkg: unknown = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"))

describe("package entry points", () => {
  it("exports only . and ./testing, each built from a src module", () => {
    expect(pkg).toMatchObject({
      exports: {
        ".": { types: "./dist/src/index.d.ts", import: "./dist/src/index.js" },
        "./testing": { types: "./dist/src/testing.d.ts", import: "./dist/src/testing.js" }
      },
      bin: { "cloudstack-ccm": "dist/src/cli/bin.js" }
    })
    const exported = typeof pkg === "object" && pkg !== null && "exports" in pkg && typeof pkg.exports === "object" &&
        pkg.exports !== null
      ? Object.keys(pkg.exports)
      : []
    expect(exported).toEqual([".", "./testing"])
  })

  it("the main entry has the client, the commands, the Kubernetes services, the providers, the controllers and the runtime", () => {
    expect(Api.CloudStackClient.layer).toBeDefined()
    expect(Api.Commands.listVirtualMachines.name).toBe("listVirtualMachines")
    expect(Api.Commands.createLoadBalancerRule.name).toBe("createLoadBalancerRule")
    expect(Api.CloudConfigFile.layerFromString).toBeTypeOf("function")
    expect(Api.KubernetesLive.layer).toBeTypeOf("function")
    expect(Api.Instances.layer).toBeTypeOf("function")
    expect(Api.LoadBalancers.layer).toBeTypeOf("function")
    expect(Api.NodeController.make).toBeTypeOf("function")
    expect(Api.ServiceController.make).toBeTypeOf("function")
    expect(Api.Ccm.run).toBeTypeOf("function")
    expect(Api.Ccm.layer).toBeTypeOf("function")
    expect(Api.Ccm.liveBackends).toBeTypeOf("function")
    expect(Api.CcmSettings.defaults.securePort).toBe(10258)
    expect(Api.ControllerManager.run).toBeTypeOf("function")
    expect(Api.LeaderElection.layerDisabled).toBeTypeOf("function")
  })

  it("the testing entry has the simulator, the demo world, FakeKubernetes, the simulated cloud-config and virtual time", () => {
    expect(Testing.Simulator.layerWithTransport).toBeTypeOf("function")
    expect(Testing.DemoWorld.demoWorld.accounts.length).toBeGreaterThan(0)
    expect(Testing.FakeKubernetes.layer).toBeTypeOf("function")
    expect(Testing.SimulatedCloudConfig.simulatedCloudConfig().source).toBe("simulate (built-in)")
    expect(Testing.VirtualTime.runVirtual).toBeTypeOf("function")
  })
})
