import { describe, expect, test } from 'vitest';
import { CpuBudget } from '../../src/net/cpu-budget.js';
import { DhtNode } from '../../src/dht/node.js';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/krpc.js';
import { memoryTransport } from '../fuzz/harness.js';
import { Prng } from '../helpers/prng.js';

describe('CpuBudget', () => {
  test('work beyond the burst exhausts it; the share refills it', () => {
    const budget = new CpuBudget({ share: 0.5, burstMs: 100, turnMs: 1_000 }, 0);
    budget.spend(60, 0);
    expect(budget.exhausted(0)).toBe(false);
    budget.spend(60, 0);
    expect(budget.exhausted(0)).toBe(true);
    expect(budget.exhausted(50)).toBe(false); // 50 ms at half a core gave back 25 ms
    expect(() => new CpuBudget({ share: 0 })).toThrow(RangeError);
  });

  test('one turn of the event loop may spend turnMs; the next starts afresh', () => {
    const budget = new CpuBudget({ turnMs: 5 }, 0);
    for (let i = 0; i < 4; i++) budget.spend(1, 0);
    budget.spend(30, 0); // a pause that is no answer's cost counts as 1 ms at most
    expect(budget.exhausted(0)).toBe(true);
    budget.newTurn();
    budget.spend(4.5, 0);
    expect(budget.exhausted(0)).toBe(false);
    budget.newTurn();
    expect(budget.exhausted(0)).toBe(false);
    expect(() => new CpuBudget({ turnMs: 0 })).toThrow(RangeError);
  });
});

/** A node whose every packet sent "costs" 5 ms of CPU: the clock moves while the node answers, and only then. */
async function costlyNode(cpuBudget: { turnMs?: number } = {}): Promise<{ node: DhtNode; replies: (to: string) => number; all: () => number }> {
  let cpuNow = 0;
  const transport = memoryTransport({ address: '127.0.0.1', port: 6881 });
  const send = transport.send;
  transport.send = (bytes, to) => { cpuNow += 5; send(bytes, to); };
  const node = await DhtNode.create({ transport, sourceLimit: false, cpuBudget, cpuClock: () => cpuNow, rpc: { sendRate: 1e6, sendBurst: 1e6 } });
  const isReply = (bytes: Uint8Array): boolean => { const p = decodeMessage(bytes); return p.ok && p.message.y === 'r'; };
  return {
    node,
    replies: (to) => transport.sent.filter((s) => s.to.address === to && isReply(s.bytes)).length,
    all: () => transport.sent.filter((s) => isReply(s.bytes)).length,
  };
}

const rng = new Prng(5);
const getPeers = (i: number): Uint8Array => encodeMessage(makeQuery(new Uint8Array([0, i]), 'get_peers', { id: rng.bytes(20), info_hash: rng.bytes(20) }));
const ping = (i: number): Uint8Array => encodeMessage(makeQuery(new Uint8Array([1, i]), 'ping', { id: rng.bytes(20) }));

describe('the node sheds strangers by the CPU its answers take (issue 14.1)', () => {
  test('queries that are expensive to answer are shed once half a core is spent', async () => {
    const { node, all } = await costlyNode({ turnMs: 1e6 }); // the turn's bound is the next test's
    for (let i = 0; i < 100; i++) node.rpc.receive(getPeers(i), { address: `192.0.2.${i + 1}`, port: 7000 });
    // A 100 ms burst, refilled at half the time that passes (and time only passes while answering):
    // a few dozen replies and their upkeep pings. Without the budget: 100 replies.
    expect(all()).toBeGreaterThan(5);
    expect(all()).toBeLessThan(50);
    expect(node.rpc.counters.dropped.shed).toBe(100 - all());
    await node.close();
  });

  test('one turn of the event loop answers strangers\' expensive queries for 5 ms at most; a ping read after them is answered, and the next turn answers again', async () => {
    const { node, replies } = await costlyNode();
    // 100 get_peers and then an honest ping arrive together (one turn): the ping must not wait for
    // 100 answers, nor be shed with them (the code before shed every stranger once over budget).
    for (let i = 0; i < 100; i++) node.rpc.receive(getPeers(i), { address: `192.0.2.${i + 1}`, port: 7000 });
    node.rpc.receive(ping(0), { address: '198.51.100.7', port: 6881 });
    expect(replies('198.51.100.7')).toBe(1);
    // No answer counts for more than 1 ms in a turn (a longer one is the process being descheduled):
    // the first five took the turn's 5 ms.
    expect(node.rpc.counters.dropped.shed).toBe(95);
    await new Promise((resolve) => setImmediate(resolve));
    node.rpc.receive(getPeers(200), { address: '192.0.2.201', port: 7000 });
    expect(replies('192.0.2.201')).toBe(1);
    await node.close();
  });
});
