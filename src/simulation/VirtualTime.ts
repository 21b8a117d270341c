/**
 * Runs an effect on virtual time, deterministically and at CPU speed: every fiber's work goes through
 * one FIFO scheduler that the driver drains, and every `Clock` sleep waits in one queue ordered by
 * (wake time, arrival) that the driver fires only when no fiber can run. Nothing waits on the event
 * loop (TestClock's `adjust` takes real timer turns and a scan of every fiber per sleeper), and the
 * interleaving depends on nothing but the program and its Randoms. For simulations, benchmarks and
 * tests of your own; the program must not wait on real I/O (sockets, files, timers).
 */
import { Clock, Context, Data, Duration, Effect, type Exit, Option, Scheduler } from "effect"

class StepScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task> = []
  /** Tasks run so far. */
  ran = 0
  scheduleTask(task: Scheduler.Task): void {
    this.queue.push(task)
  }
  get idle(): boolean {
    return this.queue.length === 0
  }
  // The default scheduler's rule: a fiber yields after its maximum ops, so none starves the others.
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultScheduler.shouldYield(fiber)
  }
  /** Runs tasks in arrival order until none is left or `budget` ran (the rest keep their place). */
  drain(budget: number): void {
    let ran = 0
    while (this.queue.length > 0 && ran < budget) {
      const batch = this.queue
      this.queue = []
      let i = 0
      for (; i < batch.length && ran < budget; i++, ran++) batch[i]?.()
      if (i < batch.length) this.queue = batch.slice(i).concat(this.queue)
    }
    this.ran += ran
  }
}

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
}

class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private sleepers: Array<Sleeper> = []
  private seq = 0
  constructor(public now: number) {}
  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  readonly currentTimeMillis = Effect.sync(() => this.now)
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now * 1_000_000))
  }
  readonly currentTimeNanos = Effect.sync(() => this.unsafeCurrentTimeNanos())
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      // Whole milliseconds, as a timer's: a fractional sleep would make the time fractional, and a
      // wait for "until - now" then never gets there (a sleep below the float's step adds nothing).
      const ms = Duration.toMillis(duration)
      const at = this.now + (ms > 0 ? Math.max(1, Math.ceil(ms)) : 0)
      const sleeper: Sleeper = { at, seq: this.seq++, wake: () => resume(Effect.void) }
      // Sorted by (at, seq): sleepers due at one instant wake in the order they slept.
      let lo = 0
      let hi = this.sleepers.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        const m = this.sleepers[mid]
        if (m !== undefined && (m.at < sleeper.at || (m.at === sleeper.at && m.seq < sleeper.seq))) lo = mid + 1
        else hi = mid
      }
      this.sleepers.splice(lo, 0, sleeper)
      return Effect.sync(() => {
        const i = this.sleepers.indexOf(sleeper)
        if (i >= 0) this.sleepers.splice(i, 1)
      })
    })
  }
  /** The earliest wake time of a sleeper that can ever wake. */
  nextWake(): number | undefined {
    const first = this.sleepers[0]
    return first === undefined || !Number.isFinite(first.at) ? undefined : first.at
  }
  /** Wakes every sleeper due by now, without moving the clock; false when there was none. */
  fireDue(): boolean {
    let woke = false
    while (this.sleepers[0] !== undefined && this.sleepers[0].at <= this.now) {
      this.sleepers.shift()?.wake()
      woke = true
    }
    return woke
  }
  /** Moves to the next wake time and wakes every sleeper due then; false when none can ever wake. */
  fireNext(): boolean {
    const next = this.nextWake()
    if (next === undefined) return false
    this.now = Math.max(this.now, next)
    return this.fireDue()
  }
}

/** Every fiber waits and no sleep can end (the program can never finish), or time stopped moving. */
export class VirtualTimeDeadlock extends Data.TaggedError("VirtualTimeDeadlock")<{
  readonly at: number
  readonly reason: string
}> {
  override get message(): string {
    return `virtual time ${this.at}: ${this.reason}`
  }
}

/**
 * What a program run by `runVirtual` can ask of the driver (provided by it), e.g. to measure when a
 * system under test has gone quiet.
 */
export class VirtualTime extends Context.Tag("cloudstack-ccm/simulation/VirtualTime")<VirtualTime, {
  /** Completes once no other fiber can run without the clock moving; the clock stays where it is. */
  readonly settled: Effect.Effect<void>
  /** The wake time (epoch ms) of the earliest pending sleep, None when no sleep can end. */
  readonly nextWake: Effect.Effect<Option.Option<number>>
}>() {}

export interface RunVirtualOptions {
  /** Virtual epoch milliseconds at the start (default 0). */
  readonly startMillis?: number
  /** Wake-ups at one instant after which the program counts as spinning, a zero-sleep loop (default a million). */
  readonly maxStalled?: number
  /** Called now and then with the virtual time and the tasks run so far (for debugging a long run). */
  readonly trace?: (now: number, tasks: number) => void
  /** Gives up (rejects with the signal's reason) once aborted, e.g. by a test's timeout. */
  readonly signal?: AbortSignal
}

