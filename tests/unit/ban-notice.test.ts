import { afterEach, describe, expect, it } from 'vitest';
import { BanNotices, MAX_PORTS_PER_BAN } from '../../src/net/ban-notice.js';
import { DhtNode } from '../../src/dht/node.js';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/krpc.js';
import { memoryTransport } from '../fuzz/harness.js';

describe('BanNotices', () => {
  it('tells a banned source once per querying port, at most a handful of ports, and again after a new ban', () => {
    const notices = new BanNotices();
    expect(notices.shouldTell('10.0.0.1', 1)).toBe(false); // not banned
    notices.banned('10.0.0.1');
    expect(notices.shouldTell('10.0.0.1', 1)).toBe(true);
    expect(notices.shouldTell('10.0.0.1', 1)).toBe(false);
    for (let port = 2; port <= MAX_PORTS_PER_BAN; port++) expect(notices.shouldTell('10.0.0.1', port)).toBe(true);
    expect(notices.shouldTell('10.0.0.1', 99)).toBe(false);
    notices.banned('10.0.0.1');
    expect(notices.shouldTell('10.0.0.1', 1)).toBe(true);
  });
});

describe('a node refusing a querier', () => {
  const open: DhtNode[] = [];
  afterEach(async () => { await Promise.all(open.splice(0).map((n) => n.close())); });

  it('answers KRPC error 202 "rate limited" to the query that got it banned, then nothing', async () => {
    const wire = memoryTransport({ address: '10.0.0.1', port: 6881 });
    const node = await DhtNode.create({ transport: wire, maintenanceIntervalMs: 2 ** 31 - 1, sourceLimit: { rate: 0.001, burst: 2 } });
    open.push(node);
    const from = { address: '10.0.0.9', port: 4000 };
    const ping = (t: number): Uint8Array => encodeMessage(makeQuery(new Uint8Array([0, t]), 'ping', { id: new Uint8Array(20).fill(t) }));
    for (let t = 1; t <= 6; t++) node.rpc.receive(ping(t), from);
    const back = wire.sent.filter((s) => s.to.port === from.port).map((s) => decodeMessage(s.bytes));
    const errors = back.filter((p) => p.ok && p.message.y === 'e');
    expect(back.filter((p) => p.ok && p.message.y === 'r')).toHaveLength(2);
    expect(errors).toHaveLength(1);
    const error = errors[0]!;
    expect(error.ok && error.message.y === 'e' && [error.message.e.code, error.message.e.message, error.message.t[1]]).toEqual([202, 'rate limited', 3]);
    // A new process of the same user (another port) hears it once too.
    node.rpc.receive(ping(7), { ...from, port: 4001 });
    node.rpc.receive(ping(8), { ...from, port: 4001 });
    expect(wire.sent.filter((s) => s.to.port === 4001)).toHaveLength(1);
  });

  it('holds loopback sources to loopbackSourceLimit when given (a lab), others to sourceLimit', async () => {
    const wire = memoryTransport({ address: '127.0.0.1', port: 6881 });
    const node = await DhtNode.create({
      transport: wire, maintenanceIntervalMs: 2 ** 31 - 1, sourceLimit: { rate: 0.001, burst: 2 }, loopbackSourceLimit: { rate: 0.001, burst: 50 },
    });
    open.push(node);
    const ping = encodeMessage(makeQuery(new Uint8Array([0, 1]), 'ping', { id: new Uint8Array(20).fill(1) }));
    for (let i = 0; i < 20; i++) node.rpc.receive(ping, { address: '127.0.0.5', port: 4000 });
    for (let i = 0; i < 20; i++) node.rpc.receive(ping, { address: '10.0.0.5', port: 4000 });
    expect(node.rpc.counters.dropped.refused).toBe(18);
  });
});
