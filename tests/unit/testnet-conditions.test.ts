import { describe, expect, it } from 'vitest';
import { ConditionsError, PRESETS, assignRoles, nodeLatency, parseConditions, resolveConditions, unreachableCount } from '../../src/modes/testnet-conditions.js';
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

describe('per-node delays (jitter)', () => {
  it('keep the declared median and p95 over all nodes, while each node varies only by the jitter around its own', () => {
    const random = new SeededRandom(2);
    const draw = (): number => random.next();
    const declared = { medianMs: 120, p95Ms: 800 };
    const nodes = Array.from({ length: 4_000 }, () => nodeLatency(declared, 1.5, draw));
    const pooled = nodes.flatMap((own) => Array.from({ length: 5 }, () => sampleLogNormal(own, draw))).sort((a, b) => a - b);
    expect(quantile(pooled, 0.5)).toBeGreaterThan(120 * 0.92);
    expect(quantile(pooled, 0.5)).toBeLessThan(120 * 1.08);
    expect(quantile(pooled, 0.95)).toBeGreaterThan(800 * 0.88);
    expect(quantile(pooled, 0.95)).toBeLessThan(800 * 1.12);
    // Typical delays spread wide (a near node and a far one), each node's own draws do not.
    const typical = nodes.map((n) => n.medianMs).sort((a, b) => a - b);
    expect(quantile(typical, 0.95) / quantile(typical, 0.05)).toBeGreaterThan(20);
    for (const own of nodes.slice(0, 50)) expect(own.p95Ms / own.medianMs).toBeCloseTo(1.5, 10);
    const one = nodes[0]!;
    const ownDraws = Array.from({ length: 2_000 }, () => sampleLogNormal(one, draw)).sort((a, b) => a - b);
    expect(quantile(ownDraws, 0.95) / quantile(ownDraws, 0.5)).toBeGreaterThan(1.35);
    expect(quantile(ownDraws, 0.95) / quantile(ownDraws, 0.5)).toBeLessThan(1.65);
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

  it('hands out routers on internet (and what extends it) unless a file says "routers": false', () => {
    expect(PRESETS.ideal.routers).toBeUndefined();
    expect(PRESETS.internet.routers).toBe(true);
    expect(PRESETS.hostile.routers).toBe(true);
    expect(parseConditions({ extends: 'internet' }, 'x').routers).toBe(true);
    expect(parseConditions({ extends: 'internet', routers: false }, 'x').routers).toBe(false);
    expect(() => parseConditions({ routers: 'yes' }, 'x')).toThrow(/routers must be true or false, got "yes"/);
    expect(parseConditions({ extends: 'internet', jitter: 1 }, 'x').jitter).toBe(1);
    expect(() => parseConditions({ jitter: 0.5 }, 'x')).toThrow(/jitter must be a number from 1 to 100, got 0.5/);
  });
});
