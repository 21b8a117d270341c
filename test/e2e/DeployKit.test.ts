/**
 * deploy/ as operators use it: every kustomization rendered by the real kustomize (kubectl v1.20.2's,
 * from Debian) and every object server-side dry-run against the real kube-apiserver (RBAC on), then
 * what matters asserted on the rendered objects: replicas, the PDB selecting the pods, tolerations and
 * placement, the NetworkPolicy on 10258, the Secret's name and key, the image and the flags. The RBAC
 * objects are applied for real and checked with SubjectAccessReviews: the CCM's ServiceAccount may do
 * what it needs, and the ServiceMonitor's Prometheus may `get /metrics` through the delegated authz.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as k8s from "@kubernetes/client-node"
import { Either, Option, Schema } from "effect"
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import * as YAML from "yaml"
import { IMAGE_ENTRY } from "../../bench/BenchProcess.js"
import { parse as parseRunFlags } from "../../src/cli/RunFlags.js"
import { parseWithWarnings } from "../../src/config/CloudConfigParser.js"
import * as AccessProblem from "../../src/kubernetes/AccessProblem.js"
import { repo } from "../cli/CliBundle.js"
import { kubectlPath, type RunningApiServer, startRealApiServer } from "../contracts/RealApiServer.js"

const deploy = join(repo, "deploy")

/** Every kustomization under deploy/, by what it is for. */
const KUSTOMIZATIONS = {
  base: "base",
  controlPlane: "overlays/control-plane",
  ha: "overlays/ha",
  networkPolicy: "addons/network-policy",
  monitoring: "addons/monitoring",
  cloudConfig: "cloud-config",
  example: "example"
} as const
type Kustomization = keyof typeof KUSTOMIZATIONS
const ALL = Object.keys(KUSTOMIZATIONS).filter((k): k is Kustomization => k in KUSTOMIZATIONS)
const WITH_DEPLOYMENT: ReadonlyArray<Kustomization> = ["base", "controlPlane", "ha", "example"]

// ---------------------------------------------------------------------------------------------
// What the tests read of the rendered objects (Struct ignores every other field)

