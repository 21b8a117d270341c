/**
 * The deploy/ manifests against the code: the Deployment's command line parses with RunFlags exactly
 * as the upstream image's (no warnings), probes hit the HealthServer's port and scheme, the Secret
 * mount yields the --cloud-config path, and the ClusterRole grants every call the CCM makes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either, Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import * as YAML from "yaml"
import {
  bundleOptions,
  DEPLOYMENT_ENV,
  DEPLOYMENT_NODE_OPTIONS,
  IMAGE_ENTRY,
  IMAGE_NODE_ARGS
} from "../../bench/BenchProcess.js"
import { parse } from "../../src/cli/RunFlags.js"

const deploy = join(import.meta.dirname, "..", "..", "deploy")
const base = join(deploy, "base")
const docs = (file: string): ReadonlyArray<unknown> =>
  YAML.parseAllDocuments(readFileSync(join(base, file), "utf8")).map((d) => d.toJS())

const Probe = Schema.Struct({
  httpGet: Schema.Struct({ path: Schema.String, port: Schema.Number, scheme: Schema.String })
})
const Deployment = Schema.Struct({
  kind: Schema.Literal("Deployment"),
  metadata: Schema.Struct({ namespace: Schema.String }),
  spec: Schema.Struct({
    template: Schema.Struct({
      spec: Schema.Struct({
        serviceAccountName: Schema.String,
        containers: Schema.Tuple(Schema.Struct({
          args: Schema.Array(Schema.String),
          livenessProbe: Probe,
          readinessProbe: Probe,
          resources: Schema.Struct({
            limits: Schema.Struct({ memory: Schema.TemplateLiteralParser(Schema.NumberFromString, "Mi") })
          }),
          env: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, value: Schema.String }))),
          volumeMounts: Schema.Tuple(Schema.Struct({ name: Schema.String, mountPath: Schema.String }))
        })),
        volumes: Schema.Tuple(
          Schema.Struct({ name: Schema.String, secret: Schema.Struct({ secretName: Schema.String }) })
        )
      })
    })
  })
})
const Named = Schema.Struct({ name: Schema.String })
const Binding = Schema.Struct({
  kind: Schema.Literal("ClusterRoleBinding"),
  roleRef: Named,
  subjects: Schema.Tuple(Schema.Struct({ kind: Schema.String, name: Schema.String, namespace: Schema.String }))
})
const Rbac = Schema.Tuple(
  Schema.Struct({ kind: Schema.Literal("ServiceAccount"), metadata: Named }),
  Schema.Struct({
    kind: Schema.Literal("ClusterRole"),
    metadata: Named,
    rules: Schema.Array(
      Schema.Struct({
        apiGroups: Schema.Array(Schema.String),
        resources: Schema.Array(Schema.String),
        verbs: Schema.Array(Schema.String)
      })
    )
  }),
  Binding,
  Binding
)
const Entrypoint = Schema.parseJson(Schema.Array(Schema.String))

describe("deploy/ manifests", () => {
  const deployment = Schema.decodeUnknownSync(Deployment)(docs("deployment.yaml")[0])
  const pod = deployment.spec.template.spec
  const [container] = pod.containers

  it("the Deployment's args (after the image's entrypoint flag) parse cleanly, leader election on", () => {
    const entrypoint = Schema.decodeUnknownSync(Entrypoint)(
      readFileSync(join(deploy, "Dockerfile"), "utf8").match(/^ENTRYPOINT (.*)$/m)?.[1]
    )
    // node, its own flags, the bundle, then the CCM's flags
    const script = entrypoint.indexOf(`/app/${IMAGE_ENTRY}`)
    assert.deepStrictEqual(
      entrypoint.slice(1, script),
      [...IMAGE_NODE_ARGS],
      "the benchmarks run the bundle with these"
    )
    // The code cache is written by the image build with the same node flags as the entrypoint's
    // (V8 rejects it under others): after NODE_OPTIONS is set, with the entrypoint's own flags.
    const dockerfile = readFileSync(join(deploy, "Dockerfile"), "utf8")
    const written = /^RUN CLOUDSTACK_CCM_CODE_CACHE=write (.*) --version/m.exec(dockerfile)
    assert.deepStrictEqual(written?.[1]?.split(" "), entrypoint.slice(0, script + 1))
    assert.isAbove(written?.index ?? 0, dockerfile.indexOf("ENV NODE_OPTIONS="))
    assert.isBelow(written?.index ?? 0, dockerfile.indexOf("\nUSER "))
    const result = parse([...entrypoint.slice(script + 1), ...container.args])
    if (Either.isLeft(result)) return assert.fail(result.left.message)
    assert.deepStrictEqual(result.right.warnings, [])
    assert.isTrue(result.right.flags.leaderElection.enabled)
    assert.strictEqual(result.right.flags.cloudProvider, "external-cloudstack")
    assert.strictEqual(result.right.flags.securePort, 10258)
    // The upstream Secret, key cloud-config, mounted where --cloud-config points.
    const [mount] = container.volumeMounts
    const [volume] = pod.volumes
    assert.strictEqual(volume.secret.secretName, "cloudstack-secret")
    assert.strictEqual(mount.name, volume.name)
    assert.deepStrictEqual(result.right.flags.cloudConfig, Option.some(`${mount.mountPath}/cloud-config`))
  })

  it("the image's bundle is built with the esbuild options the benchmarks and the process tests use", () => {
    const dockerfile = readFileSync(join(deploy, "Dockerfile"), "utf8")
    const command = /npx esbuild src\/cli\/bin\.ts([\s\S]*?)--outfile=/.exec(dockerfile)?.[1] ?? ""
    const flags = command.replace(/\\\n/g, " ").split(/\s+/).filter((f) => f.startsWith("--"))
    assert.deepStrictEqual(
      flags.sort(),
      [
        "--bundle",
        "--minify",
        `--platform=${bundleOptions.platform}`,
        `--format=${bundleOptions.format}`,
        `--target=${bundleOptions.target}`,
        ...Object.entries(bundleOptions.alias).map(([name, path]) => `--alias:${name}=${path}`)
      ].sort()
    )
    // Every alias target is copied into the build stage.
    for (const path of Object.values(bundleOptions.alias)) {
      assert.match(dockerfile, new RegExp(`^COPY ${path.slice(2, path.lastIndexOf("/"))} `, "m"))
    }
  })

  it("the bundle's whatwg-url is Node's own URL (node-fetch's only use of it)", () => {
    const stub: unknown = createRequire(import.meta.url)(join(deploy, "bundle", "whatwg-url.cjs"))
    assert.deepStrictEqual(stub, { URL, URLSearchParams })
    const fetchSource = readFileSync(createRequire(import.meta.url).resolve("node-fetch"), "utf8")
    // node-fetch 2 reads whatwg-url only as the fallback of url.URL, which Node always has
    assert.deepStrictEqual(
      fetchSource.match(/whatwgUrl\.\w+/g)?.filter((use, i, all) => all.indexOf(use) === i),
      ["whatwgUrl.URL"]
    )
    assert.match(fetchSource, /Url\.URL \|\| whatwgUrl\.URL/)
  })

  it("probes /healthz on 10258 over HTTPS; the image's V8 heap cap leaves room below the memory limit", () => {
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      assert.deepStrictEqual(probe.httpGet, { path: "/healthz", port: 10258, scheme: "HTTPS" })
    }
    const [limitMi] = container.resources.limits.memory
    // The V8 flags fit only the bundle, so only the image that holds it sets them.
    const dockerfile = readFileSync(join(deploy, "Dockerfile"), "utf8")
    const imageEnv = (name: string) => new RegExp(`^ENV ${name}="?([^"\n]*)"?$`, "m").exec(dockerfile)?.[1]
    const heapMb = Number(imageEnv("NODE_OPTIONS")?.match(/--max-old-space-size=(\d+)/)?.[1])
    // Code, young generation, the node binary and buffers live outside the old-space heap: about
    // 50 MiB measured with glibc's mmap threshold lowered (bench/Memory.bench.ts), which must stay set.
    assert.isAtMost(heapMb + 50, limitMi)
    assert.isAtMost(limitMi, 120, "the Go image's limit")
    assert.strictEqual(imageEnv("MALLOC_MMAP_THRESHOLD_"), "32768")
    for (const [name, value] of Object.entries(DEPLOYMENT_ENV)) {
      assert.strictEqual(imageEnv(name), value, `the benchmarks run the bundle with ${name}=${value}`)
    }
    assert.deepStrictEqual(
      imageEnv("NODE_OPTIONS")?.split(" "),
      [...DEPLOYMENT_NODE_OPTIONS],
      "the benchmarks measure these"
    )
    assert.isUndefined(
      container.env?.find((e) => e.name === "NODE_OPTIONS"),
      "the Deployment leaves the V8 flags to the image"
    )
    assert.strictEqual(deployment.metadata.namespace, "kube-system")
  })

  it("the ClusterRole covers every API call of the CCM and is bound to the Deployment's ServiceAccount", () => {
    const [account, role, binding, delegation] = Schema.decodeUnknownSync(Rbac)(docs("rbac.yaml"))
    const allows = (group: string, resource: string, verb: string) =>
      role.rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb))
    const needed: ReadonlyArray<readonly [string, string, ReadonlyArray<string>]> = [
      ["coordination.k8s.io", "leases", ["get", "create", "update"]],
      ["", "events", ["create", "patch", "update"]],
      ["", "nodes", ["get", "list", "watch", "update", "patch", "delete"]],
      ["", "nodes/status", ["patch"]],
      ["", "services", ["get", "list", "watch", "patch"]],
      ["", "services/status", ["patch", "update"]],
      ["discovery.k8s.io", "endpointslices", ["list", "watch"]],
      ["", "configmaps", ["get", "list", "watch"]]
    ]
    for (const [group, resource, verbs] of needed) {
      for (const verb of verbs) assert.isTrue(allows(group, resource, verb), `${verb} ${group}/${resource}`)
    }
    assert.strictEqual(binding.roleRef.name, role.metadata.name)
    assert.deepStrictEqual(binding.subjects[0], {
      kind: "ServiceAccount",
      name: account.metadata.name,
      namespace: "kube-system"
    })
    assert.strictEqual(pod.serviceAccountName, account.metadata.name)
    // the secure port's TokenReviews and SubjectAccessReviews (test/e2e/SecureServing.test.ts grants the same)
    assert.strictEqual(delegation.roleRef.name, "system:auth-delegator")
    assert.deepStrictEqual(delegation.subjects[0], {
      kind: "ServiceAccount",
      name: account.metadata.name,
      namespace: "kube-system"
    })
  })
})
