/**
 * RecentQueriers: which queriers the routing table heard about a moment ago, so that the node does
 * not update the table for every packet of a busy querier.
 */
import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../src/wire/compact.js';
import { RecentQueriers } from '../../src/table/recent-queriers.js';
import { Prng } from '../helpers/prng.js';

const prng = new Prng(7_2026);

function querier(address = '10.0.0.1', port = 6881, id = prng.bytes(20)): NodeInfo {
  return { id, address, port };
}

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

describe('RecentQueriers', () => {
  it('is recent only for the very same querier within the window', () => {
    const time = clock();
    const recent = new RecentQueriers({ windowMs: 5_000, now: time.now });
    const q = querier();
    expect(recent.isRecent(q)).toBe(false);
    time.advance(4_999);
    expect(recent.isRecent(q)).toBe(true);
    time.advance(1);
    expect(recent.isRecent(q)).toBe(false);
    expect(recent.isRecent(q)).toBe(true);
  });

  it('is not recent when the port or the ID differ: the table must hear about those', () => {
    const recent = new RecentQueriers({ now: clock().now });
    const q = querier();
    recent.isRecent(q);
    expect(recent.isRecent({ ...q, port: q.port + 1 })).toBe(false);
    // The entry now holds the new port: the first one is the newcomer again.
    expect(recent.isRecent(q)).toBe(false);
    expect(recent.isRecent({ ...q, id: prng.bytes(20) })).toBe(false);
    expect(recent.isRecent(q)).toBe(false);
    expect(recent.isRecent(q)).toBe(true);
  });

  it('keeps its own copy of the ID: a reused packet buffer changes nothing', () => {
    const recent = new RecentQueriers({ now: clock().now });
    const id = prng.bytes(20);
    const kept = id.slice();
    recent.isRecent(querier('10.0.0.1', 6881, id));
    id.fill(0);
    expect(recent.isRecent(querier('10.0.0.1', 6881, kept))).toBe(true);
  });

  it('remembers at most `capacity` addresses, forgetting the oldest', () => {
    const recent = new RecentQueriers({ capacity: 3, now: clock().now });
    const queriers = [1, 2, 3, 4].map((i) => querier(`10.0.0.${i}`));
    for (const q of queriers) recent.isRecent(q);
    expect(recent.size).toBe(3);
    expect(recent.isRecent(queriers[3]!)).toBe(true);
    expect(recent.isRecent(queriers[1]!)).toBe(true);
    expect(recent.isRecent(queriers[0]!)).toBe(false); // forgotten, noted again
    expect(recent.size).toBe(3);
  });
});
