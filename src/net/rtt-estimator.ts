/**
 * How long to wait for a reply before treating a query as slow: the smoothed round-trip time plus
 * four times its mean deviation, the retransmission timeout of TCP (RFC 6298, section 2).
 *
 * A fixed soft timeout is wrong on most networks: a second is 10 round trips on a good link, and
 * a lookup on a lossy one pays it for every lost packet. Learning the timeout from the replies we
 * get keeps it just above what the network needs. It stays within [min, max]: below min, ordinary
 * jitter would mark live nodes slow; above max, a bad network would stall lookups.
 */
export class RttEstimator {
  private srtt: number | undefined;
  private rttvar = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
  ) {
    if (!(minMs > 0 && maxMs >= minMs)) throw new RangeError(`need 0 < min <= max, got ${minMs}, ${maxMs}`);
  }

  /** Learn from one reply's round trip. */
  sample(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    if (this.srtt === undefined) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
      return;
    }
    // RFC 6298 (2.3): beta = 1/4 for the deviation, alpha = 1/8 for the mean; deviation first.
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rttMs);
    this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
  }

  /** The current timeout: max until the first sample, then srtt + 4 * rttvar within [min, max]. */
  get timeoutMs(): number {
    if (this.srtt === undefined) return this.maxMs;
    return Math.min(this.maxMs, Math.max(this.minMs, Math.round(this.srtt + 4 * this.rttvar)));
  }

  /** The smoothed round trip, or undefined before the first reply. */
  get smoothedMs(): number | undefined {
    return this.srtt;
  }
}