const Labels = Schema.Record({ key: Schema.String, value: Schema.String })
const Meta = Schema.Struct({
  name: Schema.String,
  namespace: Schema.optional(Schema.String),
  labels: Schema.optional(Labels)
})
const Manifest = Schema.Struct({ apiVersion: Schema.String, kind: Schema.String, metadata: Meta })
type Manifest = typeof Manifest.Type
const Selector = Schema.Struct({ matchLabels: Labels })
const Toleration = Schema.Struct({
  key: Schema.optional(Schema.String),
  operator: Schema.optional(Schema.String),
  value: Schema.optional(Schema.String),
  effect: Schema.optional(Schema.String),
  tolerationSeconds: Schema.optional(Schema.Number)
})
const NodeSelectorTerm = Schema.Struct({
  matchExpressions: Schema.Array(Schema.Struct({ key: Schema.String, operator: Schema.String }))
})
const PodSpec = Schema.Struct({
  serviceAccountName: Schema.String,
  priorityClassName: Schema.optional(Schema.String),
  tolerations: Schema.Array(Toleration),
  affinity: Schema.optional(Schema.Struct({
    nodeAffinity: Schema.optional(Schema.Struct({
      requiredDuringSchedulingIgnoredDuringExecution: Schema.Struct({
        nodeSelectorTerms: Schema.Array(NodeSelectorTerm)
      })
    })),
    podAntiAffinity: Schema.optional(Schema.Struct({
      preferredDuringSchedulingIgnoredDuringExecution: Schema.Array(Schema.Struct({
        podAffinityTerm: Schema.Struct({ topologyKey: Schema.String, labelSelector: Selector })
      }))
    }))
  })),
  volumes: Schema.Array(Schema.Struct({ name: Schema.String, secret: Schema.Struct({ secretName: Schema.String }) })),
  containers: Schema.Tuple(Schema.Struct({
    image: Schema.String,
    args: Schema.Array(Schema.String),
    ports: Schema.Array(Schema.Struct({ name: Schema.String, containerPort: Schema.Number, protocol: Schema.String })),
    volumeMounts: Schema.Array(Schema.Struct({ name: Schema.String, mountPath: Schema.String })),
    resources: Schema.Struct({ limits: Schema.Struct({ memory: Schema.String }) })
  }))
})
const Deployment = Schema.Struct({
  kind: Schema.Literal("Deployment"),
  metadata: Meta,
  spec: Schema.Struct({
    replicas: Schema.Number,
    selector: Selector,
    template: Schema.Struct({ metadata: Schema.Struct({ labels: Labels }), spec: PodSpec })
  })
})
type Deployment = typeof Deployment.Type
const RawTemplate = Schema.Struct({ spec: Schema.Struct({ template: Schema.Struct({ spec: Schema.Unknown }) }) })
const Pdb = Schema.Struct({
  kind: Schema.Literal("PodDisruptionBudget"),
  metadata: Meta,
  spec: Schema.Struct({ minAvailable: Schema.Number, selector: Selector })
})
const NetworkPolicy = Schema.Struct({
  kind: Schema.Literal("NetworkPolicy"),
  metadata: Meta,
  spec: Schema.Struct({
    podSelector: Selector,
    policyTypes: Schema.Array(Schema.String),
    ingress: Schema.Array(Schema.Struct({
      from: Schema.optional(Schema.Array(Schema.Unknown)),
      ports: Schema.Array(Schema.Struct({ protocol: Schema.String, port: Schema.Number }))
    }))
  })
})
const Service = Schema.Struct({
  kind: Schema.Literal("Service"),
  metadata: Meta,
  spec: Schema.Struct({
    selector: Labels,
    ports: Schema.Array(Schema.Struct({
      name: Schema.String,
      port: Schema.Number,
      targetPort: Schema.Union(Schema.String, Schema.Number),
      protocol: Schema.String
    }))
  })
})
const ServiceMonitor = Schema.Struct({
  kind: Schema.Literal("ServiceMonitor"),
  metadata: Meta,
  spec: Schema.Struct({
    selector: Selector,
    namespaceSelector: Schema.Struct({ matchNames: Schema.Array(Schema.String) }),
    endpoints: Schema.Array(
      Schema.Struct({ port: Schema.String, scheme: Schema.String, path: Schema.String, bearerTokenFile: Schema.String })
    )
  })
})
const ClusterRole = Schema.Struct({
  kind: Schema.Literal("ClusterRole"),
  metadata: Meta,
  rules: Schema.Array(
    Schema.Struct({ nonResourceURLs: Schema.optional(Schema.Array(Schema.String)), verbs: Schema.Array(Schema.String) })
  )
})
const ClusterRoleBinding = Schema.Struct({
  kind: Schema.Literal("ClusterRoleBinding"),
  metadata: Meta,
  roleRef: Schema.Struct({ name: Schema.String }),
  subjects: Schema.Array(
    Schema.Struct({ kind: Schema.String, name: Schema.String, namespace: Schema.optional(Schema.String) })
  )
})
const Secret = Schema.Struct({ kind: Schema.Literal("Secret"), metadata: Meta, data: Labels })
const DryRunList = Schema.Struct({ kind: Schema.Literal("List"), items: Schema.Array(Manifest) })
const DryRunPod = Schema.Struct({
  kind: Schema.Literal("Pod"),
  spec: Schema.Struct({ priority: Schema.Number, tolerations: Schema.Array(Toleration) })
})
const Entrypoint = Schema.parseJson(Schema.Array(Schema.String))

// ---------------------------------------------------------------------------------------------
// Real kustomize, real kube-apiserver

let apiserver: RunningApiServer
let kubectl = ""

const run = (args: ReadonlyArray<string>, input?: string): string =>
  execFileSync(kubectl, [`--kubeconfig=${apiserver.kubeconfig}`, ...args], {
    encoding: "utf8",
    input: input ?? "",
    stdio: ["pipe", "pipe", "pipe"],
    maxBuffer: 32 * 1024 * 1024
  })

