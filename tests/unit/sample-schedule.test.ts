import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../src/wire/compact.js';
import { SampleSchedule } from '../../src/crawl/sample-schedule.js';
import { formatEndpoint as endpointKey } from '../../src/wire/address.js';
import { Prng } from '../helpers/prng.js';

const prng = new Prng(51);
const node = (i: number): NodeInfo => ({ id: prng.bytes(20), address: `10.0.${i >> 8}.${i & 255}`, port: 6881 });
const keys = (nodes: NodeInfo[]): string[] => nodes.map(endpointKey);

describe('SampleSchedule: who is due', () => {
  it('hands out never-asked nodes first come, first served, each once', () => {
    const schedule = new SampleSchedule();
    const nodes = [0, 1, 2, 3, 4].map(node);
    for (const n of nodes) expect(schedule.add(n)).toBe(true);
    expect(schedule.add({ ...nodes[0]!, id: prng.bytes(20) })).toBe(false);
    expect(keys(schedule.take(3, 0))).toEqual(keys(nodes.slice(0, 3)));
    expect(keys(schedule.take(10, 0))).toEqual(keys(nodes.slice(3)));
    expect(schedule.take(10, 0)).toEqual([]);
    expect(schedule.stats()).toMatchObject({ nodes: 5, waiting: 0, inFlight: 5 });
  });

  it("honours each node's own interval (BEP 51)", () => {
    const schedule = new SampleSchedule();
    const [a, b] = [node(1), node(2)];
    schedule.add(a);
    schedule.add(b);
    schedule.take(2, 0);
    schedule.answered(a, 30, 1_000);
    schedule.answered(b, 10, 1_000);
    expect(schedule.take(10, 10_999)).toEqual([]);
    expect(keys(schedule.take(10, 11_000))).toEqual(keys([b]));
    expect(schedule.take(10, 30_999)).toEqual([]);
    expect(keys(schedule.take(10, 31_000))).toEqual(keys([a]));
    expect(schedule.stats().sampled).toBe(2);
  });

  it('hands out due nodes soonest-due first, before never-asked ones', () => {
    const schedule = new SampleSchedule();
    const nodes = Array.from({ length: 50 }, (_, i) => node(i));
    for (const n of nodes) schedule.add(n);
    schedule.take(50, 0);
    const intervals = nodes.map(() => 1 + prng.int(100));
    nodes.forEach((n, i) => schedule.answered(n, intervals[i], 0));
    const fresh = node(99);
    schedule.add(fresh);
    const order = nodes.map((n, i) => ({ key: endpointKey(n), due: intervals[i]! })).sort((x, y) => x.due - y.due);
    const taken = keys(schedule.take(60, 100_000));
    expect(taken.slice(0, 50).map((k) => order.find((o) => o.key === k)!.due)).toEqual(order.map((o) => o.due));
    expect(taken[50]).toBe(endpointKey(fresh));
  });

  it('clamps intervals: a node saying 0 is not asked every round, a missing one means the default', () => {
    const schedule = new SampleSchedule({ minIntervalSeconds: 5, maxIntervalSeconds: 100, defaultIntervalSeconds: 50 });
    const [zero, none, huge] = [node(1), node(2), node(3)];
    for (const n of [zero, none, huge]) schedule.add(n);
    schedule.take(3, 0);
    schedule.answered(zero, 0, 0);
    schedule.answered(none, undefined, 0);
    schedule.answered(huge, 1e9, 0);
    expect(keys(schedule.take(10, 4_999))).toEqual([]);
    expect(keys(schedule.take(10, 5_000))).toEqual(keys([zero]));
    expect(keys(schedule.take(10, 50_000))).toEqual(keys([none]));
    expect(keys(schedule.take(10, 100_000))).toEqual(keys([huge]));
  });
});

describe('SampleSchedule: claiming a node met on a walk', () => {
  it('claims unknown and due nodes, never one that is resting or in flight', () => {
    const schedule = new SampleSchedule();
    const a = node(1);
    expect(schedule.claim(a, 0)).toBe(true);
    expect(schedule.has(a)).toBe(true);
    expect(schedule.claim(a, 0)).toBe(false);
    schedule.answered(a, 60, 0);
    expect(schedule.claim(a, 59_999)).toBe(false);
    expect(schedule.claim(a, 60_000)).toBe(true);
    // The claimed node is not handed out a second time by take().
    expect(schedule.take(10, 60_000)).toEqual([]);
  });
});

