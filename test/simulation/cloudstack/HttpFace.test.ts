/**
 * The HTTP face over real sockets on 127.0.0.1, in front of an echo simulator that answers with
 * the request it was handed, so what the face decoded and passed on is visible. Signatures of
 * reference 1.5 are literals computed by the Java server encoder, not by our Signing module.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { encodeQuery, encodeValue, formatExpires, sign } from "../../../src/cloudstack/Signing.js"
import { CloudStackSimulator, type SimRequest } from "../../../src/simulation/cloudstack/CloudStackSimulator.js"
import * as HttpFace from "../../../src/simulation/cloudstack/SimulatorHttpServer.js"

const SECRET = "VDaACYb0LV9eNjTetIOElcVQkvJck_J_QljX_FcHRj87ZKiy0z0ty0ZsYBkoXkY9b7eq1EhwJaw7FF3akA3KBQ"
const API_KEY = "plgWJfZK4gyS3mOMTVmjUVg-X-jlWlnfaUJ9GAbBbf9EdM-kAYMmAiLqzzq1ElZLYq_u38zCm0bewzGUdP66mg"
const V3 = { signatureVersion: "3", expires: "2030-01-01T00:00:00+0000" }
const COMMANDS = new Set(["listUsers", "listZones", "listVirtualMachines", "createTags", "createLoadBalancerRule"])
const UNAUTHORIZED = "unable to verify user credentials and/or request signature"

const Echo = Layer.mock(CloudStackSimulator, {
  // `name=down` / `name=gone` play the simulator's apiDown modes "unavailable" and "unreachable"
  handle: (request: SimRequest) =>
    Effect.succeed(
      request.params["name"] === "down"
        ? { status: 503, body: undefined, text: "503 Service Unavailable" }
        : request.params["name"] === "gone"
        ? { status: 0, body: undefined, unreachable: true }
        : { status: 200, body: { [`${request.command.toLowerCase()}response`]: { echo: request } } }
    ),
  credentials: (apiKey: string) =>
    Effect.succeed(
      apiKey === API_KEY
        ? Option.some({ apiKey, secretKey: SECRET, account: "admin", role: "admin" as const, deniedApis: [] })
        : Option.none()
    )
})

const Face = HttpFace.layer({ port: 0, isCommand: (c) => COMMANDS.has(c) }).pipe(Layer.provide(Echo))

interface Reply {
  readonly status: number
  readonly contentType: string
  readonly text: string
}

const send = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Reply> => {
    const res = await fetch(url, init)
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() }
  })

/** GET with the query as given (already encoded) plus the percent-encoded signature. */
const getRaw = (query: string, signature: string) =>
  Effect.flatMap(
    HttpFace.SimulatorHttpServer,
    (face) => send(`${face.apiUrl}?${query}&signature=${encodeValue(signature)}`)
  )

const get = (params: Record<string, string>, signature: string) => getRaw(encodeQuery(params), signature)

const echoed = (reply: Reply, command: string): SimRequest => {
  assert.strictEqual(reply.status, 200, reply.text)
  assert.strictEqual(reply.contentType, "application/json; charset=UTF-8")
  return JSON.parse(reply.text)[`${command.toLowerCase()}response`].echo
}

const assertUnauthorized = (reply: Reply, key: string) => {
  assert.strictEqual(reply.status, 401)
  assert.strictEqual(reply.contentType, "application/json; charset=UTF-8")
  assert.strictEqual(reply.text, `{"${key}":{"uuidList":[],"errorcode":401,"errortext":"${UNAUTHORIZED}"}}`)
}

/** A live test against a fresh face on an ephemeral port, closed when the test ends. */
const live = <E>(name: string, body: () => Effect.Effect<void, E, HttpFace.SimulatorHttpServer>) =>
  it.live(name, () => body().pipe(Effect.provide(Face)))