/** `kubectl kustomize deploy/<dir>`: the objects, as plain data. */
const render = (name: Kustomization): ReadonlyArray<unknown> =>
  YAML.parseAllDocuments(run(["kustomize", join(deploy, KUSTOMIZATIONS[name])])).map((d) => d.toJS())

const manifests = (objects: ReadonlyArray<unknown>) => objects.map((o) => Schema.decodeUnknownSync(Manifest)(o))
const one = <A, I>(schema: Schema.Schema<A, I>, objects: ReadonlyArray<unknown>): A => {
  const found = objects.filter((o) => Schema.is(schema)(o))
  const [first] = found
  if (found.length !== 1 || first === undefined) {
    throw new Error(`${found.length} objects of ${String(schema.ast)}, expected one`)
  }
  return first
}

/**
 * The server's v1.20 has no policy/v1 (1.21+); a PodDisruptionBudget's spec is the same in
 * policy/v1beta1, so it is dry-run in that version there. Everything else is sent as rendered.
 */
const forThisServer = (object: unknown): unknown =>
  Schema.is(Pdb)(object) && Schema.decodeUnknownSync(Manifest)(object).apiVersion === "policy/v1"
    ? { ...object, apiVersion: "policy/v1beta1" }
    : object

/** Server-side apply with dryRun=All of every object: what the server would store, as it answers. */
const dryRun = (objects: ReadonlyArray<unknown>): ReadonlyArray<Manifest> => {
  const list = { apiVersion: "v1", kind: "List", items: objects.map(forThisServer) }
  const out = run(["apply", "--server-side", "--dry-run=server", "-o", "json", "-f", "-"], JSON.stringify(list))
  const answer: unknown = JSON.parse(out)
  return Schema.is(DryRunList)(answer) ? answer.items : [Schema.decodeUnknownSync(Manifest)(answer)]
}

const apply = (objects: ReadonlyArray<unknown>) =>
  run(["apply", "--server-side", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }))

const selects = (
  selector: { readonly matchLabels: Readonly<Record<string, string>> },
  labels: Readonly<Record<string, string>> | undefined
) =>
  Object.keys(selector.matchLabels).length > 0 &&
  Object.entries(selector.matchLabels).every(([k, v]) => labels?.[k] === v)

const id = (m: Manifest) => `${m.kind}/${m.metadata.namespace ?? ""}/${m.metadata.name}`

/**
 * The fields of prometheus-operator's monitoring.coreos.com/v1 ServiceMonitor that deploy/ uses, with
 * their types (a structural schema: a misspelt field is refused by the server-side apply).
 */
