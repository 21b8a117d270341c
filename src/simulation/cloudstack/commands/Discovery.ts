/**
 * The simulator's discovery commands: listApis (what the caller's role may run, as
 * ApiDiscoveryServiceImpl answers), listCapabilities (the server version, for any caller) and
 * listManagementServersMetrics (root admin only: the version the Go CCM v1.2.0 reads at start-up).
 * Read-only over the store.
 */
import { Either } from "effect"
import { API_CATALOGUE, entryOf, isAllowed } from "../ApiCatalogue.js"
import { CS_SERVER_API, Fail } from "../Fail.js"
import type { Commands, Handler, Obj } from "../Handler.js"
import { keywordMatch, listBody, page } from "../ListQuery.js"
import { formatDate } from "../Render.js"
import { uuidFor } from "../Store.js"

/** The world's version as the server prints it (`4.22.0.0`). */
const versionOf = (version: ReadonlyArray<number>): string => version.join(".")

const renderApi = (name: string): Obj => {
  const entry = entryOf(name)
  const out: Obj = { name, description: entry?.description ?? "", isasync: entry?.isasync ?? false }
  if (entry?.since !== undefined) out.since = entry.since
  return out
}

/** ListApisCmd's answer when the service returns nothing (unknown name, or one the role may not run). */
const NO_SUCH_API = new Fail(
  530,
  CS_SERVER_API,
  "Api Discovery plugin was unable to find an api by that name or process any apis"
)

/**
 * listApis: every command the caller's role allows, or only the one named by `name`. Items carry
 * `name`, `description`, `isasync` and `since` (when the annotation has one); the simulator does
 * not describe `params` and `response`. No paging (a BaseCmd); `count` is the number of items.
 */
const listApis: Handler = (c, p) => {
  const account = c.caller.account
  const name = p.get("name")
  if (name !== undefined && name !== "") {
    return isAllowed(account, name) ? Either.right({ count: 1, api: [renderApi(name)] }) : Either.left(NO_SUCH_API)
  }
  const names = API_CATALOGUE.map((e) => e.name).filter((n) => isAllowed(account, n))
  return Either.right({ count: names.length, api: names.map(renderApi) })
}

/** listCapabilities: one `capability` object; `cloudstackversion` is World.version. */
const listCapabilities: Handler = (c) =>
  Either.right({
    capability: {
      cloudstackversion: versionOf(c.s.version),
      securitygroupsenabled: false,
      userpublictemplateenabled: true,
      supportELB: "false",
      projectinviterequired: false,
      allowusercreateprojects: true,
      customdiskofferingminsize: 1,
      customdiskofferingmaxsize: 1024,
      kubernetesserviceenabled: false,
      kubernetesclusterexperimentalfeaturesenabled: false
    }
  })

/**
 * listManagementServersMetrics (ListMgmtsMetricsCmd, root admin only; a user never gets here: the
 * engine answers its 432 first). One server, `Up`, items under `managementserver`.
 */
const listManagementServersMetrics: Handler = (c, p) =>
  Either.map(page(p), (pg) => {
    const id = uuidFor(c.s.seed, -1)
    const server: Obj = {
      id,
      name: "cloudstack-simulator",
      state: "Up",
      version: versionOf(c.s.version),
      ipaddress: "127.0.0.1",
      serviceip: "127.0.0.1",
      osdistribution: "cloudstack-ccm simulator",
      javadistribution: "none",
      javaversion: "none",
      collectiontime: formatDate(c.now),
      agentcount: 0,
      sessions: 0,
      pendingjobscount: [...c.s.jobs.values()].filter((j) => j.status === 0).length,
      dbislocal: true,
      usageislocal: false
    }
    const matches = (p.get("id") === undefined || p.get("id") === id) &&
      (p.get("name") === undefined || p.get("name") === server.name) &&
      keywordMatch(p.get("keyword"), "cloudstack-simulator")
    return listBody("managementserver", matches ? [server] : [], pg, (s) => s)
  })

export const commands: Commands = {
  listApis,
  listCapabilities,
  listManagementServersMetrics
}
