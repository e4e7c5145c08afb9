import { describe, expect, it } from 'vitest';
import { MAX_REPLY_BYTES } from '../../src/net/rpc.js';
import { GENERATORS } from '../fuzz/generators.js';
import { formatReport, runFuzz, type FuzzReport } from '../fuzz/harness.js';

/** 100,000 seeded inputs through the decoder, the parser and three nodes (see tests/fuzz/harness.ts). */
describe('fuzzing the packet path', () => {
  let report: FuzzReport;

  it('100,000 inputs: no exception, no hang, every input accounted for, every reply under the cap', async () => {
    // A generous hang threshold: a loaded CI machine may stall any one input for a while.
    report = await runFuzz({ iterations: 100_000, seed: 20_261_101, slowMs: 1_000 });
    // The report lists each failure with its input; print it so a failure is reproducible.
    if (report.failureCount > 0) console.error(formatReport(report));
    expect(report.failures).toEqual([]);
    expect(report.iterations).toBe(100_000);
    expect(report.sent.largestReply).toBeLessThanOrEqual(MAX_REPLY_BYTES);
  }, 60_000);

  it('reached every generator and every outcome (a fuzzer that only hits one path proves little)', () => {
    for (const g of GENERATORS) expect(report.byGenerator[g.name], g.name).toBeGreaterThan(100);
    for (const [kind, n] of Object.entries(report.krpc)) expect(n, kind).toBeGreaterThan(100);
    expect(report.bencode.value).toBeGreaterThan(1_000);
    expect(report.bencode.BencodeError).toBeGreaterThan(1_000);
    for (const outcome of ['handled: query', 'handled: matched reply', 'handled: matched error', 'dropped: oversized', 'dropped: refused',
      'dropped: undecodable', 'dropped: invalid', 'dropped: unmatched']) {
      expect(report.node[outcome], outcome).toBeGreaterThan(0);
    }
    // Announces with real tokens stored peers, and queries were answered.
    expect(report.state.torrents).toBeGreaterThan(0);
    expect(report.sent.replies).toBeGreaterThan(10_000);
    expect(report.sent.errorReplies).toBeGreaterThan(1_000);
  });

  it('every input lands in exactly one outcome', () => {
    const total = Object.values(report.node).reduce((a, b) => a + b, 0);
    expect(total).toBe(report.iterations);
    expect(report.bencode.value + report.bencode.BencodeError).toBe(report.iterations);
  });
});
