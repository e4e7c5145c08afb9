import { describe, expect, it } from 'vitest';
import { ConditionsError, PRESETS, assignRoles, parseConditions, resolveConditions, unreachableCount } from '../../src/modes/testnet-conditions.js';
import { SeededRandom } from '../../src/net/seeded-random.js';
import { MAX_INJECTED_DELAY_MS, sampleLogNormal } from '../../src/net/transport.js';

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe('log-normal delays', () => {
  it('have the declared median and p95 (20,000 seeded draws)', () => {
    const random = new SeededRandom(1);
    const draws = Array.from({ length: 20_000 }, () => sampleLogNormal({ medianMs: 120, p95Ms: 800 }, () => random.next())).sort((a, b) => a - b);
    expect(quantile(draws, 0.5)).toBeGreaterThan(120 * 0.95);
    expect(quantile(draws, 0.5)).toBeLessThan(120 * 1.05);
    expect(quantile(draws, 0.95)).toBeGreaterThan(800 * 0.92);
    expect(quantile(draws, 0.95)).toBeLessThan(800 * 1.08);
    // Heavy-tailed: the p99 is far past the p95, but never past the cap.
    expect(quantile(draws, 0.99)).toBeGreaterThan(1_400);
    expect(draws[draws.length - 1]).toBeLessThanOrEqual(MAX_INJECTED_DELAY_MS);
  });
});

describe('network conditions', () => {
  it('deals roles exactly by their shares, keeps the bootstrap nodes honest, and replays with the seed', () => {
    const roles = assignRoles(1_000, PRESETS.hostile, new SeededRandom(5), 4);
    const count = (role: string): number => roles.filter((r) => r === role).length;
    expect([count('whole-table'), count('read-only'), count('wrong-id'), count('bogus-referrals'), count('fake-peers')]).toEqual([50, 50, 50, 50, 50]);
    expect(roles.slice(0, 4)).toEqual(['honest', 'honest', 'honest', 'honest']);
    expect(assignRoles(1_000, PRESETS.hostile, new SeededRandom(5), 4)).toEqual(roles);
    expect(assignRoles(1_000, PRESETS.hostile, new SeededRandom(6), 4)).not.toEqual(roles);
    expect(assignRoles(100, PRESETS.ideal, new SeededRandom(5), 4).every((r) => r === 'honest')).toBe(true);
  });

  it('mixes in as many unreachable contacts as make the declared share', () => {
    expect(unreachableCount(1_000, 0.5)).toBe(1_000);
    expect(unreachableCount(900, 0.1)).toBe(100);
    expect(unreachableCount(900, undefined)).toBe(0);
  });

  it('reads a conditions file: extends a preset, overrides fields, refuses typos and out-of-range numbers', () => {
    const c = parseConditions({ extends: 'internet', loss: 0.1, latency: { medianMs: 50, p95Ms: 300 } }, 'lossy');
    expect(c).toMatchObject({ name: 'lossy', loss: 0.1, latency: { medianMs: 50, p95Ms: 300 }, unreachable: 0.5 });
    expect(resolveConditions('internet')).toBe(PRESETS.internet);
    expect(() => resolveConditions('internets')).toThrow(/unknown conditions "internets" \(presets: ideal, internet, hostile\)/);
    expect(() => parseConditions({ los: 0.1 }, 'x')).toThrow(/unknown field "los"/);
    expect(() => parseConditions({ loss: 2 }, 'x')).toThrow(/loss must be a number from 0 to 1, got 2/);
    expect(() => parseConditions({ latency: { medianMs: 100, p95Ms: 50 } }, 'x')).toThrow(ConditionsError);
    expect(() => parseConditions({ liars: { wrongId: 0.6 }, profiles: { readOnly: 0.6 } }, 'x')).toThrow(/add up to 1\.2/);
    expect(() => parseConditions([], 'x')).toThrow(/must be an object/);
  });
});
