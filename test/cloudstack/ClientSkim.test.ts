/**
 * A list command that declares `fields` is read through ListSkim: its items reach the decoder with
 * those fields only. The rule-member listing declares id and name (CloudStack answers every member,
 * as whole VMs, in one answer), and its item schema decodes the same from them as from a whole VM.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { CloudStackClient } from "../../src/cloudstack/CloudStackClient.js"
import * as Command from "../../src/cloudstack/Command.js"
import { listLoadBalancerRuleInstances, RuleMember } from "../../src/cloudstack/commands/LoadBalancers.js"
import { LbRuleId, VmId } from "../../src/cloudstack/Ids.js"
import { clientLayer } from "../fakes/CloudStackTestEnv.js"
import { memberVm as vm } from "../fakes/MemberVm.js"
import { ok } from "../fakes/ScriptedTransport.js"

const answer = ok("listLoadBalancerRuleInstances", { count: 2, loadbalancerruleinstance: [vm(1), vm(2)] })

/** The same wire command, decoded with a schema that would keep `nic` if it were there. */
const withNic = (fields: ReadonlyArray<string> | undefined) =>
  Command.list({
    name: "listLoadBalancerRuleInstances",
    itemKey: "loadbalancerruleinstance",
    item: Schema.Struct({ id: Schema.String, nic: Schema.optional(Schema.Unknown) }),
    scope: "none",
    params: {},
    ...(fields === undefined ? {} : { fields })
  })

describe("list commands with fields", () => {
  it.effect("the items reach the decoder with the declared fields only; without fields, whole", () =>
    Effect.gen(function*() {
      const cs = yield* CloudStackClient
      assert.deepStrictEqual(yield* cs.list(withNic(["id"]), {}), [{ id: vm(1).id }, { id: vm(2).id }])
      assert.deepStrictEqual(yield* cs.list(withNic(undefined), {}), [
        { id: vm(1).id, nic: vm(1).nic },
        { id: vm(2).id, nic: vm(2).nic }
      ])
    }).pipe(Effect.provide(clientLayer(() => Effect.succeed(answer)))))

  it.effect("rule members: read for id and name, the same members as from the whole VMs", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(listLoadBalancerRuleInstances.skim, {
        itemKey: "loadbalancerruleinstance",
        fields: ["id", "name"]
      })
      const whole = [vm(1), vm(2)].map((v) => Schema.decodeUnknownSync(RuleMember)(v))
      const cs = yield* CloudStackClient
      const members = yield* cs.list(listLoadBalancerRuleInstances, { id: LbRuleId.make("r-1") })
      assert.deepStrictEqual(members, whole)
      assert.deepStrictEqual(members.map((m) => m.id), [VmId.make(vm(1).id), VmId.make(vm(2).id)])
    }).pipe(Effect.provide(clientLayer(() => Effect.succeed(answer)))))
})
