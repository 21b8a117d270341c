/**
 * One keep-alive connection to the API server for every request of a client. client-node 1.4
 * authenticates each call with a new `https.Agent` that has no keepAlive
 * (kubernetes-client/javascript#2893): every request would pay a TCP + TLS handshake and a new
 * TLS context with the CA. Watches are not sent through here: each holds its own connection.
 */
import type * as k8s from "@kubernetes/client-node"
import * as http from "node:http"
import * as https from "node:https"

/**
 * An idle connection is closed by us after this long, so that an API server or a proxy in between
 * closing it first (their idle timeouts are typically 90 s and more) cannot race a request sent on it.
 */
export const IDLE_TIMEOUT_MS = 60_000

type Agent = NonNullable<ReturnType<k8s.RequestContext["getAgent"]>>

/** One socket, kept open: requests queue on it (HTTP/1.1), as client-go's shared transport does per host. */
const KEEP_ALIVE = {
  keepAlive: true,
  maxSockets: 1,
  maxFreeSockets: 1,
  timeout: IDLE_TIMEOUT_MS,
  scheduling: "lifo"
} as const

/**
 * The keep-alive twin of the agent client-node built: same TLS options (CA, client certificate,
 * server name, verification). A proxy agent (kubeconfig `proxy-url`) is reused as it is.
 */
export const keepAliveAgentLike = (fresh: Agent): Agent => {
  if (fresh.constructor === https.Agent && fresh instanceof https.Agent) {
    return new https.Agent({ ...fresh.options, ...KEEP_ALIVE })
  }
  if (fresh.constructor === http.Agent) return new http.Agent(KEEP_ALIVE)
  return fresh
}

/**
 * Decorates the KubeConfig's authentication: it still sets each call's headers (tokens may rotate),
 * then the call goes through the first agent's keep-alive twin. The agent belongs to this
 * authenticator (one per client), never to the process.
 */
export const keepAliveAuth = (config: k8s.KubeConfig): k8s.SecurityAuthentication => {
  const shared: Array<Agent> = []
  return {
    getName: () => "default",
    applySecurityAuthentication: async (context) => {
      await config.applySecurityAuthentication(context)
      const fresh = context.getAgent()
      if (fresh === undefined) return
      const agent = shared[0] ?? keepAliveAgentLike(fresh)
      if (shared.length === 0) shared.push(agent)
      context.setAgent(agent)
    }
  }
}