/** Tasks (or wake-ups) the driver runs before it gives the event loop a turn (a test runner's messages). */
const TASKS_PER_TURN = 20_000
const WAKES_PER_TURN = 10_000
/**
 * Microtask turns the driver waits, when no fiber can run, before it moves the clock: a promise the
 * program awaits that settles without I/O (an in-memory library's async API) resumes its fiber first.
 */
const MICROTASK_TURNS = 16

/**
 * Runs `effect` to its end on virtual time. The run itself is synchronous; between slices of work
 * the event loop gets a turn, which changes nothing in the run. Promises the program awaits must
 * settle without I/O (within a few microtask turns): the clock does not wait for sockets or timers.
 * Resolves with the effect's Exit; rejects with VirtualTimeDeadlock when the program can never finish.
 */
export const runVirtual = async <A, E>(
  effect: Effect.Effect<A, E, VirtualTime>,
  options: RunVirtualOptions = {}
): Promise<Exit.Exit<A, E>> => {
  const scheduler = new StepScheduler()
  const clock = new VirtualClock(options.startMillis ?? 0)
  let waiting: Array<() => void> = []
  const driver = VirtualTime.of({
    settled: Effect.async<void>((resume) => {
      const wake = () => resume(Effect.void)
      waiting.push(wake)
      return Effect.sync(() => {
        waiting = waiting.filter((w) => w !== wake)
      })
    }),
    nextWake: Effect.sync(() => Option.fromNullable(clock.nextWake()))
  })
  const fiber = Effect.runFork(
    Effect.withClock(Effect.provideService(effect, VirtualTime, driver), clock),
    { scheduler }
  )
  const maxStalled = options.maxStalled ?? 1_000_000
  let stalled = 0
  let turnAt = 0
  let wakes = 0
  let tracedAt = clock.now
  for (;;) {
    if (scheduler.ran - turnAt >= TASKS_PER_TURN || wakes > WAKES_PER_TURN) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      turnAt = scheduler.ran
      wakes = 0
    }
    // A burst of work gets the event loop turns too: a test runner that hears nothing for a minute
    // counts the worker as hung.
    scheduler.drain(TASKS_PER_TURN - (scheduler.ran - turnAt))
    if (!scheduler.idle) continue
    const done = fiber.unsafePoll()
    if (done !== null) return done
    for (let turn = 0; turn < MICROTASK_TURNS && scheduler.idle; turn++) await undefined
    if (options.signal?.aborted === true) throw options.signal.reason
    if (!scheduler.idle) continue
    wakes++
    const before = clock.now
    if (!clock.fireDue()) {
      if (waiting.length > 0) {
        const settled = waiting
        waiting = []
        for (const wake of settled) wake()
      } else if (!clock.fireNext()) {
        throw new VirtualTimeDeadlock({ at: clock.now, reason: "every fiber waits and no sleep is due" })
      }
    }
    if (options.trace !== undefined && Math.floor(clock.now / 10_000) !== Math.floor(tracedAt / 10_000)) {
      options.trace(clock.now, scheduler.ran)
      tracedAt = clock.now
    }
    stalled = clock.now === before ? stalled + 1 : 0
    if (stalled > maxStalled) {
      throw new VirtualTimeDeadlock({
        at: clock.now,
        reason: `${maxStalled} wake-ups without time passing (a zero-sleep loop)`
      })
    }
  }
}

/**
 * Lets the program run until `progress` has not changed for `idleMs` of virtual time (the system has
 * gone quiet: only periodic timers are left), observing it each time the system settles. Returns the
 * virtual milliseconds from the start to the last change; dies when `limitMs` pass first.
 */
export const untilIdle = <R>(progress: Effect.Effect<number, never, R>, idleMs: number, limitMs: number) =>
  Effect.gen(function*() {
    const driver = yield* VirtualTime
    const start = yield* Clock.currentTimeMillis
    let lastValue = yield* progress
    let lastAt = start
    for (;;) {
      yield* driver.settled
      const now = yield* Clock.currentTimeMillis
      const value = yield* progress
      if (value !== lastValue) {
        lastValue = value
        lastAt = now
      }
      const next = yield* driver.nextWake
      if (Option.isNone(next) || next.value - lastAt > idleMs) return lastAt - start
      if (next.value - start > limitMs) {
        return yield* Effect.dieMessage(`still busy after ${limitMs} ms of virtual time`)
      }
      // wakes at the next instant anything happens, with the sleepers due then
      yield* Effect.sleep(Duration.millis(Math.max(0, next.value - now)))
    }
  })

/** Lets the program run up to `target` (epoch ms) and settle there. */
export const advanceTo = (target: number) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (target > now) yield* Effect.sleep(Duration.millis(target - now))
    yield* Effect.flatMap(VirtualTime, (driver) => driver.settled)
  })
