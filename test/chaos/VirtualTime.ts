/**
 * Runs an effect on virtual time, deterministically and at CPU speed: every fiber's work goes
 * through one FIFO scheduler that this loop drains, and every `Clock` sleep waits in one queue of
 * (wake time, arrival) that the loop fires only when no fiber can run. Nothing waits on the event
 * loop (TestClock's `adjust` takes a real timer turn and a scan of every fiber per sleeper, which is
 * minutes per chaos seed), and the interleaving depends on nothing but the program and its seeds.
 */
import { Clock, Duration, Effect, type Exit, Scheduler } from "effect"

class StepScheduler implements Scheduler.Scheduler {
  private queue: Array<Scheduler.Task> = []
  scheduleTask(task: Scheduler.Task): void {
    this.queue.push(task)
  }
  // The default scheduler's rule: a fiber yields after its maximum ops, so none starves the others.
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultScheduler.shouldYield(fiber)
  }
  /** Tasks run so far. */
  ran = 0
  /** Runs tasks until none is left. */
  drain(): void {
    while (this.queue.length > 0) {
      const batch = this.queue
      this.queue = []
      for (const task of batch) task()
      this.ran += batch.length
      if (process.env.CHAOS_TRACE !== undefined && this.ran % 1000 < batch.length) {
        process.stderr.write(`tasks ${this.ran}\n`)
      }
    }
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
  /** Moves to the next wake time and wakes every sleeper due then; false when none can ever wake. */
  fireNext(): boolean {
    const first = this.sleepers[0]
    if (first === undefined || !Number.isFinite(first.at)) return false
    this.now = Math.max(this.now, first.at)
    while (this.sleepers[0] !== undefined && this.sleepers[0].at <= this.now) {
      const next = this.sleepers.shift()
      next?.wake()
    }
    return true
  }
}

/** Every fiber waits and no sleep can end: the program can never finish. */
export class VirtualTimeDeadlock extends Error {}

/** How long the loop keeps the event loop before giving it a turn (a test runner's messages, signals). */
const SLICE_MS = 50

/**
 * Runs `effect` to its end on virtual time starting at `startMillis` (epoch ms). The run itself is
 * synchronous; between slices the event loop gets a turn, which changes nothing in the run.
 */
export const runVirtual = async <A, E>(effect: Effect.Effect<A, E>, startMillis = 0): Promise<Exit.Exit<A, E>> => {
  const scheduler = new StepScheduler()
  const clock = new VirtualClock(startMillis)
  const fiber = Effect.runFork(Effect.withClock(effect, clock), { scheduler })
  let stalled = 0
  let last = clock.now
  let slice = performance.now()
  for (;;) {
    if (performance.now() - slice > SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      slice = performance.now()
    }
    scheduler.drain()
    const done = fiber.unsafePoll()
    if (done !== null) return done
    if (!clock.fireNext()) {
      throw new VirtualTimeDeadlock(`virtual time ${clock.now}: every fiber waits and no sleep is due`)
    }
    if (process.env.CHAOS_TRACE !== undefined && Math.floor(clock.now / 10_000) !== Math.floor(last / 10_000)) {
      process.stderr.write(`t=${clock.now} tasks=${scheduler.ran}\n`)
    }
    stalled = clock.now === last ? stalled + 1 : 0
    last = clock.now
    if (stalled > 1_000_000) {
      throw new VirtualTimeDeadlock(
        `virtual time ${clock.now}: a million wake-ups without time passing (a zero-sleep loop)`
      )
    }
  }
}
