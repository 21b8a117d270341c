import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, Option } from "effect"
import { parse, type ParsedRunFlags, type RunFlagsError, usage } from "../../src/cli/RunFlags.js"

const ok = (tokens: ReadonlyArray<string>): ParsedRunFlags => {
  const result = parse(tokens)
  if (Either.isLeft(result)) assert.fail(result.left.message)
  return result.right
}
const bad = (tokens: ReadonlyArray<string>): RunFlagsError => {
  const result = parse(tokens)
  if (Either.isRight(result)) return assert.fail("expected an error")
  return result.left
}
const cfg = ["--cloud-config=/config/cloud-config"]

describe("RunFlags.parse", () => {
  it("gives the k8s CCM defaults", () => {
    const { flags, warnings } = ok(cfg)
    assert.deepStrictEqual(warnings, [])
    assert.strictEqual(flags.cloudProvider, "external-cloudstack")
    assert.deepStrictEqual(flags.cloudConfig, Option.some("/config/cloud-config"))
    assert.isTrue(Option.isNone(flags.kubeconfig))
    assert.deepStrictEqual(flags.controllers, [
      "cloud-node-controller",
      "cloud-node-lifecycle-controller",
      "service-lb-controller"
    ])
    assert.isTrue(flags.leaderElection.enabled)
    assert.strictEqual(flags.leaderElection.namespace, "kube-system")
    assert.strictEqual(flags.leaderElection.name, "cloud-controller-manager")
    assert.deepStrictEqual(
      [flags.leaderElection.leaseDuration, flags.leaderElection.renewDeadline, flags.leaderElection.retryPeriod].map(
        Duration.toSeconds
      ),
      [15, 10, 2]
    )
    assert.strictEqual(flags.securePort, 10258)
    assert.strictEqual(flags.bindAddress, "0.0.0.0")
    assert.isFalse(flags.plainHttp)
    assert.strictEqual(Duration.toMinutes(flags.nodeStatusUpdateFrequency), 5)
    assert.strictEqual(Duration.toSeconds(flags.nodeMonitorPeriod), 5)
    assert.strictEqual(Duration.toMinutes(flags.informerSyncGrace), 2)
    assert.strictEqual(flags.concurrentServiceSyncs, 20)
    assert.strictEqual(flags.clusterName, "kubernetes")
    assert.strictEqual(flags.verbosity, 0)
  })

  it("reads the upstream Deployment's arguments and pflag syntaxes", () => {
    const { flags } = ok([
      "--leader-elect=true",
      "--cloud-provider=external-cloudstack",
      "--cloud-config=/config/cloud-config",
      "--kubeconfig",
      "/etc/kubernetes/ccm.conf",
      "--leader-elect-lease-duration=30s",
      "--leader-elect-renew-deadline",
      "20s",
      "--concurrent-service-syncs=4",
      "-v=4",
      "--bind-address=127.0.0.1",
      "--secure-port",
      "0"
    ])
    assert.deepStrictEqual(flags.kubeconfig, Option.some("/etc/kubernetes/ccm.conf"))
    assert.strictEqual(Duration.toSeconds(flags.leaderElection.leaseDuration), 30)
    assert.strictEqual(Duration.toSeconds(flags.leaderElection.renewDeadline), 20)
    assert.strictEqual(flags.concurrentServiceSyncs, 4)
    assert.strictEqual(flags.verbosity, 4)
    assert.strictEqual(flags.securePort, 0)
    assert.strictEqual(ok([...cfg, "-v", "2"]).flags.verbosity, 2)
    assert.strictEqual(ok([...cfg, "-v6"]).flags.verbosity, 6)
    assert.strictEqual(ok([...cfg, "--v=3"]).flags.verbosity, 3)
    assert.strictEqual(Duration.toSeconds(ok([...cfg, "--informer-sync-grace=45s"]).flags.informerSyncGrace), 45)
    assert.match(bad([...cfg, "--informer-sync-grace=0s"]).message, /--informer-sync-grace: must be greater than zero/)
  })

  it("bools: bare means true, =false turns off, the last occurrence wins", () => {
    assert.isFalse(ok([...cfg, "--leader-elect=false"]).flags.leaderElection.enabled)
    assert.isTrue(ok([...cfg, "--leader-elect=false", "--leader-elect"]).flags.leaderElection.enabled)
    assert.isTrue(ok([...cfg, "--plain-http"]).flags.plainHttp)
    assert.match(bad([...cfg, "--leader-elect=maybe"]).message, /--leader-elect: invalid boolean "maybe"/)
  })

  it("--controllers: aliases, canonical names, -name, * and -*", () => {
    const c = (v: string) => ok(["--cloud-config=/c", `--controllers=${v}`]).flags.controllers
    assert.deepStrictEqual(c("*,-service"), ["cloud-node-controller", "cloud-node-lifecycle-controller"])
    assert.deepStrictEqual(c("service"), ["service-lb-controller"])
    assert.deepStrictEqual(c("cloud-node-lifecycle-controller,service-lb-controller"), [
      "cloud-node-lifecycle-controller",
      "service-lb-controller"
    ])
    assert.deepStrictEqual(c("-*"), [])
    assert.deepStrictEqual(c("-cloud-node,*"), ["cloud-node-lifecycle-controller", "service-lb-controller"])
    const route = ok(["--cloud-config=/c", "--controllers=*,route"])
    assert.strictEqual(route.flags.controllers.length, 3)
    assert.match(route.warnings[0] ?? "", /route controller is not supported/)
    assert.match(bad(["--cloud-config=/c", "--controllers=*,nodes"]).message, /unknown controller "nodes"/)
  })

  it("delegated authn/authz of the secure port: the k8s CCM's flags and defaults, real now (no warning)", () => {
    const defaults = ok(cfg).flags.delegatedAuth
    assert.deepStrictEqual(defaults.alwaysAllowPaths, ["/healthz", "/readyz", "/livez"])
    assert.deepStrictEqual([defaults.authenticationKubeconfig, defaults.authorizationKubeconfig], [
      Option.none(),
      Option.none()
    ])
    assert.deepStrictEqual(
      [defaults.tokenCacheTtl, defaults.allowCacheTtl, defaults.denyCacheTtl].map(Duration.toSeconds),
      [10, 10, 10]
    )
    const { flags, warnings } = ok([
      ...cfg,
      "--authentication-kubeconfig=/etc/authn.conf",
      "--authorization-kubeconfig",
      "/etc/authz.conf",
      "--authorization-always-allow-paths=/healthz,/metrics,/debug/*",
      "--authentication-skip-lookup",
      "--authentication-tolerate-lookup-failure=false",
      "--authentication-token-webhook-cache-ttl=0",
      "--authorization-webhook-cache-authorized-ttl=1m",
      "--authorization-webhook-cache-unauthorized-ttl=5s"
    ])
    assert.deepStrictEqual(warnings, [])
    assert.deepStrictEqual(flags.delegatedAuth.authenticationKubeconfig, Option.some("/etc/authn.conf"))
    assert.deepStrictEqual(flags.delegatedAuth.authorizationKubeconfig, Option.some("/etc/authz.conf"))
    assert.deepStrictEqual(flags.delegatedAuth.alwaysAllowPaths, ["/healthz", "/metrics", "/debug/*"])
    assert.deepStrictEqual(
      [flags.delegatedAuth.tokenCacheTtl, flags.delegatedAuth.allowCacheTtl, flags.delegatedAuth.denyCacheTtl].map(
        Duration.toSeconds
      ),
      [0, 60, 5]
    )
    assert.deepStrictEqual(ok([...cfg, "--authorization-always-allow-paths="]).flags.delegatedAuth.alwaysAllowPaths, [])
    assert.deepStrictEqual(
      bad([...cfg, "--authorization-always-allow-paths=/a*b", "--authentication-skip-lookup=maybe"]).issues,
      [
        "--authorization-always-allow-paths: only a trailing * is allowed in \"/a*b\"",
        "--authentication-skip-lookup: invalid boolean \"maybe\" (use true or false)"
      ]
    )
  })

  it("needs --cloud-config unless every controller is disabled", () => {
    assert.match(bad([]).message, /--cloud-config is required/)
    assert.isTrue(Option.isNone(ok(["--controllers=-*"]).flags.cloudConfig))
  })

  it("accepts other k8s CCM flags with a warning, consuming their values", () => {
    const { flags, warnings } = ok([
      ...cfg,
      "--configure-cloud-routes=false",
      "--cluster-cidr",
      "10.0.0.0/16",
      "--profiling",
      "--feature-gates=A=true",
      "--v=1"
    ])
    assert.strictEqual(warnings.length, 4)
    assert.match(warnings[1] ?? "", /--cluster-cidr is accepted .* and ignored/)
    assert.strictEqual(flags.verbosity, 1)
  })

  it("accepts the 1.20 CCM's deprecated insecure serving flags (--port=0, --address) with a warning", () => {
    const { flags, warnings } = ok([...cfg, "--port=0", "--address", "0.0.0.0", "--secure-port=10258"])
    assert.strictEqual(warnings.length, 2)
    assert.match(warnings[0] ?? "", /--port is accepted .* and ignored/)
    assert.match(warnings[1] ?? "", /--address is accepted .* and ignored/)
    assert.strictEqual(flags.securePort, 10258)
    assert.strictEqual(ok([...cfg, "--port", "10253"]).warnings.length, 1)
  })

  it("reports every problem at once, on one line", () => {
    const error = bad([
      "--cloud-provider=aws",
      "--bogus=1",
      "--leader-elect-lease-duration=5s",
      "--node-monitor-period=soon",
      "--secure-port=70000",
      "--tls-cert-file=/x.crt",
      "stray"
    ])
    const text = error.message
    assert.notInclude(text, "\n")
    for (
      const expected of [
        "cloud-provider: \"aws\"",
        "unknown flag: --bogus",
        "lease-duration must be greater than --leader-elect-renew-deadline",
        "--node-monitor-period: invalid duration \"soon\"",
        "--secure-port",
        "--tls-cert-file and --tls-private-key-file must be given together",
        "unexpected argument \"stray\"",
        "--cloud-config is required"
      ]
    ) assert.include(text, expected)
  })

  it("an invalid duration is reported alone, without a timing rule it would spuriously break", () => {
    assert.deepStrictEqual(bad([...cfg, "--leader-elect-lease-duration=abc"]).issues, [
      "--leader-elect-lease-duration: invalid duration \"abc\" (e.g. 15s, 5m, 1h30m)"
    ])
    assert.deepStrictEqual(bad([...cfg, "--leader-elect-retry-period=x"]).issues, [
      "--leader-elect-retry-period: invalid duration \"x\" (e.g. 15s, 5m, 1h30m)"
    ])
    assert.deepStrictEqual(bad([...cfg, "--leader-elect-lease-duration=5s"]).issues, [
      "--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline"
    ])
  })

  it("leader-election timing rules apply only when leader election is on", () => {
    assert.match(bad([...cfg, "--leader-elect-retry-period=9s"]).message, /renew-deadline must be greater than 1.2 x/)
    assert.isFalse(ok([...cfg, "--leader-elect=false", "--leader-elect-retry-period=9s"]).flags.leaderElection.enabled)
    assert.match(bad([...cfg, "--leader-elect-resource-lock=endpoints"]).message, /only "leases"/)
  })

  it("missing values and unknown shorthands are errors", () => {
    assert.match(bad([...cfg, "--kubeconfig"]).message, /flag needs an argument: --kubeconfig/)
    assert.match(bad([...cfg, "-x"]).message, /unknown shorthand flag: -x/)
  })

  it("usage lists every implemented flag with its default", () => {
    const text = usage()
    assert.include(text, "--leader-elect-renew-deadline duration (default 10s)")
    assert.include(text, "--secure-port int (default 10258)")
    assert.include(text, "--plain-http (default false)\n")
  })
})
