/**
 * BEP 5 lets a get_peers reply carry `values` instead of `nodes`; bittorrent-dht does. The lookup
 * then asks that node find_node for the same target, so the neighbours it did not name are found.
 */
import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../src/wire/compact.js';
import { compareDistance, type NodeId } from '../../src/wire/id.js';
import type { QueryArgsByMethod, Response } from '../../src/wire/krpc.js';
import { Lookup, getPeers, type LookupMethod } from '../../src/dht/lookup.js';
import type { QueryOutcome } from '../../src/net/rpc.js';
import { Prng } from '../helpers/prng.js';

const prng = new Prng(4242);

/** A random ID sharing exactly `bits` leading bits with `target`. */
function near(target: NodeId, bits: number): NodeId {
  const id = prng.bytes(20);
  const bit = (bytes: Uint8Array, i: number): number => (bytes[i >> 3]! >> (7 - (i % 8))) & 1;
  const set = (i: number, value: number): void => {
    const mask = 0x80 >> (i % 8);
    id[i >> 3] = value === 1 ? id[i >> 3]! | mask : id[i >> 3]! & ~mask;
  };
  for (let i = 0; i < bits; i++) set(i, bit(target, i));
  set(bits, 1 - bit(target, bits));
  return id;
}

describe('a get_peers lookup meeting nodes that answer with values only', () => {
  it('asks such a node find_node for the same target, and announces to the true closest', async () => {
    const target = prng.bytes(20);
    // A far seed knows the holder; only the holder knows the two nodes closest to the target.
    const seed: NodeInfo = { id: near(target, 2), address: '10.0.0.1', port: 1 };
    const holder: NodeInfo = { id: near(target, 8), address: '10.0.0.2', port: 1 };
    const hidden: NodeInfo[] = [{ id: near(target, 16), address: '10.0.0.3', port: 1 }, { id: near(target, 20), address: '10.0.0.4', port: 1 }];
    const asked: string[] = [];
    const reply = (body: Response['r']): QueryOutcome => ({ kind: 'response', response: { t: new Uint8Array(2), y: 'r', r: body } as Response, rttMs: 1 });
    const query = async <M extends LookupMethod>(to: NodeInfo, method: M, _args: QueryArgsByMethod[M]): Promise<QueryOutcome> => {
      asked.push(`${method} ${to.address}`);
      const token = new Uint8Array([1, 2, 3, 4]);
      if (to === seed || to.address === seed.address) return reply({ id: seed.id, token, nodes: [holder] });
      if (to.address === holder.address) {
        return method === 'get_peers' ? reply({ id: holder.id, token, values: [{ address: '10.9.9.9', port: 7000 }] }) : reply({ id: holder.id, nodes: hidden });
      }
      return reply({ id: hidden.find((h) => h.address === to.address)!.id, token, nodes: [] });
    };
    const lookup = new Lookup(prng.bytes(20), target, getPeers(), [seed], query, { k: 8 });
    const result = await lookup.result;
    expect(asked).toContain('find_node 10.0.0.2');
    expect(asked).toContain('get_peers 10.0.0.3');
    expect(asked).toContain('get_peers 10.0.0.4');
    const closest = result.closest.map((c) => c.node.address);
    const expected = [seed, holder, ...hidden].sort((a, b) => compareDistance(target, a.id, b.id)).map((n) => n.address);
    expect(closest).toEqual(expected);
    expect(result.stats.queries).toBe(5);
  });

  it('asks no follow-up of a node whose reply also carries nodes (libtorrent sends both)', async () => {
    const target = prng.bytes(20);
    const seed: NodeInfo = { id: near(target, 4), address: '10.0.1.1', port: 1 };
    const asked: string[] = [];
    const query = async <M extends LookupMethod>(to: NodeInfo, method: M): Promise<QueryOutcome> => {
      asked.push(`${method} ${to.address}`);
      return { kind: 'response', response: { t: new Uint8Array(2), y: 'r', r: { id: seed.id, values: [{ address: '10.9.9.9', port: 7000 }], nodes: [{ id: near(target, 1), address: '10.0.1.2', port: 1 }] } } as Response, rttMs: 1 };
    };
    await new Lookup(prng.bytes(20), target, getPeers(), [seed], query, { k: 8 }).result;
    expect(asked.filter((a) => a.startsWith('find_node'))).toEqual([]);
  });
});
