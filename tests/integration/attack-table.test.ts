import dgram from 'node:dgram';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { DhtNode } from '../../src/dht/node.js';
import { decodeMessage, encodeMessage, makeQuery, makeResponse } from '../../src/wire/krpc.js';
import { Prng } from '../helpers/prng.js';

/**
 * Issue 14.3: one IP on 300 ports, each port a "node" with its own ID querying us, held 142 slots
 * of a default node's table. Real sockets on loopback; each port sends one ping (well within every
 * per-source budget: 300 packets from one IP would be banned, so 40 ports send here, and a second
 * round of 40 more from the same IP after the first are in).
 */

const rng = new Prng(0x7ab1e);
const sockets: dgram.Socket[] = [];
const nodes: DhtNode[] = [];
afterAll(async () => {
  for (const s of sockets.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  for (const n of nodes.splice(0)) await n.close();
});

/** One attacker "node": a port with its own ID that answers the pings it gets (so it can enter a table). */
async function bind(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  sockets.push(socket);
  const id = rng.bytes(20);
  socket.on('message', (bytes, from) => {
    const parsed = decodeMessage(bytes);
    if (parsed.ok && parsed.message.y === 'q') socket.send(encodeMessage(makeResponse(parsed.message.t, { id })), from.port, from.address);
  });
  return socket;
}

describe('the routing table per host, not per port (issue 14.3)', () => {
  test('one IP on 40 ports gets at most one slot per bucket of a node with default options', async () => {
    // No table option: the per-host rule must be the default (libtorrent's restrict_routing_ips).
    const target = await DhtNode.create({ address: '127.71.0.1' });
    nodes.push(target);
    for (let port = 0; port < 40; port++) {
      const socket = await bind('127.72.0.1');
      const answered = new Promise<void>((resolve) => socket.once('message', () => resolve()));
      socket.send(encodeMessage(makeQuery(new Uint8Array([0, port]), 'ping', { id: rng.bytes(20) })), target.local.port, target.local.address);
      await answered;
    }
    // A querier enters the table by answering our ping: wait for the 40 answers.
    await vi.waitFor(() => expect(target.rpc.counters.responses).toBeGreaterThanOrEqual(40), { timeout: 10_000 });
    const perBucket = target.table.buckets().map((b) => b.contacts.filter((c) => c.address === '127.72.0.1').length);
    expect(Math.max(...perBucket)).toBe(1);
    // 40 random IDs land mostly in the two farthest buckets: old code gave them 40 slots.
    expect(perBucket.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(target.table.buckets().length);
    expect(target.table.size).toBeLessThan(10);
  });

  test('a local network that shares its loopback address says so, and keeps every node', async () => {
    const target = await DhtNode.create({ address: '127.71.0.2', table: { sharedLoopback: true } });
    nodes.push(target);
    for (let port = 0; port < 10; port++) {
      const socket = await bind('127.72.0.2');
      const answered = new Promise<void>((resolve) => socket.once('message', () => resolve()));
      socket.send(encodeMessage(makeQuery(new Uint8Array([1, port]), 'ping', { id: rng.bytes(20) })), target.local.port, target.local.address);
      await answered;
    }
    await vi.waitFor(() => expect(target.table.size).toBe(10), { timeout: 10_000 });
  });
});
