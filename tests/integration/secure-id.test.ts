/**
 * BEP 42 in a node, on an in-memory network with public-looking addresses (loopback and private
 * addresses are exempt, so a real socket test could not show it): the node learns its external
 * address from replies, takes a secure ID for it, keeps its contacts; enforcement keeps insecure
 * IDs out of the table.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { idToHex, randomId } from '../../src/wire/id.js';
import { isSecureId, secureIdFor } from '../../src/wire/secure-id.js';
import { DhtNode } from '../../src/dht/node.js';
import { findNode } from '../../src/dht/lookup.js';
import { MemoryNetwork } from '../helpers/memory-network.js';

const nodes: DhtNode[] = [];
afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.close())); });

async function node(net: MemoryNetwork, address: string, options: Parameters<typeof DhtNode.create>[0] = {}): Promise<DhtNode> {
  const created = await DhtNode.create({ transport: net.transport(address, 6881), sourceLimit: false, ...options });
  nodes.push(created);
  return created;
}

describe('BEP 42 in the node', () => {
  it('takes an ID secure for the address five responders agree on, and keeps every contact', async () => {
    const net = new MemoryNetwork();
    const me = await node(net, '203.0.113.5');
    const before = me.id;
    expect(isSecureId(before, '203.0.113.5')).toBe(false); // a random ID almost never is
    const others = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => node(net, `198.51.${100 + i}.1`)));
    for (const other of others.slice(0, 4)) await me.query(other.local, 'ping', { id: me.id });
    expect(me.id).toEqual(before); // four voters are not enough
    for (const other of others.slice(4)) await me.query(other.local, 'ping', { id: me.id });
    expect(me.externalAddress.address).toBe('203.0.113.5');
    expect(isSecureId(me.id, '203.0.113.5')).toBe(true);
    expect(me.table.size).toBe(6);
    // Replies from now on carry the new ID.
    const ping = await others[0]!.query(me.local, 'ping', { id: others[0]!.id });
    expect(ping.kind === 'response' && idToHex(ping.response.r.id)).toBe(idToHex(me.id));
  });

  it('keeps an ID that is already secure for that address (a state file from an earlier run)', async () => {
    const net = new MemoryNetwork();
    const secure = secureIdFor('203.0.113.5');
    const me = await node(net, '203.0.113.5', { id: secure });
    for (const i of [1, 2, 3, 4, 5]) await me.query((await node(net, `198.51.${100 + i}.1`)).local, 'ping', { id: me.id });
    expect(me.externalAddress.address).toBe('203.0.113.5');
    expect(me.id).toEqual(secure);
  });

  it('secureId: false keeps the ID it was given', async () => {
    const net = new MemoryNetwork();
    const given = randomId();
    const me = await node(net, '203.0.113.5', { id: given, secureId: false });
    for (const i of [1, 2, 3, 4, 5]) await me.query((await node(net, `198.51.${100 + i}.1`)).local, 'ping', { id: me.id });
    expect(me.id).toEqual(given);
  });

  it('enforceSecureIds: a responder whose ID does not fit its address stays out of the table', async () => {
    const net = new MemoryNetwork();
    const me = await node(net, '203.0.113.5', { enforceSecureIds: true, secureId: false });
    const honest = await node(net, '198.51.100.7', { id: secureIdFor('198.51.100.7'), secureId: false });
    const forger = await node(net, '198.51.100.8', { id: randomId(), secureId: false });
    expect((await me.query(honest.local, 'ping', { id: me.id })).kind).toBe('response');
    expect((await me.query(forger.local, 'ping', { id: me.id })).kind).toBe('response');
    expect(me.table.all().map((c) => c.address)).toEqual(['198.51.100.7']);
  });

  it('enforceSecureIds: a lookup never asks a node whose ID does not fit its address, though a reply names it', async () => {
    const net = new MemoryNetwork();
    const me = await node(net, '203.0.113.5', { enforceSecureIds: true, secureId: false });
    const router = await node(net, '198.51.100.7', { id: secureIdFor('198.51.100.7'), secureId: false });
    const honest = await node(net, '198.51.100.20', { id: secureIdFor('198.51.100.20'), secureId: false });
    const forger = await node(net, '198.51.100.30', { id: randomId(), secureId: false });
    // The router knows both (it does not enforce): its find_node replies name the forger too.
    for (const other of [honest, forger]) expect((await router.query(other.local, 'ping', { id: router.id })).kind).toBe('response');
    const asked: string[] = [];
    const lookup = me.lookup(randomId(), findNode, {
      seeds: [{ id: router.id, ...router.local }],
      query: (to, method, args, options) => { asked.push(to.address); return me.query(to, method, args, options); },
    });
    await lookup.result;
    expect(asked).toContain('198.51.100.20');
    expect(asked).not.toContain('198.51.100.30');
  });
});
