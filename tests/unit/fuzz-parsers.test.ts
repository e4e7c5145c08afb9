import { describe, expect, it } from 'vitest';
import { TARGETS, fuzzParsers, type ParserFuzzReport } from '../fuzz/parsers.js';

/** Trackers' and peers' replies, mutated: each parser returns or throws its own typed error (tests/fuzz/parsers.ts). */
describe('fuzzing the tracker and peer parsers', () => {
  let report: ParserFuzzReport;

  it('10,000 inputs per parser: no untyped exception, no hang', () => {
    report = fuzzParsers({ iterations: 10_000, seed: 20_261_205, slowMs: 1_000 });
    console.info(`parser fuzz, slowest input ${report.slowestMs.toFixed(1)} ms:`, JSON.stringify(report.outcomes));
    expect(report.failures).toEqual([]);
  }, 60_000);

  it('each parser both accepted and refused many inputs (a fuzzer that hits one path proves little)', () => {
    for (const target of TARGETS) {
      expect(report.outcomes[target.name]!.parsed, target.name).toBeGreaterThan(500);
      expect(report.outcomes[target.name]!.refused, target.name).toBeGreaterThan(500);
    }
  });
});
