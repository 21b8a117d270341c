import { Duration, Effect, Ref } from "effect"
import { assert, describe, it } from "vitest"
import { simulate } from "../../src/cli/SimulateCommand.js"
import { runScoped } from "../fakes/Virtual.js"

/** Runs the demo in-process on virtual time (within a virtual minute); returns its output. */
const run = (nodes: number, seed: number) =>
  Effect.gen(function*() {
    const out = yield* Ref.make<ReadonlyArray<string>>([])
    yield* simulate({
      seed,
      nodes,
      duration: Duration.seconds(6),
      providerName: "cloudstack",
      verbose: false,
      output: (text) => Ref.update(out, (lines) => [...lines, ...text.split("\n")])
    }).pipe(Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => "the demo ran over a minute" }))
    return yield* Ref.get(out)
  })

describe("cloudstack-ccm simulate (npm start)", () => {
  it("nodes report Ready and get initialised; the stopped VM's node is tainted, then untainted once started; the destroyed one is deleted", () =>
    Effect.gen(function*() {
      const lines = yield* run(8, 1)
      const text = lines.join("\n")
      // the 8 of the cluster, and joiner-1 of the LoadBalancer story
      assert.strictEqual(lines.filter((l) => l.includes("registered by kubelet")).length, 9)
      assert.strictEqual(lines.filter((l) => l.includes("kubelet reports Ready")).length, 9)
      assert.strictEqual(lines.filter((l) => l.includes("initialised: cloudstack:///")).length, 9)
      // The story, in order: stopped -> NotReady -> shutdown taint; started -> Ready -> taint removed; destroyed -> deleted.
      const story = [
        "CloudStack: stopping VM",
        "NotReady: kubelet stopped posting status",
        "VM stopped: shutdown taint added",
        "CloudStack: starting VM",
        "Ready again: kubelet posts status",
        "shutdown taint removed",
        "CloudStack: destroying VM",
        "NotReady: kubelet stopped posting status",
        "deleted: its VM no longer exists"
      ]
      const at = story.reduce<ReadonlyArray<number>>((found, step) => {
        const index = lines.findIndex((l, i) => i > (found.at(-1) ?? -1) && l.includes(step))
        assert.isAtLeast(index, 0, `"${step}" after "${story[found.length - 1] ?? "start"}"`)
        return [...found, index]
      }, [])
      assert.strictEqual(at.length, story.length)
      // The same node goes down and comes back.
      const stoppedNode = lines[at[1]!]?.slice(8, 37).trim()
      assert.strictEqual(lines[at[5]!]?.slice(8, 37).trim(), stoppedNode)
      const header = lines.findIndex((l) => l.startsWith("NODE") && l.includes("STATUS") && l.includes("PROVIDER ID"))
      assert.isAtLeast(header, 0)
      const rows = lines.slice(header + 2).filter((l) => l.includes("cloudstack:///"))
      assert.strictEqual(rows.length, 8)
      // A real cluster's steady state: every node Ready, no taint left (no not-ready, no shutdown).
      for (const row of rows) assert.match(row, /^\S+\s+Ready\s.*\s-$/, row)
      assert.include(text, "startVirtualMachine 1")
      assert.include(text, "Events: Synced 9, DeletingNode 1")
    }).pipe(runScoped))

  it("LoadBalancer Services: IP, rules, members and firewall; a port change; a node joins and is excluded; UDP refused on the VR, accepted on the Netscaler-like network; all released", () =>
    Effect.gen(function*() {
      const lines = yield* run(8, 1)
      const story = [
        /kubectl: Service web \(LoadBalancer, TCP 80 and 443\) on isolated1/,
        /web: status\.loadBalancer\.ingress 203\.0\.113\.\d+/,
        /web: rule tcp-80: 203\.0\.113\.\d+:80 -> nodePort \d+ roundrobin, \d+ members \(network isolated1\)/,
        /web: firewall tcp\/80 from 0\.0\.0\.0\/0/,
        /web: rule tcp-443: /,
        /kubectl: web's port 443 becomes 8443/,
        /web: rule tcp-8443: /,
        /CloudStack: VM joiner-1 deployed/,
        /web: joiner-1 is a member of every rule/,
        /web: joiner-1 removed from the rules/,
        /dns: Warning UnsupportedProtocol: port UDP\/53: the VirtualRouter provider of network isolated1 refuses udp rules/,
        /dns: no IP kept/,
        /dns-ns: status\.loadBalancer\.ingress 203\.0\.113\.\d+/,
        /dns-ns: rule udp-53: .* \(network isolated-ns\)/,
        /dns-ns: firewall udp\/53/,
        /kubectl: delete every Service/,
        /CloudStack: no LB rule left \(0\), \d+ IPs allocated \(the networks' source NAT only: yes\)/
      ]
      let from = -1
      for (const step of story) {
        const index = lines.findIndex((l, i) => i > from && step.test(l))
        assert.isAtLeast(index, 0, `${step} after line ${from}`)
        from = index
      }
      assert.isFalse(
        lines.some((l) =>
          /web: rule tcp-443: /.test(l) && lines.indexOf(l) > lines.findIndex((x) => x.includes("becomes 8443"))
        )
      )
    }).pipe(runScoped))

  it("the same seed gives the same run; more nodes than the demo world deploys VMs", () =>
    Effect.gen(function*() {
      const a = (yield* run(3, 7)).filter((l) => l.includes("registered by kubelet")).map((l) => l.slice(8))
      const b = (yield* run(3, 7)).filter((l) => l.includes("registered by kubelet")).map((l) => l.slice(8))
      assert.deepStrictEqual(a, b)
      const big = yield* run(16, 2)
      assert.strictEqual(big.filter((l) => l.includes("initialised:") && !l.includes("joiner-1")).length, 16)
      // 4 to reach 16 nodes, 1 for joiner-1
      assert.include(big.join("\n"), "deployVirtualMachine 5")
    }).pipe(runScoped))
})
