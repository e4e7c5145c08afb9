/**
 * watchStop (dht/stop-reason.ts): a run's two stop sources, its time and its caller's signal, give
 * one reason, the first to come, once; dispose leaves no timer and no listener behind.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchStop, type StopReason } from '../../src/dht/stop-reason.js';

describe('watchStop', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('says timeout when the time runs out first, once, and the signal aborting later changes nothing', () => {
    const caller = new AbortController();
    const reasons: StopReason[] = [];
    watchStop({ timeoutMs: 1_000, signal: caller.signal }, (r) => reasons.push(r));
    vi.advanceTimersByTime(999);
    expect(reasons).toEqual([]);
    vi.advanceTimersByTime(1);
    caller.abort();
    vi.advanceTimersByTime(5_000);
    expect(reasons).toEqual(['timeout']);
  });

  it('says aborted when the signal comes first, and the timer is cleared', () => {
    const caller = new AbortController();
    const reasons: StopReason[] = [];
    watchStop({ timeoutMs: 1_000, signal: caller.signal }, (r) => reasons.push(r));
    caller.abort();
    expect(reasons).toEqual(['aborted']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('says aborted at once for a signal aborted before the run', () => {
    const reasons: StopReason[] = [];
    watchStop({ timeoutMs: 1_000, signal: AbortSignal.abort() }, (r) => reasons.push(r));
    expect(reasons).toEqual(['aborted']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('without a time limit, only the signal stops the run', () => {
    const caller = new AbortController();
    const reasons: StopReason[] = [];
    watchStop({ timeoutMs: undefined, signal: caller.signal }, (r) => reasons.push(r));
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(24 * 3_600_000);
    expect(reasons).toEqual([]);
    caller.abort();
    expect(reasons).toEqual(['aborted']);
  });

  it('dispose, for a run that ended by itself, clears the timer and the listener', () => {
    const caller = new AbortController();
    const reasons: StopReason[] = [];
    const dispose = watchStop({ timeoutMs: 1_000, signal: caller.signal }, (r) => reasons.push(r));
    dispose();
    expect(vi.getTimerCount()).toBe(0);
    caller.abort();
    vi.advanceTimersByTime(2_000);
    expect(reasons).toEqual([]);
  });
});