const SERVICE_MONITOR_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "servicemonitors.monitoring.coreos.com" },
  spec: {
    group: "monitoring.coreos.com",
    scope: "Namespaced",
    names: {
      kind: "ServiceMonitor",
      listKind: "ServiceMonitorList",
      plural: "servicemonitors",
      singular: "servicemonitor"
    },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: {
        openAPIV3Schema: {
          type: "object",
          required: ["spec"],
          properties: {
            apiVersion: { type: "string" },
            kind: { type: "string" },
            metadata: { type: "object" },
            spec: {
              type: "object",
              required: ["endpoints", "selector"],
              properties: {
                jobLabel: { type: "string" },
                selector: {
                  type: "object",
                  properties: { matchLabels: { type: "object", additionalProperties: { type: "string" } } }
                },
                namespaceSelector: {
                  type: "object",
                  properties: { any: { type: "boolean" }, matchNames: { type: "array", items: { type: "string" } } }
                },
                endpoints: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: {
                      port: { type: "string" },
                      scheme: { type: "string", enum: ["http", "https"] },
                      path: { type: "string" },
                      interval: {
                        type: "string",
                        pattern:
                          "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
                      },
                      bearerTokenFile: { type: "string" },
                      tlsConfig: {
                        type: "object",
                        properties: { insecureSkipVerify: { type: "boolean" }, serverName: { type: "string" } }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }]
  }
}

const rendered = new Map<Kustomization, ReadonlyArray<unknown>>()
const renderedOf = (name: Kustomization): ReadonlyArray<unknown> => {
  const objects = rendered.get(name)
  if (objects === undefined) throw new Error(`${name} was not rendered`)
  return objects
}

beforeAll(() => {
  kubectl = kubectlPath()
  apiserver = startRealApiServer({ authorization: "RBAC" })
  for (const name of ALL) rendered.set(name, render(name))
  apply([SERVICE_MONITOR_CRD])
  run(["wait", "--for=condition=Established", "--timeout=60s", "crd/servicemonitors.monitoring.coreos.com"])
}, 180_000)

afterAll(() => {
  apiserver?.stop()
})

describe("deploy/ kustomizations (kubectl v1.20.2's kustomize, kube-apiserver v1.20.2)", () => {
  it("the list above is every kustomization under deploy/", () => {
    const found: Array<string> = []
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry)
        if (statSync(path).isDirectory()) walk(path)
        else if (entry === "kustomization.yaml") found.push(relative(deploy, dir))
      }
    }
    walk(deploy)
    assert.deepStrictEqual(found.sort(), Object.values(KUSTOMIZATIONS).map(String).sort())
  })

  it("every object of every kustomization passes a server-side dry-run", () => {
    for (const name of ALL) {
      const objects = manifests(renderedOf(name))
      assert.isAbove(objects.length, 0, name)
      const answered = dryRun(renderedOf(name))
      assert.deepStrictEqual(answered.map(id), objects.map(id), name)
    }
    // Nothing of it was stored.
    assert.throws(() => run(["get", "deployment", "-n", "kube-system", "cloud-controller-manager"]), /NotFound/)
  })

  it("the dry-run has teeth: a misspelt field, a bad quantity and a missing CRD are refused", () => {
    const monitor = one(ServiceMonitor, renderedOf("monitoring"))
    const typo = {
      ...monitor,
      spec: { ...monitor.spec, endpoints: [{ ...monitor.spec.endpoints[0], bearerTokenFle: "/x" }] }
    }
    assert.throws(() => dryRun([typo]), /bearerTokenFle/)
    const deployment = one(Deployment, renderedOf("base"))
    assert.throws(() => dryRun([{ ...deployment, spec: { ...deployment.spec, replicas: "two" } }]), /replicas/)
    assert.throws(
      () => dryRun([{ ...monitor, apiVersion: "monitoring.coreos.com/v2" }]),
      /no matches for kind|ServiceMonitor/
    )
  })

  it("every Deployment: the image, the Go CCM's flags (leader election on), the Secret mounted where --cloud-config points, 120Mi", () => {
    const entrypoint = Schema.decodeUnknownSync(Entrypoint)(
      readFileSync(join(deploy, "Dockerfile"), "utf8").match(/^ENTRYPOINT (.*)$/m)?.[1]
    )
    const images: Record<string, string> = {}
    for (const name of WITH_DEPLOYMENT) {
      const deployment: Deployment = one(Deployment, renderedOf(name))
      const pod = deployment.spec.template.spec
      const [container] = pod.containers
      images[name] = container.image
      assert.deepStrictEqual([deployment.metadata.name, deployment.metadata.namespace], [
        "cloud-controller-manager",
        "kube-system"
      ], name)
      assert.deepStrictEqual(
        deployment.spec.selector.matchLabels,
        { "k8s-app": "cloud-controller-manager" },
        `${name}: the Go manifest's selector`
      )
      assert.isTrue(selects(deployment.spec.selector, deployment.spec.template.metadata.labels), name)
      for (
        const flag of [
          "--leader-elect=true",
          "--cloud-provider=external-cloudstack",
          "--cloud-config=/config/cloud-config"
        ]
      ) {
        assert.include(container.args, flag, name)
      }
      // The CCM's flags follow the script in the entrypoint; node's own (--liftoff-only) precede it.
      const flags = parseRunFlags([
        ...entrypoint.slice(entrypoint.indexOf(`/app/${IMAGE_ENTRY}`) + 1),
        ...container.args
      ])
      if (Either.isLeft(flags)) return assert.fail(`${name}: ${flags.left.message}`)
      assert.deepStrictEqual(flags.right.warnings, [], name)
      assert.isTrue(flags.right.flags.leaderElection.enabled, name)
      assert.strictEqual(flags.right.flags.securePort, 10258, name)
      assert.deepStrictEqual(container.ports, [{ name: "https", containerPort: 10258, protocol: "TCP" }], name)
      const volume = pod.volumes.find((v) => v.secret.secretName === "cloudstack-secret")
      const mount = container.volumeMounts.find((m) => m.name === volume?.name)
      assert.deepStrictEqual(flags.right.flags.cloudConfig, Option.some(`${mount?.mountPath}/cloud-config`), name)
      assert.strictEqual(container.resources.limits.memory, "120Mi", `${name}: the Go image's limit`)
      assert.strictEqual(pod.serviceAccountName, "cloud-controller-manager", name)
      // Without it no pod of the CCM can start on a cluster whose every node waits for the CCM.
      assert.deepInclude(pod.tolerations, {
        key: "node.cloudprovider.kubernetes.io/uninitialized",
        value: "true",
        effect: "NoSchedule"
      }, name)
    }
    assert.deepStrictEqual(images, {
      base: "cloudstack-ccm:0.1.0",
      controlPlane: "cloudstack-ccm:0.1.0",
      ha: "cloudstack-ccm:0.1.0",
      example: "registry.example.com/cloudstack-ccm:0.1.0"
    })
  })

  it("base is the Go manifest's shape: one replica, no priority class, no placement", () => {
    const deployment = one(Deployment, renderedOf("base"))
    assert.strictEqual(deployment.spec.replicas, 1)
    assert.isUndefined(deployment.spec.template.spec.priorityClassName)
    assert.isUndefined(deployment.spec.template.spec.affinity)
    assert.deepStrictEqual(manifests(renderedOf("base")).map((m) => m.kind).sort(), [
      "ClusterRole",
      "ClusterRoleBinding",
      "ClusterRoleBinding",
      "Deployment",
      "ServiceAccount"
    ])
  })

  it("control-plane and ha: system-cluster-critical, the control-plane taints tolerated, only control-plane nodes", () => {
    for (const name of ["controlPlane", "ha", "example"] as const) {
      const pod = one(Deployment, renderedOf(name)).spec.template.spec
      assert.strictEqual(pod.priorityClassName, "system-cluster-critical", name)
      for (const key of ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"]) {
        assert.deepInclude(pod.tolerations, { key, operator: "Exists", effect: "NoSchedule" }, `${name}: ${key}`)
      }
      assert.deepInclude(pod.tolerations, {
        key: "node.cloudprovider.kubernetes.io/uninitialized",
        value: "true",
        effect: "NoSchedule"
      }, name)
      // Either label will do: one term per label (terms are ORed, expressions within a term ANDed).
      assert.deepStrictEqual(
        pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
        [
          { matchExpressions: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists" }] },
          { matchExpressions: [{ key: "node-role.kubernetes.io/master", operator: "Exists" }] }
        ],
        name
      )
    }
    assert.strictEqual(one(Deployment, renderedOf("controlPlane")).spec.replicas, 1)
  })

  it("the pod templates pass pod admission: system-cluster-critical resolves in kube-system, a dead node evicts after 300 s", () => {
    const priorities: Record<string, number> = {}
    for (const name of ["base", "ha"] as const) {
      const template = Schema.decodeUnknownSync(RawTemplate)(one(Deployment, renderedOf(name))).spec.template.spec
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `ccm-${name.toLowerCase()}`,
          namespace: "kube-system",
          labels: { "k8s-app": "cloud-controller-manager" }
        },
        spec: template
      }
      const answer = Schema.decodeUnknownSync(DryRunPod)(
        JSON.parse(run(["create", "--dry-run=server", "-o", "json", "-f", "-"], JSON.stringify(pod)))
      )
      priorities[name] = answer.spec.priority
      // DefaultTolerationSeconds: not tolerating not-ready ourselves keeps the eviction from a dead node.
      assert.deepInclude(answer.spec.tolerations, {
        key: "node.kubernetes.io/not-ready",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300
      }, name)
    }
    assert.deepStrictEqual(priorities, { base: 0, ha: 2_000_000_000 })
  })

  it("ha: two replicas with leader election, spread over nodes, and a PDB that selects exactly the CCM's pods", () => {
    for (const name of ["ha", "example"] as const) {
      const deployment = one(Deployment, renderedOf(name))
      const pdb = one(Pdb, renderedOf(name))
      const labels = deployment.spec.template.metadata.labels
      assert.strictEqual(deployment.spec.replicas, 2, name)
      assert.include(deployment.spec.template.spec.containers[0].args, "--leader-elect=true", name)
      assert.strictEqual(pdb.metadata.namespace, deployment.metadata.namespace, name)
      assert.isTrue(selects(pdb.spec.selector, labels), `${name}: the PDB selects the pods`)
      assert.deepStrictEqual(
        pdb.spec.selector,
        deployment.spec.selector,
        `${name}: and nothing but the Deployment's pods`
      )
      // One may be evicted at a time, never both.
      assert.strictEqual(pdb.spec.minAvailable, 1, name)
      assert.isBelow(pdb.spec.minAvailable, deployment.spec.replicas, name)
      const spread = deployment.spec.template.spec.affinity?.podAntiAffinity
        ?.preferredDuringSchedulingIgnoredDuringExecution[0]?.podAffinityTerm
      assert.strictEqual(spread?.topologyKey, "kubernetes.io/hostname", name)
      assert.isTrue(spread !== undefined && selects(spread.labelSelector, labels), name)
    }
    const [pdb] = manifests(renderedOf("ha")).filter((m) => m.kind === "PodDisruptionBudget")
    assert.strictEqual(pdb?.apiVersion, "policy/v1", "the version current clusters serve")
  })

  it("network-policy: the CCM's pods accept TCP 10258, their container port, from anywhere, and nothing else", () => {
    const policy = one(NetworkPolicy, renderedOf("networkPolicy"))
    const deployment = one(Deployment, renderedOf("ha"))
    assert.strictEqual(policy.metadata.namespace, deployment.metadata.namespace)
    assert.isTrue(selects(policy.spec.podSelector, deployment.spec.template.metadata.labels))
    assert.deepStrictEqual(policy.spec.policyTypes, ["Ingress"])
    assert.deepStrictEqual(policy.spec.ingress, [{ ports: [{ protocol: "TCP", port: 10258 }] }])
    assert.deepInclude(deployment.spec.template.spec.containers[0].ports, {
      name: "https",
      containerPort: 10258,
      protocol: "TCP"
    })
  })

  it("monitoring: ServiceMonitor -> Service -> the pods' https port, /metrics with a bearer token, and the scraper's ClusterRole", () => {
    const objects = renderedOf("monitoring")
    const monitor = one(ServiceMonitor, objects)
    const service = one(Service, objects)
    const deployment = one(Deployment, renderedOf("base"))
    assert.isTrue(selects(monitor.spec.selector, service.metadata.labels), "the ServiceMonitor selects the Service")
    assert.include(monitor.spec.namespaceSelector.matchNames, service.metadata.namespace)
    assert.isTrue(
      selects({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels),
      "the Service selects the pods"
    )
    const [endpoint] = monitor.spec.endpoints
    const port = service.spec.ports.find((p) => p.name === endpoint?.port)
    assert.deepStrictEqual(port, { name: "https", port: 10258, targetPort: "https", protocol: "TCP" })
    assert.deepInclude(deployment.spec.template.spec.containers[0].ports, {
      name: "https",
      containerPort: 10258,
      protocol: "TCP"
    })
    assert.deepStrictEqual([endpoint?.scheme, endpoint?.path], ["https", "/metrics"])
    assert.strictEqual(endpoint?.bearerTokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token")
    const role = one(ClusterRole, objects)
    assert.deepStrictEqual(role.rules, [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }])
    assert.strictEqual(one(ClusterRoleBinding, objects).roleRef.name, role.metadata.name)
  })

  it("cloud-config: Secret kube-system/cloudstack-secret, key cloud-config, a valid cloud-config, the one every Deployment mounts", () => {
    const secret = one(Secret, renderedOf("cloudConfig"))
    assert.deepStrictEqual([secret.metadata.namespace, secret.metadata.name, Object.keys(secret.data)], [
      "kube-system",
      "cloudstack-secret",
      ["cloud-config"]
    ])
    const text = Buffer.from(secret.data["cloud-config"] ?? "", "base64").toString("utf8")
    const parsed = parseWithWarnings(text, "deploy/cloud-config/cloud-config")
    if (Either.isLeft(parsed)) return assert.fail(parsed.left.message)
    assert.deepStrictEqual(parsed.right.warnings, [])
    for (const name of WITH_DEPLOYMENT) {
      const pod = one(Deployment, renderedOf(name)).spec.template.spec
      assert.isTrue(pod.volumes.some((v) => v.secret.secretName === secret.metadata.name), name)
    }
    // The overlays never carry the Secret: applying them keeps the keys already there.
    for (const name of WITH_DEPLOYMENT) assert.isFalse(renderedOf(name).some((o) => Schema.is(Secret)(o)), name)
  })

  it("applied for real: the CCM's ServiceAccount may do every call it makes and review tokens; only the bound Prometheus may get /metrics", async () => {
    const rbac = renderedOf("example").filter((o) =>
      ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"].includes(Schema.decodeUnknownSync(Manifest)(o).kind)
    )
    apply(rbac)
    const config = new k8s.KubeConfig()
    config.loadFromFile(apiserver.kubeconfig)
    const authz = config.makeApiClient(k8s.AuthorizationV1Api)
    const allowed = async (user: string, attributes: k8s.V1SubjectAccessReviewSpec) => {
      const review = await authz.createSubjectAccessReview({ body: { spec: { ...attributes, user } } })
      return review.status?.allowed === true
    }
    const ccm = "system:serviceaccount:kube-system:cloud-controller-manager"
    for (const rule of AccessProblem.RBAC_RULES) {
      const [resource = "", subresource] = rule.resource.split("/")
      for (const verb of rule.verbs) {
        const attributes = {
          group: rule.apiGroup,
          resource,
          verb,
          namespace: "kube-system",
          ...(subresource === undefined ? {} : { subresource })
        }
        assert.isTrue(await allowed(ccm, { resourceAttributes: attributes }), `${verb} ${rule.resource}`)
      }
    }
    for (const resource of ["tokenreviews", "subjectaccessreviews"]) {
      const group = resource === "tokenreviews" ? "authentication.k8s.io" : "authorization.k8s.io"
      assert.isTrue(await allowed(ccm, { resourceAttributes: { group, resource, verb: "create" } }), resource)
    }
    assert.isFalse(
      await allowed(ccm, { resourceAttributes: { group: "", resource: "secrets", verb: "list" } }),
      "no more than that"
    )
    const metrics = { nonResourceAttributes: { path: "/metrics", verb: "get" } }
    assert.isTrue(
      await allowed("system:serviceaccount:monitoring:kps-kube-prometheus-prometheus", metrics),
      "the example's Prometheus"
    )
    assert.isFalse(
      await allowed("system:serviceaccount:monitoring:prometheus-k8s", metrics),
      "the example replaced the addon's subject"
    )
    assert.isFalse(await allowed(ccm, metrics), "the CCM itself does not scrape")
  })
})
