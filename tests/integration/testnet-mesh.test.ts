/**
 * A started local network's tables are those of a long-running Kademlia network: every node's table
 * holds contacts at every shared-prefix length that has nodes (min(k, how many there are)). The
 * mesh it replaced (sorted-ID neighbours plus random others) left middle lengths empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testnet } from '../../src/modes/testnet.js';
import { sharedPrefixLength } from '../../src/wire/id.js';

describe('the local network mesh', () => {
  let net: Testnet;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 400, seed: 11 });
  }, 60_000);
  afterAll(async () => net?.close());

  it('gives every table contacts at every prefix length that has nodes', () => {
    const k = 8;
    const gaps: string[] = [];
    for (const node of net.nodes) {
      const bySize = new Map<number, number>();
      for (const other of net.nodes) {
        if (other === node) continue;
        const depth = sharedPrefixLength(other.id, node.id);
        bySize.set(depth, (bySize.get(depth) ?? 0) + 1);
      }
      const held = new Map<number, number>();
      for (const c of node.table.all()) held.set(sharedPrefixLength(c.id, node.id), (held.get(sharedPrefixLength(c.id, node.id)) ?? 0) + 1);
      for (const [depth, size] of bySize) {
        if ((held.get(depth) ?? 0) < Math.min(k, size)) gaps.push(`${node.local.address} depth ${depth}: ${held.get(depth) ?? 0} of ${size}`);
      }
    }
    expect(gaps.slice(0, 5)).toEqual([]);
  });
});
