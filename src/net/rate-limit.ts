/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. It paces what we send (a home
 * router drops or chokes on a flood of UDP) and, per source, what we are willing to answer.
 * Pure: the caller passes the time, so it is tested without waiting.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
    /** Tokens to start with. Default a full burst. */
    tokens = burst,
  ) {
    if (!(rate > 0) || !(burst >= 1)) throw new RangeError(`rate must be > 0 and burst >= 1 (got ${rate}, ${burst})`);
    this.tokens = Math.min(burst, Math.max(0, tokens));
    this.last = now;
  }

  /** Tokens saved up at `now`. */
  level(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
  }

  /** Take one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token will be available (0 if one is now). */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}
