import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/net/rate-limit.js';

describe('TokenBucket', () => {
  it('allows a burst, then paces at the rate', () => {
    const bucket = new TokenBucket(10, 5, 0);
    let taken = 0;
    while (bucket.take(0)) taken++;
    expect(taken).toBe(5);
    expect(bucket.waitMs(0)).toBe(100);
    expect(bucket.take(99)).toBe(false);
    expect(bucket.take(100)).toBe(true);
    // One second later, 10 more, but never more than the burst.
    let later = 0;
    while (bucket.take(10_000)) later++;
    expect(later).toBe(5);
  });

  it('rejects nonsense parameters', () => {
    expect(() => new TokenBucket(0, 5, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(5, 0, 0)).toThrow(RangeError);
  });

  it('does not refill when the clock goes backwards', () => {
    const bucket = new TokenBucket(1, 1, 1_000);
    expect(bucket.take(1_000)).toBe(true);
    expect(bucket.take(500)).toBe(false);
    expect(bucket.take(1_000)).toBe(false);
  });
});
