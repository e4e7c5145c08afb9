import dgram from 'node:dgram';
import { afterAll, describe, expect, test } from 'vitest';
import { DhtNode } from '../../src/dht/node.js';
import { encodeMessage, makeQuery } from '../../src/wire/krpc.js';
import { Prng } from '../helpers/prng.js';

/**
 * Issue 14.6, banned by someone else's packets: a flood sent "from" an honest node's address (here
 * from its very IP, on another port: what a forged source looks like to us) got that node banned,
 * removed from our table, and kept banned by its own pings every 8 s. The target runs the default
 * limits on a clock the test moves; the sockets are real, on loopback.
 */

const BAN_MS = 5 * 60_000;
const rng = new Prng(0xba4);
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => { for (const close of closers.splice(0)) await close(); });

async function bind(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  closers.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

describe('a ban by forged packets (issue 14.6)', () => {
  test('the honest node stays in our table, its replies pass, and the ban ends a term after the flood', async () => {
    const clock = { now: 1_700_000_000_000 };
    let onBan = (): void => {};
    const banned = new Promise<void>((resolve) => { onBan = resolve; });
    const target = await DhtNode.create({ address: '127.61.0.1', now: () => clock.now, sourceLimit: { onBan: () => onBan() } });
    const honest = await DhtNode.create({ address: '127.62.0.1', rpc: { hardTimeoutMs: 300 } });
    closers.push(() => target.close(), () => honest.close());

    // The honest node has answered us: it is a proven contact of ours.
    expect((await target.query(honest.local, 'ping', { id: target.id })).kind).toBe('response');
    expect(target.table.get(honest.id)?.lastResponse).toBeGreaterThan(0);

    // 60 packets "from" its IP, faster than any budget allows.
    const forger = await bind('127.62.0.1');
    const packetsBefore = target.rpc.counters.packetsIn;
    for (let i = 0; i < 60; i++) forger.send(encodeMessage(makeQuery(new Uint8Array([0, i]), 'ping', { id: rng.bytes(20) })), target.local.port, target.local.address);
    await banned;
    // Every datagram read (no event says so: look every 10 ms, for 2 s at most).
    for (let i = 0; i < 200 && target.rpc.counters.packetsIn < packetsBefore + 60; i++) await new Promise((r) => setTimeout(r, 10));
    expect(target.limiter!.isBanned('127.62.0.1')).toBe(true);

    // Our relationship is intact: still in the table, and its replies to our queries are read.
    expect(target.table.get(honest.id)).toBeDefined();
    expect((await target.query(honest.local, 'ping', { id: target.id })).kind).toBe('response');

    // Its own queries every 8 s are refused during the ban, but do not prolong it.
    const answeredAt: number[] = [];
    const floodEnd = clock.now;
    for (let t = 8_000; t <= BAN_MS + 16_000; t += 8_000) {
      clock.now = floodEnd + t;
      if (t > 24_000 && t < BAN_MS - 8_000) continue; // skip the middle of the term (each refused ping costs a timeout)
      const outcome = await honest.query(target.local, 'ping', { id: honest.id });
      if (outcome.kind === 'response') answeredAt.push(t);
    }
    expect(answeredAt.length).toBeGreaterThan(0);
    expect(answeredAt[0]).toBeGreaterThanOrEqual(BAN_MS);
    expect(answeredAt[0]).toBeLessThanOrEqual(BAN_MS + 8_000);
  });
});
