/**
 * Over real HTTP, a list sent with `skim` is read as it arrives (ListSkim): the transport hands over
 * the value with the items cut and only the answer's first bytes as its text, and the client gets
 * the same members, errors and quotes as from the whole text.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Layer } from "effect"
import { Buffer } from "node:buffer"
import { CloudStackClient, layer as clientLayer } from "../../src/cloudstack/CloudStackClient.js"
import { CloudStackTransport } from "../../src/cloudstack/CloudStackTransport.js"
import { listLoadBalancerRuleInstances } from "../../src/cloudstack/commands/LoadBalancers.js"
import * as Envelope from "../../src/cloudstack/Envelope.js"
import * as HttpTransport from "../../src/cloudstack/HttpTransport.js"
import { LbRuleId, VmId } from "../../src/cloudstack/Ids.js"
import { PREFIX_BYTES } from "../../src/cloudstack/ListSkim.js"
import { CloudConfig } from "../../src/config/CloudConfig.js"
import * as Metrics from "../../src/metrics/Metrics.js"
import { cloudConfig } from "../fakes/CloudStackTestEnv.js"
import * as LoopbackServer from "../fakes/LoopbackServer.js"
import { memberVm as vm } from "../fakes/MemberVm.js"

const KEY = "listloadbalancerruleinstancesresponse"
const VMS = 2_000
const SKIM = { itemKey: "loadbalancerruleinstance", fields: ["id", "name"] }

const listing = JSON.stringify({
  [KEY]: { count: VMS, loadbalancerruleinstance: Array.from({ length: VMS }, (_, n) => vm(n)) }
})

const layerFor = (apiUrl: URL) =>
  clientLayer.pipe(
    Layer.provideMerge(HttpTransport.layer),
    Layer.provide(Metrics.layer),
    Layer.provide(Layer.succeed(CloudConfig, cloudConfig({ apiUrl })))
  )

describe("HttpTransport reads a skimmed list as it arrives", () => {
  it.live("a member listing of 2,000 whole VMs: the cut value, the first bytes as text, the same members", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* LoopbackServer.make(() => LoopbackServer.jsonReply(200, JSON.parse(listing)))
      const members = yield* Effect.gen(function*() {
        const transport = yield* CloudStackTransport
        const raw = yield* transport.send({
          command: "listLoadBalancerRuleInstances",
          params: { id: "r-1" },
          method: "GET",
          skim: SKIM
        })
        assert.isAbove(Buffer.byteLength(listing), 700_000) // many chunks on the wire
        assert.strictEqual(raw.body, Buffer.from(listing).subarray(0, PREFIX_BYTES).toString("utf8"))
        assert.deepStrictEqual(raw.skimmed?.value, {
          [KEY]: {
            count: VMS,
            loadbalancerruleinstance: Array.from({ length: VMS }, (_, n) => ({ id: vm(n).id, name: vm(n).name }))
          }
        })
        const cs = yield* CloudStackClient
        return yield* cs.list(listLoadBalancerRuleInstances, { id: LbRuleId.make("r-1") })
      }).pipe(Effect.provide(layerFor(server.apiUrl)))
      assert.strictEqual(members.length, VMS)
      assert.deepStrictEqual(members[1_999], { id: VmId.make(vm(1_999).id), name: "node-1999" })
    })))

  it.live("an HTML page and an error envelope decode as from the whole text: the same quote, the same typed error", () =>
    Effect.scoped(Effect.gen(function*() {
      const html = `<html><body>${"<p>Bad gateway</p>".repeat(10_000)}</body></html>`
      const pages: ReadonlyArray<LoopbackServer.Reply> = [
        { status: 502, headers: { "content-type": "text/html" }, body: html },
        LoopbackServer.jsonReply(431, {
          [KEY]: { errorcode: 431, cserrorcode: 9999, errortext: "Unable to find rule" }
        })
      ]
      let served = 0
      const server = yield* LoopbackServer.make(() =>
        pages[Math.floor(served++ / 2)] ?? pages[0] as LoopbackServer.Reply
      )
      const decoded = yield* Effect.gen(function*() {
        const transport = yield* CloudStackTransport
        const send = (skimmed: boolean) =>
          Effect.map(
            transport.send({
              command: "listLoadBalancerRuleInstances",
              params: { id: "r-1" },
              method: "GET",
              ...(skimmed ? { skim: SKIM } : {})
            }),
            (raw) => Envelope.decode("listLoadBalancerRuleInstances", raw, [], skimmed ? SKIM : undefined)
          )
        return [[yield* send(true), yield* send(false)], [yield* send(true), yield* send(false)]] as const
      }).pipe(Effect.provide(layerFor(server.apiUrl)))
      const [[htmlSkimmed, htmlWhole], [apiSkimmed, apiWhole]] = decoded
      assert.deepStrictEqual(htmlSkimmed, htmlWhole)
      assert.deepStrictEqual(apiSkimmed, apiWhole)
      const unexpected = Either.flip(htmlSkimmed).pipe(Either.getOrThrow)
      assert.deepInclude(unexpected, { _tag: "CloudStackUnexpectedBodyError", httpStatus: 502 })
      assert.deepInclude(Either.flip(apiSkimmed).pipe(Either.getOrThrow), {
        _tag: "CloudStackApiError",
        errorCode: 431,
        csErrorCode: 9999,
        errorText: "Unable to find rule"
      })
    })))
})
