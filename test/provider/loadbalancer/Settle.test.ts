/**
 * What a Service that cannot be built as asked still settles of an association cut short (the
 * record's `allocating` address): table-tested on the pure `settleAllocating`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Option } from "effect"
import type { ObservedBase } from "../../../src/provider/loadbalancer/Observe.js"
import * as Ownership from "../../../src/provider/loadbalancer/Ownership.js"
import { settle, settleAllocating } from "../../../src/provider/loadbalancer/Settle.js"
import { ip, port, recorded, rule, show, UID } from "./PlanFixtures.js"

const OWNER = { cluster: "k8s", namespace: "default", name: "web", uid: UID }
const allocating = (address: string, base: Ownership.Ownership = Ownership.empty): Ownership.Ownership => ({
  ...base,
  allocating: Option.some(address)
})
const adopted = ip("ip-7", { tags: Option.some([]) })

const cases: ReadonlyArray<{
  readonly title: string
  readonly ownership: Ownership.Ownership
  readonly observed: ObservedBase
  readonly requestedIp?: string
  readonly tags?: boolean
  readonly keepIp?: boolean
  readonly steps: ReadonlyArray<string>
}> = [
  {
    title: "no association cut short: nothing",
    ownership: recorded("ip-1"),
    observed: { ips: [ip("ip-1", { recorded: true })], rules: [] },
    steps: []
  },
  {
    title: "the address did not become ours (not observed): forgotten, the record kept",
    ownership: allocating("203.0.113.7", recorded("ip-1")),
    observed: { ips: [ip("ip-1", { recorded: true })], rules: [] },
    steps: ["Persist ip-1 associated=true"]
  },
  {
    title: "ours, but the Service asks for another address: given back",
    ownership: allocating("203.0.113.7"),
    observed: { ips: [adopted], rules: [] },
    requestedIp: "203.0.113.9",
    steps: ["ReleaseIp ip-7 203.0.113.7", "Persist (none) associated=false"]
  },
  {
    title: "ours while the Service keeps the IP it records (a move that stopped): given back",
    ownership: allocating("203.0.113.7", recorded("ip-1")),
    observed: { ips: [ip("ip-1", { recorded: true }), adopted], rules: [] },
    steps: ["ReleaseIp ip-7 203.0.113.7", "Persist ip-1 associated=true"]
  },
  {
    title: "ours and usable later: recorded as the Service's IP and tagged",
    ownership: allocating("203.0.113.7"),
    observed: { ips: [adopted], rules: [] },
    requestedIp: "203.0.113.7",
    steps: ["Persist ip-7 associated=true", "Tag PublicIpAddress ip-7"]
  },
  {
    title: "recorded without tags under keep-ip: the IP is the user's to keep",
    ownership: allocating("203.0.113.7"),
    observed: { ips: [adopted], rules: [] },
    requestedIp: "203.0.113.7",
    keepIp: true,
    steps: ["Persist ip-7 associated=true"]
  },
  {
    title: "recorded without tags when ownership tags are off",
    ownership: allocating("203.0.113.7"),
    observed: { ips: [adopted], rules: [] },
    tags: false,
    steps: ["Persist ip-7 associated=true"]
  },
  {
    title: "the Service's rules are on it already (serving): left alone",
    ownership: allocating("203.0.113.7", recorded("ip-1")),
    observed: {
      ips: [ip("ip-1", { recorded: true }), adopted],
      rules: [rule("r-1", "ip-7", port("tcp", 80, 30080))]
    },
    requestedIp: "203.0.113.9",
    steps: []
  }
]

const text = (step: ReturnType<typeof settleAllocating>[number]) =>
  step._tag === "Tag"
    ? `Tag ${step.resourceType} ${step.targets.map((t) => t._tag === "Existing" ? t.id : t._tag).join(",")}`
    : show(step)

describe("settleAllocating", () => {
  for (const c of cases) {
    it(c.title, () => {
      const steps = settleAllocating({
        ownership: c.ownership,
        observed: c.observed,
        requestedIp: Option.fromNullable(c.requestedIp),
        owner: c.tags === false ? Option.none() : Option.some(OWNER),
        keepIp: c.keepIp ?? false
      })
      assert.deepStrictEqual(steps.map(text), c.steps)
    })
  }

  it("tags only what the adopted IP lacks", () => {
    const [, tag] = settleAllocating({
      ownership: allocating("203.0.113.7"),
      observed: {
        ips: [ip("ip-7", { tags: Option.some([{ key: "cloudstack-ccm/cluster", value: "k8s" }]) })],
        rules: []
      },
      requestedIp: Option.none(),
      owner: Option.some(OWNER),
      keepIp: false
    })
    assert.deepStrictEqual(
      tag?._tag === "Tag" ? tag.tags.map((t) => t.key) : [],
      ["cloudstack-ccm/service", "cloudstack-ccm/service-uid"]
    )
  })
})

describe("settle", () => {
  const input = (ips: ObservedBase["ips"], ownership = recorded("ip-1"), keepIp = false) => ({
    ownership,
    observed: { ips, rules: [] },
    requestedIp: Option.some("203.0.113.9"),
    owner: Option.some(OWNER),
    keepIp
  })

  it("tags the IP the Service records and associated when it lacks the tags (read whole)", () => {
    assert.deepStrictEqual(settle(input([ip("ip-1", { recorded: true, tags: Option.some([]) })])).map(text), [
      "Tag PublicIpAddress ip-1"
    ])
  })

  it("leaves the user's IP, one whose tags were not read, and one tagged already", () => {
    const tagged = Option.some([
      { key: "cloudstack-ccm/cluster", value: "k8s" },
      { key: "cloudstack-ccm/service", value: "default/web" },
      { key: "cloudstack-ccm/service-uid", value: UID }
    ])
    for (
      const observed of [
        ip("ip-1", { recorded: true, owned: false, tags: Option.some([]) }),
        ip("ip-1", { recorded: true, tags: Option.none() }),
        ip("ip-1", { recorded: true, tags: tagged })
      ]
    ) assert.deepStrictEqual(settle(input([observed])), [])
  })

  it("leaves untagged the IP a keep-ip Service keeps: the user's from then on", () => {
    assert.deepStrictEqual(
      settle(input([ip("ip-1", { recorded: true, tags: Option.some([]) })], recorded("ip-1"), true)),
      []
    )
  })

  it("finishes a release of ours that failed half way (Releasing), never one of the user's", () => {
    assert.deepStrictEqual(
      settle(input([
        ip("ip-1", { recorded: true, releasing: true, tags: Option.some([]) }),
        ip("ip-2", { owned: false, releasing: true })
      ])).map(text),
      ["ReleaseIp ip-1 203.0.113.1"]
    )
  })

  it("settles the association first, then tags", () => {
    assert.deepStrictEqual(
      settle(
        input(
          [ip("ip-1", { recorded: true, tags: Option.some([]) }), adopted],
          allocating("203.0.113.7", recorded("ip-1"))
        )
      )
        .map(text),
      ["ReleaseIp ip-7 203.0.113.7", "Persist ip-1 associated=true", "Tag PublicIpAddress ip-1"]
    )
  })
})
