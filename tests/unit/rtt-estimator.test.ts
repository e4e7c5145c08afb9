import { describe, expect, it } from 'vitest';
import { RttEstimator } from '../../src/net/rtt-estimator.js';

describe('RttEstimator (RFC 6298)', () => {
  it('waits the maximum until it has heard a reply', () => {
    expect(new RttEstimator(250, 1_000).timeoutMs).toBe(1_000);
  });

  it('first sample: srtt = R, rttvar = R/2, so the timeout is 3R', () => {
    const rtt = new RttEstimator(10, 10_000);
    rtt.sample(100);
    expect(rtt.smoothedMs).toBe(100);
    expect(rtt.timeoutMs).toBe(300);
  });

  it('a steady network shrinks the deviation, and the timeout towards the round trip', () => {
    const rtt = new RttEstimator(10, 10_000);
    for (let i = 0; i < 50; i++) rtt.sample(100);
    expect(rtt.timeoutMs).toBeGreaterThanOrEqual(100);
    expect(rtt.timeoutMs).toBeLessThan(110);
  });

  it('jitter widens it (the RFC weights: 1/4 for the deviation, then 1/8 for the mean)', () => {
    const rtt = new RttEstimator(10, 10_000);
    rtt.sample(100);
    rtt.sample(200);
    // rttvar = 0.75 * 50 + 0.25 * |100 - 200| = 62.5; srtt = 0.875 * 100 + 0.125 * 200 = 112.5
    expect(rtt.smoothedMs).toBe(112.5);
    expect(rtt.timeoutMs).toBe(Math.round(112.5 + 4 * 62.5));
  });

  it('stays within [min, max], and ignores nonsense samples', () => {
    const fast = new RttEstimator(250, 1_000);
    for (let i = 0; i < 20; i++) fast.sample(1);
    expect(fast.timeoutMs).toBe(250);
    const slow = new RttEstimator(250, 1_000);
    slow.sample(5_000);
    expect(slow.timeoutMs).toBe(1_000);
    slow.sample(Number.NaN);
    slow.sample(-5);
    expect(slow.smoothedMs).toBe(5_000);
    expect(() => new RttEstimator(0, 10)).toThrow(RangeError);
  });
});
