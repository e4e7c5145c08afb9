/**
 * How much of the CPU answering strangers may take: a token bucket of milliseconds of work.
 *
 * The per-source limits and the send queue bound what we *send*; they said nothing about what
 * making a reply costs. A flood of expensive queries from many sources, each within its own budget,
 * once held a node at 109% CPU while its send queue stayed empty (the replies could not be made fast
 * enough to queue up), so nothing was shed and honest pings waited half a second in the kernel.
 * So the node times every answer it makes and, once the work of the last moments is over its share
 * of the CPU, answers only the nodes it knows until the budget refills.
 *
 * A second, shorter bound is per turn of the event loop: the datagrams that arrived together are
 * read one after another, and a ping read last waits for every answer made before it. Once the
 * answers of one turn have taken `turnMs`, the rest of that turn's expensive queries from strangers
 * are shed too, so no honest query waits more than that behind a flood (issue 14: an honest ping's
 * p99 must stay where it is without the flood). The node calls newTurn() once per turn.
 *
 * Pure: the caller measures the work (with a monotonic clock) and passes the time.
 */
export interface CpuBudgetOptions {
  /** Share of one core that answering may take, sustained. Default 0.5. */
  share?: number;
  /** Milliseconds of work that may be spent at once after a quiet spell. Default 100. */
  burstMs?: number;
  /** Milliseconds of work one turn of the event loop may spend answering before it sheds. Default 5. */
  turnMs?: number;
}

export const CPU_BUDGET_DEFAULTS = { share: 0.5, burstMs: 100, turnMs: 5 } as const;
/** The most one answer counts toward its turn (see spend). */
const MAX_TURN_SAMPLE_MS = 1;

export class CpuBudget {
  readonly share: number;
  readonly burstMs: number;
  readonly turnMs: number;
  /** Milliseconds of work spent in the current turn of the event loop. */
  private turn = 0;
  /** Milliseconds of work still allowed; may go below 0 by the cost of the answer that overran it. */
  private allowance: number;
  private last: number;

  constructor(options: CpuBudgetOptions = {}, now = 0) {
    this.share = options.share ?? CPU_BUDGET_DEFAULTS.share;
    this.burstMs = options.burstMs ?? CPU_BUDGET_DEFAULTS.burstMs;
    this.turnMs = options.turnMs ?? CPU_BUDGET_DEFAULTS.turnMs;
    if (!(this.turnMs > 0)) throw new RangeError(`turnMs must be > 0, got ${this.turnMs}`);
    if (!(this.share > 0 && this.share <= 1)) throw new RangeError(`share must be in (0, 1], got ${this.share}`);
    if (!(this.burstMs > 0)) throw new RangeError(`burstMs must be > 0, got ${this.burstMs}`);
    this.allowance = this.burstMs;
    this.last = now;
  }

  /** Count `workMs` of work done at time `now` (ms, monotonic). */
  spend(workMs: number, now: number): void {
    this.refill(now);
    this.allowance -= Math.max(0, workMs);
    // No answer costs a millisecond (the dearest is ~50 us): a longer one is the process being
    // descheduled or collecting garbage, which must not make one busy moment shed a whole turn.
    this.turn += Math.min(Math.max(0, workMs), MAX_TURN_SAMPLE_MS);
  }

  /** Whether the work done lately is over the share, or this turn's: strangers' queries should wait. */
  exhausted(now: number): boolean {
    this.refill(now);
    return this.allowance <= 0 || this.turn >= this.turnMs;
  }

  /** A new turn of the event loop has begun: its own work starts from zero. */
  newTurn(): void {
    this.turn = 0;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.allowance = Math.min(this.burstMs, this.allowance + (now - this.last) * this.share);
    this.last = now;
  }
}
