import { assert, describe, it } from "@effect/vitest"
import { Option, Schema } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as YAML from "yaml"
import * as AccessProblem from "../../src/kubernetes/AccessProblem.js"
import { KubeApiError } from "../../src/kubernetes/KubeError.js"

const error = (reason: KubeApiError["reason"], verb: KubeApiError["verb"], resource: string) =>
  new KubeApiError({ verb, resource, reason, detail: "server text" })

const Rule = Schema.Struct({
  apiGroups: Schema.Array(Schema.String),
  resources: Schema.Array(Schema.String),
  verbs: Schema.Array(Schema.String)
})
const ClusterRole = Schema.Struct({ kind: Schema.Literal("ClusterRole"), rules: Schema.Array(Rule) })

describe("AccessProblem", () => {
  it("classifies 401 and 403 by reason only; every other reason is not an access problem", () => {
    assert.deepStrictEqual(
      AccessProblem.fromError(error("Unauthorized", "list", "nodes")),
      Option.some(AccessProblem.AccessProblem.Unauthorized({ verb: "list", resource: "nodes" }))
    )
    assert.deepStrictEqual(
      AccessProblem.fromError(error("Forbidden", "patch", "nodes/status")),
      Option.some(AccessProblem.AccessProblem.Forbidden({ verb: "patch", resource: "nodes/status" }))
    )
    for (const reason of ["NotFound", "Conflict", "Unavailable", "Transport", "Decode", "Unknown", "Gone"] as const) {
      assert.isTrue(Option.isNone(AccessProblem.fromError(error(reason, "get", "nodes"))), reason)
    }
  })

  it("one cause for every 401; one per verb and resource for 403", () => {
    const key = (e: KubeApiError) => Option.map(AccessProblem.fromError(e), AccessProblem.causeKey)
    assert.deepStrictEqual(key(error("Unauthorized", "get", "leases")), key(error("Unauthorized", "list", "nodes")))
    assert.notDeepEqual(key(error("Forbidden", "get", "leases")), key(error("Forbidden", "update", "leases")))
    assert.notDeepEqual(key(error("Forbidden", "list", "nodes")), key(error("Forbidden", "list", "services")))
  })

  it("the hint names the full rule of the resource in its API group, and the denied verb", () => {
    const hint = (e: KubeApiError) => Option.getOrThrow(Option.map(AccessProblem.fromError(e), AccessProblem.hint))
    assert.strictEqual(
      hint(error("Forbidden", "list", "nodes")),
      "RBAC: the CCM's ClusterRole needs \"get,list,watch,update,patch,delete nodes\" in the core API group " +
        "(denied: list; see deploy/base/rbac.yaml, ClusterRole system:cloud-controller-manager)"
    )
    assert.include(hint(error("Forbidden", "watch", "endpointslices")), "in discovery.k8s.io")
    assert.include(
      hint(error("Forbidden", "get", "leases/cloud-controller-manager")),
      "\"get,create,update,list,watch leases\""
    )
    assert.include(hint(error("Unauthorized", "get", "leases")), "token")
    assert.strictEqual(
      hint(error("Forbidden", "create", "tokenreviews")),
      "RBAC: the secure port delegates authentication and authorization to the API server: bind the ClusterRole " +
        "system:auth-delegator to the CCM's ServiceAccount (denied: create tokenreviews; see deploy/base/rbac.yaml)"
    )
  })

  it("the rules are deploy/base/rbac.yaml's ClusterRole, rule for rule", () => {
    const docs = YAML.parseAllDocuments(
      readFileSync(join(import.meta.dirname, "..", "..", "deploy", "base", "rbac.yaml"), "utf8")
    )
    const role = docs.map((d) => d.toJS()).find((d) => Schema.is(ClusterRole)(d))
    const manifest = Schema.decodeUnknownSync(ClusterRole)(role).rules.flatMap((rule) =>
      rule.resources.map((resource) => ({ resource, apiGroup: rule.apiGroups[0] ?? "", verbs: rule.verbs }))
    )
    assert.deepStrictEqual(
      [...manifest].sort((a, b) => a.resource.localeCompare(b.resource)),
      [...AccessProblem.RBAC_RULES].sort((a, b) => a.resource.localeCompare(b.resource))
    )
  })
})
