import { describe, expect, test } from 'vitest';
import { CpuBudget } from '../../src/net/cpu-budget.js';
import { DhtNode } from '../../src/dht/node.js';
import { decodeMessage, encodeMessage, makeQuery } from '../../src/wire/krpc.js';
import { memoryTransport } from '../fuzz/harness.js';
import { Prng } from '../helpers/prng.js';

describe('CpuBudget', () => {
  test('work beyond the burst exhausts it; the share refills it', () => {
    const budget = new CpuBudget({ share: 0.5, burstMs: 100 }, 0);
    budget.spend(60, 0);
    expect(budget.exhausted(0)).toBe(false);
    budget.spend(60, 0);
    expect(budget.exhausted(0)).toBe(true);
    expect(budget.exhausted(50)).toBe(false); // 50 ms at half a core gave back 25 ms
    expect(() => new CpuBudget({ share: 0 })).toThrow(RangeError);
  });
});

describe('the node sheds strangers by the CPU its answers take (issue 14.1)', () => {
  test('queries that are expensive to answer are shed once half a core is spent, known nodes still answered', async () => {
    let cpuNow = 0;
    const transport = memoryTransport({ address: '127.0.0.1', port: 6881 });
    const send = transport.send;
    // Making each reply "costs" 5 ms of CPU: the clock moves while the node answers, and only then.
    transport.send = (bytes, to) => { cpuNow += 5; send(bytes, to); };
    const node = await DhtNode.create({ transport, sourceLimit: false, cpuClock: () => cpuNow, rpc: { sendRate: 1e6, sendBurst: 1e6 } });
    const rng = new Prng(5);
    for (let i = 0; i < 100; i++) {
      const query = encodeMessage(makeQuery(new Uint8Array([0, i]), 'ping', { id: rng.bytes(20) }));
      node.rpc.receive(query, { address: `192.0.2.${i + 1}`, port: 7000 });
    }
    // A 100 ms burst, refilled at half the time that passes (and time only passes while answering):
    // a few dozen replies and their upkeep pings. Without the budget: 100 replies.
    const replies = transport.sent.filter((s) => s.bytes.includes(0x72) && decodeMessage(s.bytes).ok && (decodeMessage(s.bytes) as { message: { y: string } }).message.y === 'r');
    expect(replies.length).toBeGreaterThan(5);
    expect(replies.length).toBeLessThan(50);
    expect(node.rpc.counters.dropped.shed).toBe(100 - replies.length);
    await node.close();
  });
});
