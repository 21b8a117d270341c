/**
 * What an Unauthorized (401) or Forbidden (403) answer of the API server means for an operator:
 * the credentials to check, or the RBAC rule the CCM's ClusterRole needs (deploy/base/rbac.yaml).
 * Pure: classifies a KubeApiError by its reason, never by message text; logs nothing.
 */
import { Data, Option } from "effect"
import type { KubeApiError } from "./KubeError.js"

export type AccessProblem = Data.TaggedEnum<{
  /** The API server rejected our credentials: no request can succeed. */
  Unauthorized: { readonly verb: KubeApiError["verb"]; readonly resource: string }
  /** Authenticated, but RBAC does not allow `verb` on `resource`. */
  Forbidden: { readonly verb: KubeApiError["verb"]; readonly resource: string }
}>
export const AccessProblem = Data.taggedEnum<AccessProblem>()

/**
 * The rules of deploy/base/rbac.yaml, by resource: what the hint tells an operator to grant. Kept equal
 * to the manifest by test/kubernetes/AccessProblem.test.ts.
 */
export const RBAC_RULES: ReadonlyArray<
  { readonly apiGroup: string; readonly resource: string; readonly verbs: ReadonlyArray<string> }
> = [
  { apiGroup: "coordination.k8s.io", resource: "leases", verbs: ["get", "create", "update", "list", "watch"] },
  { apiGroup: "", resource: "events", verbs: ["create", "patch", "update"] },
  { apiGroup: "", resource: "nodes", verbs: ["get", "list", "watch", "update", "patch", "delete"] },
  { apiGroup: "", resource: "nodes/status", verbs: ["patch", "update"] },
  { apiGroup: "", resource: "services", verbs: ["get", "list", "watch", "patch", "update"] },
  { apiGroup: "", resource: "services/status", verbs: ["patch", "update"] },
  { apiGroup: "discovery.k8s.io", resource: "endpointslices", verbs: ["get", "list", "watch"] },
  { apiGroup: "", resource: "configmaps", verbs: ["get", "list", "watch"] }
]

/** The access problem `error` reports, if it is one (401 or 403). */
export const fromError = (error: KubeApiError): Option.Option<AccessProblem> => {
  const resource = baseResource(error.resource)
  switch (error.reason) {
    case "Unauthorized":
      return Option.some(AccessProblem.Unauthorized({ verb: error.verb, resource }))
    case "Forbidden":
      return Option.some(AccessProblem.Forbidden({ verb: error.verb, resource }))
    default:
      return Option.none()
  }
}

const knownResources = new Set(RBAC_RULES.map((r) => r.resource))

/** `nodes/status` stays a subresource; `leases/cloud-controller-manager` (a label with a name) is `leases`. */
const baseResource = (resource: string): string =>
  knownResources.has(resource) ? resource : (resource.split("/")[0] ?? resource)

/**
 * One cause, for reporting it once: every 401 is the same cause (the credentials), a 403 is one
 * per resource and verb.
 */
export const causeKey = (problem: AccessProblem): string =>
  AccessProblem.$match(problem, {
    Unauthorized: () => "Unauthorized",
    Forbidden: ({ resource, verb }) => `Forbidden ${verb} ${resource}`
  })

/** What to check, in one line (no server text: it is not needed to act). */
export const hint = (problem: AccessProblem): string =>
  AccessProblem.$match(problem, {
    Unauthorized: () =>
      "the API server rejected the CCM's credentials: check the service account token (in-cluster) or " +
      "the user's token/client certificate in --kubeconfig, and that --master/--kubeconfig point at this cluster",
    Forbidden: ({ resource, verb }) => {
      if (resource === "tokenreviews" || resource === "subjectaccessreviews") {
        return "RBAC: the secure port delegates authentication and authorization to the API server: bind the ClusterRole " +
          `system:auth-delegator to the CCM's ServiceAccount (denied: ${verb} ${resource}; see deploy/base/rbac.yaml)`
      }
      const rule = RBAC_RULES.find((r) => r.resource === resource)
      if (rule === undefined) return `RBAC: the CCM's ClusterRole needs "${verb} ${resource}"`
      const group = rule.apiGroup === "" ? "the core API group" : rule.apiGroup
      return `RBAC: the CCM's ClusterRole needs "${rule.verbs.join(",")} ${resource}" in ${group} ` +
        `(denied: ${verb}; see deploy/base/rbac.yaml, ClusterRole system:cloud-controller-manager)`
    }
  })