describe("HttpFace", () => {
  describe("reference 1.5 vectors end to end", () => {
    live("v1: the docs example with a lowercase `apikey` name", () =>
      Effect.gen(function*() {
        const reply = yield* get(
          { command: "listUsers", response: "json", apikey: API_KEY },
          "TTpdDq/7j/J58XCRHomKoQXEQds="
        )
        const request = echoed(reply, "listUsers")
        assert.strictEqual(request.apiKey, API_KEY)
        assert.deepStrictEqual(request.params, {})
      }))
    live("v2: a space in a value, expires with signatureVersion 3", () =>
      Effect.gen(function*() {
        const params = {
          command: "listVirtualMachines",
          response: "json",
          apiKey: API_KEY,
          ...V3,
          listall: "true",
          name: "k8s node-1"
        }
        const request = echoed(yield* get(params, "aqvGQYUrlrMJGvsLsrVzfshXL3s="), "listVirtualMachines")
        assert.deepStrictEqual(request.params, { listall: "true", name: "k8s node-1" })
      }))
    live("v3: map parameters, `/` and `+` in values", () =>
      Effect.gen(function*() {
        const params = {
          command: "createTags",
          response: "json",
          apiKey: API_KEY,
          ...V3,
          resourcetype: "LoadBalancer",
          resourceids: "a1b2,c3d4",
          "tags[0].key": "cluster",
          "tags[0].value": "Prod/EU West+1"
        }
        const request = echoed(yield* get(params, "bbbtfJoF+7hnULUjN2yna6ngPhc="), "createTags")
        assert.strictEqual(request.params["tags[0].value"], "Prod/EU West+1")
      }))
    live(
      "v4: `*` raw and `~` escaped as the server does; the cs/go signature with `~` unescaped is refused",
      () =>
        Effect.gen(function*() {
          const params = {
            command: "createLoadBalancerRule",
            response: "json",
            apiKey: API_KEY,
            ...V3,
            name: "a*b",
            description: "x~y",
            algorithm: "roundrobin",
            publicport: "80",
            privateport: "30080"
          }
          const request = echoed(yield* get(params, "3ylvTeYsvfTGVX14NqvGNbUhF/c="), "createLoadBalancerRule")
          assert.deepStrictEqual([request.params["name"], request.params["description"]], ["a*b", "x~y"])
          assertUnauthorized(yield* get(params, "q7I8qKxtdH5vdKtNOkvglPJz/8M="), "createloadbalancerruleresponse")
          assertUnauthorized(yield* get(params, "LkxfV4EMAei68yPhs7tybaltwPo="), "createloadbalancerruleresponse")
        })
    )
    live("v5: a non-ASCII value", () =>
      Effect.gen(function*() {
        const params = { command: "listZones", response: "json", apiKey: API_KEY, name: "Zürich" }
        const request = echoed(yield* get(params, "LlXxFD/o6xdWmSGZPjO1q+wuJUQ="), "listZones")
        assert.strictEqual(request.params["name"], "Zürich")
      }))
  })

  live("a `+` in a query value is a space (it was signed as one)", () =>
    Effect.gen(function*() {
      const params = { command: "listZones", response: "json", apiKey: API_KEY, name: "a b" }
      const query = `command=listZones&response=json&apiKey=${encodeValue(API_KEY)}&name=a+b`
      const request = echoed(yield* getRaw(query, sign(params, SECRET)), "listZones")
      assert.strictEqual(request.params["name"], "a b")
      // signed with a literal plus, sent raw: the server reads a space, so the signature fails
      const plus = { ...params, name: "a+b" }
      assertUnauthorized(yield* getRaw(query, sign(plus, SECRET)), "listzonesresponse")
    }))

  live("POST form, merged with the query string", () =>
    Effect.gen(function*() {
      const face = yield* HttpFace.SimulatorHttpServer
      const expires = formatExpires(Date.now() + 60_000)
      const params = {
        command: "createTags",
        response: "json",
        apiKey: API_KEY,
        signatureVersion: "3",
        expires,
        resourceids: "r1",
        "tags[0].key": "k",
        "tags[0].value": "v w"
      }
      const { command, ...form } = params
      const reply = yield* send(`${face.apiUrl}?command=${command}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `${encodeQuery(form)}&signature=${encodeValue(sign(params, SECRET))}`
      })
      const request = echoed(reply, "createTags")
      assert.deepStrictEqual(request.params, { resourceids: "r1", "tags[0].key": "k", "tags[0].value": "v w" })
    }))

  live("a tampered signature, an expired request, an unknown command: the exact 401", () =>
    Effect.gen(function*() {
      const params = { command: "listZones", response: "json", apiKey: API_KEY, ...V3, name: "z1" }
      const signature = sign(params, SECRET)
      assertUnauthorized(yield* get({ ...params, name: "z2" }, signature), "listzonesresponse")
      assertUnauthorized(
        yield* get(params, signature.replace(/^./, (c) => (c === "A" ? "B" : "A"))),
        "listzonesresponse"
      )
      const expired = { ...params, expires: formatExpires(Date.now() - 1_000) }
      assertUnauthorized(yield* get(expired, sign(expired, SECRET)), "listzonesresponse")
      const unknown = { ...params, command: "listZone" }
      assertUnauthorized(yield* get(unknown, sign(unknown, SECRET)), "errorresponse")
      const stranger = { ...params, apiKey: "unknown-key" }
      assertUnauthorized(yield* get(stranger, sign(stranger, SECRET)), "listzonesresponse")
    }))

  live("without response=json the 401 is XML; other paths and methods are refused", () =>
    Effect.gen(function*() {
      const face = yield* HttpFace.SimulatorHttpServer
      const reply = yield* get({ command: "listZones", apiKey: API_KEY }, "bad")
      assert.strictEqual(reply.status, 401)
      assert.strictEqual(reply.contentType, "text/xml; charset=UTF-8")
      assert.strictEqual(
        reply.text,
        `<?xml version="1.0" encoding="UTF-8"?><listzonesresponse><errorcode>401</errorcode><errortext>${UNAUTHORIZED}</errortext></listzonesresponse>`
      )
      assert.strictEqual((yield* send(face.apiUrl.replace("/client/api", "/client/other"))).status, 404)
      assert.strictEqual((yield* send(face.apiUrl, { method: "PUT" })).status, 405)
      assert.match(face.apiUrl, /^http:\/\/127\.0\.0\.1:\d+\/client\/api$/)
    }))
})

it.live("HttpFace passes the simulator's API-down modes on: a plain-text 503, or a dropped connection", () =>
  Effect.gen(function*() {
    const signed = (name: string) => {
      const params = { command: "listZones", response: "json", apiKey: API_KEY, name }
      return get(params, sign(params, SECRET))
    }
    const down = yield* signed("down")
    assert.deepStrictEqual(down, {
      status: 503,
      contentType: "text/plain; charset=UTF-8",
      text: "503 Service Unavailable"
    })
    const gone = yield* Effect.either(signed("gone").pipe(Effect.sandbox))
    assert.strictEqual(gone._tag, "Left", "the connection must be dropped without an answer")
    const face = yield* HttpFace.SimulatorHttpServer
    const huge = yield* send(face.apiUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `name=${"x".repeat(1_100_000)}`
    })
    assert.strictEqual(huge.status, 413)
  }).pipe(Effect.provide(Face)))

it.live("HttpFace frees its port when the scope closes; a taken port is a typed error", () =>
  Effect.gen(function*() {
    const portOf = HttpFace.SimulatorHttpServer.pipe(Effect.map((face) => face.port))
    const port = yield* portOf.pipe(Effect.provide(Face))
    assert.isAbove(port, 0)
    const again = HttpFace.layer({ port, isCommand: () => true }).pipe(Layer.provide(Echo))
    const clash = yield* Effect.flip(Effect.provide(portOf, again)).pipe(Effect.provide(again))
    assert.strictEqual(clash._tag, "SimulatorServerError")
    assert.include(clash.message, `127.0.0.1:${port}`)
  }))

it.live("HttpFace: a port outside 0..65535 is a typed error, not a RangeError defect", () =>
  Effect.gen(function*() {
    const portOf = HttpFace.SimulatorHttpServer.pipe(Effect.map((face) => face.port))
    for (const port of [99999, -1, 1.5]) {
      const face = HttpFace.layer({ port, isCommand: () => true }).pipe(Layer.provide(Echo))
      const error = yield* Effect.flip(Effect.provide(portOf, face))
      assert.strictEqual(error.message, `cannot listen on 127.0.0.1:${port}: the port must be an integer in 0..65535`)
    }
  }))
