import { describe, expect, test } from 'vitest';
import { ScrapeBloom } from '../../src/wire/bloom.js';
import type { ResponseBody } from '../../src/wire/krpc.js';
import { SwarmScrape, scrapingGetPeers } from '../../src/modes/swarm-size.js';
import { Prng } from '../helpers/prng.js';

const rng = new Prng(33);

function ips(count: number, offset = 0): string[] {
  return Array.from({ length: count }, (_, i) => `10.${(i + offset) >> 16 & 255}.${(i + offset) >> 8 & 255}.${(i + offset) & 255}`);
}

/** The reply a node holding these seeds and leechers sends to a scrape=1 get_peers. */
function reply(seeds: readonly string[], leechers: readonly string[]): ResponseBody {
  const sd = new ScrapeBloom();
  const pe = new ScrapeBloom();
  for (const ip of seeds) sd.insert(ip);
  for (const ip of leechers) pe.insert(ip);
  return { id: rng.bytes(20), BFsd: sd.toBytes(), BFpe: pe.toBytes() };
}

function node(i: number): { id: Uint8Array; address: string; port: number } {
  return { id: rng.bytes(20), address: `127.0.${i}.1`, port: 6881 };
}

describe('SwarmScrape', () => {
  test('merging overlapping per-node filters counts each IP once (the union), within 10%', () => {
    const seeds = ips(300);
    const leechers = ips(900, 300);
    const swarm = new SwarmScrape();
    // Eight nodes, each holding a random ~40% of the swarm, overlapping.
    let largestSingle = 0;
    for (let n = 0; n < 8; n++) {
      const keep = (): boolean => rng.next() < 0.4;
      const body = reply(seeds.filter(keep), leechers.filter(keep));
      largestSingle = Math.max(largestSingle, ScrapeBloom.fromBytes(body.BFpe!).estimate());
      expect(swarm.add(body, node(n))).toBe(true);
    }
    const estimate = swarm.estimate();
    expect(estimate.responders).toBe(8);
    expect(Math.abs(estimate.seeds - 300) / 300).toBeLessThan(0.1);
    expect(Math.abs(estimate.leechers - 900) / 900).toBeLessThan(0.1);
    // Adding counts would overshoot; one node alone undershoots:
    expect(largestSingle).toBeLessThan(900 * 0.6);
    expect(estimate.saturated).toBe(false);
  });

  test('a reply without filters is not a responder; the same node twice counts once', () => {
    const swarm = new SwarmScrape();
    expect(swarm.add({ id: rng.bytes(20), values: [{ address: '10.0.0.1', port: 1 }] }, node(1))).toBe(false);
    const body = reply(ips(10), []);
    const again = node(2);
    swarm.add(body, node(2));
    swarm.add(body, again);
    expect(swarm.estimate()).toMatchObject({ responders: 1, leechers: 0 });
    expect(swarm.estimate().seeds).toBeGreaterThanOrEqual(9);
  });

  test('nothing heard: zero and zero', () => {
    expect(new SwarmScrape().estimate()).toEqual({ seeds: 0, leechers: 0, responders: 0, saturated: false });
  });

  test('a full filter is flagged as saturated', () => {
    const swarm = new SwarmScrape();
    swarm.add({ id: rng.bytes(20), BFsd: new Uint8Array(256).fill(255), BFpe: new Uint8Array(256) }, node(1));
    expect(swarm.estimate().saturated).toBe(true);
  });
});

describe('scrapingGetPeers', () => {
  test('asks with scrape=1, yields the values and feeds the filters to the accumulator', () => {
    const swarm = new SwarmScrape();
    const strategy = scrapingGetPeers(swarm, { noseed: true });
    const own = rng.bytes(20);
    const target = rng.bytes(20);
    expect(strategy.method).toBe('get_peers');
    expect(strategy.args(own, target)).toEqual({ id: own, info_hash: target, scrape: true, noseed: true });
    const values = [{ address: '10.1.2.3', port: 51413 }];
    const body = { ...reply(ips(50), ips(50, 50)), values, token: rng.bytes(4) };
    expect(strategy.collect(body, node(3))).toEqual(values);
    expect(strategy.token?.(body)).toEqual(body.token);
    expect(swarm.responders).toBe(1);
  });
});
