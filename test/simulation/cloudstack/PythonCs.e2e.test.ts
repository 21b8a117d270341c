/**
 * An independent client drives the HTTP face: Debian's python3-cs (exoscale/cs 2.7.1), whose
 * signing code was written against the real management server, runs a load-balancer scenario
 * by GET and POST. If its signatures or our answers drift from CloudStack's, this fails.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { CloudStackSimulator } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import { demoWorld } from "../../../src/simulation/cloudstack/DemoWorld.js"
import { isCommand, layer as simulatorLayer } from "../../../src/simulation/cloudstack/Simulator.js"
import * as HttpFace from "../../../src/simulation/cloudstack/SimulatorHttpServer.js"
import { withKeys } from "../../../src/simulation/cloudstack/WorldKeys.js"

const PYTHON = "/usr/bin/python3"
const run = promisify(execFile)

class PythonError extends Data.TaggedError("PythonError")<{ readonly detail: string }> {}

/** Runs a python3 program; its stdout is returned, a failure carries stderr. */
const python = (program: string, env: Record<string, string>) =>
  Effect.tryPromise({
    try: (signal) => run(PYTHON, ["-c", program], { env: { ...process.env, ...env }, signal, timeout: 90_000 }),
    catch: (cause) => {
      const stderr = typeof cause === "object" && cause !== null && "stderr" in cause ? String(cause.stderr) : ""
      return new PythonError({ detail: `${String(cause)}\n${stderr}` })
    }
  }).pipe(Effect.map((r) => r.stdout))

const requirePythonCs = python("import cs, requests", {}).pipe(
  Effect.mapError((e) =>
    new PythonError({
      detail:
        `python3-cs is not installed for ${PYTHON}: run \`apt-get install python3-cs\` (CI does it in .ci/run)\n${e.detail}`
    })
  )
)

// Values avoid `~`: cs leaves it unescaped while the server encodes it (reference 1.4), so a
// real CloudStack would refuse such a request too.
const SCENARIO = String.raw`
import json, os
from cs import CloudStack, CloudStackApiException

ep, key, secret = os.environ["ENDPOINT"], os.environ["KEY"], os.environ["SECRET"]
opts = dict(endpoint=ep, key=key, secret=secret, poll_interval=0.02, job_timeout=60)
get = CloudStack(**opts)
post = CloudStack(method="post", **opts)
out = {}

out["zones"] = [z["name"] for z in get.listZones(fetch_list=True)]
nets = get.listNetworks(listall=True, fetch_list=True)
net = next(n for n in nets if "vpcid" not in n and any(s["name"] == "Lb" for s in n.get("service", [])))
vm = get.listVirtualMachines(networkid=net["id"], listall=True, fetch_list=True)[0]

ip = post.associateIpAddress(networkid=net["id"], fetch_result=True)["ipaddress"]
listed = get.listPublicIpAddresses(id=ip["id"], listall=True)["publicipaddress"][0]
out["ip"] = {"state": listed["state"], "onNetwork": listed["associatednetworkid"] == net["id"]}

rule = post.createLoadBalancerRule(
    publicipid=ip["id"], name="k8s-web", description="web * Zürich 1+1", algorithm="roundrobin",
    publicport=80, privateport=30080, networkid=net["id"], openfirewall="false", fetch_result=True)["loadbalancer"]
out["rule"] = {k: rule[k] for k in ("name", "description", "publicport", "privateport", "publicip")}
out["ipAddress"] = ip["ipaddress"]

post.assignToLoadBalancerRule(id=rule["id"], virtualmachineids=vm["id"], fetch_result=True)
members = get.listLoadBalancerRuleInstances(id=rule["id"])
out["members"] = [m["id"] for m in members.get("loadbalancerruleinstance", [])]
out["vm"] = vm["id"]

try:
    post.createLoadBalancerRule(
        publicipid=ip["id"], name="clash", algorithm="roundrobin", publicport=80, privateport=30081,
        networkid=net["id"], openfirewall="false")
    out["conflict"] = None
except CloudStackApiException as e:
    out["conflict"] = {"status": e.response.status_code, "error": e.error}

post.removeFromLoadBalancerRule(id=rule["id"], virtualmachineids=vm["id"], fetch_result=True)
post.deleteLoadBalancerRule(id=rule["id"], fetch_result=True)
post.disassociateIpAddress(id=ip["id"], fetch_result=True)
out["rulesAfter"] = get.listLoadBalancerRules(name="k8s-web", listall=True)
out["ipsAfter"] = get.listPublicIpAddresses(ipaddress=ip["ipaddress"], listall=True)

for name, client in (("tamperedGet", CloudStack(**dict(opts, secret=secret + "x"))),
                     ("tamperedPost", CloudStack(method="post", **dict(opts, secret=secret + "x")))):
    try:
        client.listZones()
        out[name] = None
    except CloudStackApiException as e:
        out[name] = {"status": e.response.status_code, "body": e.response.text}

print(json.dumps(out))
`

const API_KEY = "python-cs-key"
const SECRET = "python-cs-secret/+="

describe("python3-cs against the HTTP face", () => {
  it.live("associates an IP, creates an LB rule, assigns a VM, hits 537, cleans up; a tampered signature gets the real 401", () =>
    Effect.gen(function*() {
      yield* requirePythonCs
      const simulator = yield* CloudStackSimulator
      yield* simulator.setFaults({ jobDuration: "20 millis" })
      const face = yield* HttpFace.SimulatorHttpServer
      const stdout = yield* python(SCENARIO, { ENDPOINT: face.apiUrl, KEY: API_KEY, SECRET })
      const out = JSON.parse(stdout)

      assert.deepStrictEqual(out.zones, demoWorld.zones.map((z) => z.name))
      assert.deepStrictEqual(out.ip, { state: "Allocated", onNetwork: true })
      assert.deepStrictEqual(out.rule, {
        name: "k8s-web",
        description: "web * Zürich 1+1",
        publicport: "80",
        privateport: "30080",
        publicip: out.ipAddress
      })
      assert.deepStrictEqual(out.members, [out.vm])
      assert.strictEqual(out.conflict.status, 537)
      assert.strictEqual(out.conflict.error.errorcode, 537)
      assert.strictEqual(out.conflict.error.cserrorcode, 4360)
      assert.deepStrictEqual(out.rulesAfter, {})
      assert.deepStrictEqual(out.ipsAfter, {})
      const unauthorized =
        `{"listzonesresponse":{"uuidList":[],"errorcode":401,"errortext":"unable to verify user credentials and/or request signature"}}`
      assert.deepStrictEqual(out.tamperedGet, { status: 401, body: unauthorized })
      assert.deepStrictEqual(out.tamperedPost, { status: 401, body: unauthorized })

      // every call reached the simulator signed by cs, GET and POST, with jobs polled to the end
      const counters = yield* simulator.counters
      for (
        const command of [
          "associateIpAddress",
          "assignToLoadBalancerRule",
          "deleteLoadBalancerRule",
          "disassociateIpAddress"
        ]
      ) {
        assert.strictEqual(counters.get(command), 1, command)
      }
      assert.strictEqual(counters.get("createLoadBalancerRule"), 2)
      assert.isAbove(counters.get("queryAsyncJobResult") ?? 0, 4)
      const state = yield* simulator.state
      assert.strictEqual(state.lbRules.length, 0)
    }).pipe(Effect.provide(Face)))
})

const Simulator = simulatorLayer(withKeys(demoWorld, { apiKey: API_KEY, secretKey: SECRET }), { seed: 7 })
const Face = HttpFace.layer({ port: 0, isCommand }).pipe(Layer.provideMerge(Simulator))