describe('SampleSchedule: failures', () => {
  it('retries a silent node once, later, then forgets it', () => {
    const schedule = new SampleSchedule({ retryMs: 10_000, maxFailures: 2 });
    const a = node(1);
    schedule.add(a);
    schedule.take(1, 0);
    schedule.failed(a, 0);
    expect(schedule.take(1, 9_999)).toEqual([]);
    expect(keys(schedule.take(1, 10_000))).toEqual(keys([a]));
    schedule.failed(a, 10_000);
    expect(schedule.has(a)).toBe(false);
    expect(schedule.stats()).toMatchObject({ nodes: 0, failed: 1, inFlight: 0 });
  });

  it('a node that answers find_node but never sample_infohashes counts as without BEP 51 after two tries', () => {
    const schedule = new SampleSchedule({ retryMs: 60_000, answeringRetryMs: 5_000, maxFailures: 2, maxIntervalSeconds: 100 });
    const a = node(2);
    schedule.add(a);
    schedule.heard(a);
    schedule.take(1, 0);
    schedule.failed(a, 0);
    // Alive, so asked again sooner than a silent node would be.
    expect(keys(schedule.take(1, 5_000))).toEqual(keys([a]));
    schedule.failed(a, 5_000);
    expect(schedule.has(a)).toBe(true);
    expect(schedule.stats()).toMatchObject({ unsupported: 1, failed: 0, inFlight: 0 });
    expect(schedule.take(1, 104_999)).toEqual([]);
    expect(keys(schedule.take(1, 105_000))).toEqual(keys([a]));
  });

  it('an answer clears earlier failures', () => {
    const schedule = new SampleSchedule({ retryMs: 0, maxFailures: 2 });
    const a = node(1);
    schedule.add(a);
    schedule.take(1, 0);
    schedule.failed(a, 0);
    schedule.take(1, 0);
    schedule.answered(a, 1, 0);
    schedule.take(1, 1_000);
    schedule.failed(a, 1_000);
    expect(schedule.has(a)).toBe(true);
  });

  it('does not ask a node without BEP 51 again for the longest interval', () => {
    const schedule = new SampleSchedule({ maxIntervalSeconds: 600 });
    const a = node(1);
    schedule.add(a);
    schedule.take(1, 0);
    schedule.unsupported(a, 0);
    expect(schedule.take(1, 599_999)).toEqual([]);
    expect(keys(schedule.take(1, 600_000))).toEqual(keys([a]));
    expect(schedule.stats().unsupported).toBe(1);
  });

  it('a query we could not send makes the node due again at once', () => {
    const schedule = new SampleSchedule();
    const a = node(1);
    schedule.add(a);
    schedule.take(1, 0);
    schedule.release(a, 5);
    expect(keys(schedule.take(1, 5))).toEqual(keys([a]));
  });

  it('ignores outcomes for nodes it did not hand out', () => {
    const schedule = new SampleSchedule();
    const a = node(1);
    schedule.add(a);
    schedule.answered(a, 1, 0);
    schedule.failed(node(2), 0);
    expect(schedule.stats()).toMatchObject({ sampled: 0, inFlight: 0, waiting: 1 });
  });
});

describe('SampleSchedule: the cap', () => {
  it('makes room by forgetting the waiting node learned longest ago', () => {
    const schedule = new SampleSchedule({ maxNodes: 3 });
    const nodes = [1, 2, 3, 4].map(node);
    for (const n of nodes) expect(schedule.add(n)).toBe(true);
    expect(schedule.size).toBe(3);
    expect(schedule.has(nodes[0]!)).toBe(false);
    expect(schedule.stats().evicted).toBe(1);
  });

  it('when none is waiting, forgets the node answered longest ago, never one in flight', () => {
    const schedule = new SampleSchedule({ maxNodes: 3 });
    const [a, b, c, d, e] = [1, 2, 3, 4, 5].map(node);
    for (const n of [a!, b!, c!]) schedule.add(n);
    schedule.take(3, 0);
    schedule.answered(b!, 100, 0);
    schedule.answered(a!, 100, 1);
    // c is still in flight.
    expect(schedule.add(d!)).toBe(true);
    expect(schedule.has(b!)).toBe(false);
    expect(schedule.has(a!)).toBe(true);
    expect(schedule.has(c!)).toBe(true);
    schedule.take(1, 2);
    // a is resting, c and d in flight: a goes next.
    expect(schedule.add(e!)).toBe(true);
    expect(schedule.has(a!)).toBe(false);
  });

  it('refuses a newcomer when every node is in flight', () => {
    const schedule = new SampleSchedule({ maxNodes: 2 });
    schedule.add(node(1));
    schedule.add(node(2));
    schedule.take(2, 0);
    expect(schedule.add(node(3))).toBe(false);
    expect(schedule.claim(node(4), 0)).toBe(false);
    expect(schedule.size).toBe(2);
  });

  it('stays bounded through a long run of newcomers and answers', () => {
    const schedule = new SampleSchedule({ maxNodes: 100 });
    let now = 0;
    for (let i = 0; i < 5_000; i++) {
      schedule.add(node(i));
      for (const n of schedule.take(2, now)) schedule.answered(n, 1 + prng.int(50), now);
      now += 100;
    }
    expect(schedule.size).toBeLessThanOrEqual(100);
    expect(schedule.stats().evicted).toBeGreaterThan(4_000);
  });
});
