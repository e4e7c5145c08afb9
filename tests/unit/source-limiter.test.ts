import { describe, expect, it } from 'vitest';
import { SOURCE_LIMIT_DEFAULTS, SourceLimiter, sourceKey, type SourceLimiterOptions } from '../../src/net/source-limiter.js';

/** A limiter on a clock the test moves by hand. */
function limiter(options: SourceLimiterOptions = {}): { limiter: SourceLimiter; clock: { now: number }; banned: string[] } {
  const clock = { now: 1_000_000 };
  const banned: string[] = [];
  const l = new SourceLimiter({ ...options, now: () => clock.now, onBan: (a) => banned.push(a) });
  return { limiter: l, clock, banned };
}

/** How many of `n` packets sent at once from `address` are admitted. */
function burst(l: SourceLimiter, address: string, n: number): number {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (l.admit(address)) admitted++;
  return admitted;
}

describe('SourceLimiter: budget per source', () => {
  it('admits a burst of `burst` packets, then refuses and bans the source', () => {
    const { limiter: l, banned } = limiter({ rate: 5, burst: 50 });
    expect(burst(l, '10.0.0.1', 80)).toBe(50);
    expect(banned).toEqual(['10.0.0.1']);
    expect(l.isBanned('10.0.0.1')).toBe(true);
    expect(l.counters).toMatchObject({ admitted: 50, refused: 30, bans: 1 });
  });

  it('admits `rate` packets a second for ever from a source that keeps to it', () => {
    const { limiter: l, clock } = limiter({ rate: 5, burst: 50 });
    let refused = 0;
    // Ten minutes at exactly 5 a second: one packet every 200 ms.
    for (let i = 0; i < 3_000; i++) {
      if (!l.admit('10.0.0.2')) refused++;
      clock.now += 200;
    }
    expect(refused).toBe(0);
  });

  it('bans a source that sends a little faster than `rate`, once its saved-up burst is spent', () => {
    const { limiter: l, clock } = limiter({ rate: 5, burst: 50 });
    // 10 a second: the bucket loses 5 a second net, so it is dry after about 10 seconds.
    let sent = 0;
    while (l.admit('10.0.0.3') && sent < 1_000) { sent++; clock.now += 100; }
    expect(sent).toBeGreaterThanOrEqual(95);
    expect(sent).toBeLessThanOrEqual(105);
    expect(l.isBanned('10.0.0.3')).toBe(true);
  });

  it('keeps sources apart: one flooding source does not cost another anything', () => {
    const { limiter: l } = limiter({ rate: 5, burst: 10 });
    burst(l, '10.0.0.4', 100);
    expect(l.isBanned('10.0.0.4')).toBe(true);
    expect(burst(l, '10.0.0.5', 10)).toBe(10);
  });
});

describe('SourceLimiter: bans', () => {
  it('a ban lasts banMs after the flood: a source that keeps flooding stays banned', () => {
    const { limiter: l, clock } = limiter({ rate: 5, burst: 5, banMs: 60_000 });
    burst(l, '10.0.1.1', 6);
    // Overrunning its budget every 30 s restarts the ban each time.
    for (let i = 0; i < 10; i++) {
      clock.now += 30_000;
      expect(burst(l, '10.0.1.1', 6)).toBe(0);
    }
    clock.now += 59_000;
    expect(l.isBanned('10.0.1.1')).toBe(true);
    // Quiet for a full ban: admitted again, with a fresh burst.
    clock.now += 1_000;
    expect(l.isBanned('10.0.1.1')).toBe(false);
    expect(burst(l, '10.0.1.1', 5)).toBe(5);
  });

  it('packets within the budget do not prolong a ban (issue 14.6: an honest host behind a forged flood)', () => {
    const { limiter: l, clock } = limiter({ rate: 5, burst: 50, banMs: 300_000 });
    burst(l, '10.0.1.3', 60); // 60 forged packets "from" an honest node's address
    const floodEnded = clock.now;
    // The honest node's own ping every 8 s: refused while the ban lasts, and it never restarts it.
    let firstAdmitted = -1;
    for (let t = 8_000; t <= 400_000 && firstAdmitted < 0; t += 8_000) {
      clock.now = floodEnded + t;
      if (l.admit('10.0.1.3')) firstAdmitted = t;
    }
    expect(firstAdmitted).toBeGreaterThanOrEqual(300_000);
    expect(firstAdmitted).toBeLessThanOrEqual(308_000);
  });

  it('reports each ban once', () => {
    const { limiter: l, banned } = limiter({ rate: 1, burst: 2 });
    burst(l, '10.0.1.2', 100);
    expect(banned).toEqual(['10.0.1.2']);
    expect(l.counters.bans).toBe(1);
  });
});

describe('SourceLimiter: memory stays bounded', () => {
  it('tracks at most maxSources sources, forgetting the one heard from longest ago', () => {
    const { limiter: l } = limiter({ maxSources: 100 });
    for (let i = 0; i < 10_000; i++) l.admit(`10.1.${i >> 8}.${i & 255}`);
    expect(l.trackedCount).toBe(100);
    expect(l.counters.forgotten).toBe(9_900);
  });

  it('forgets the source heard from longest ago, not one still sending', () => {
    // A source's bucket tells whether it was kept: a kept one is still nearly empty, a forgotten one
    // comes back with a fresh burst of 3.
    const run = (keepSending: boolean): number => {
      const { limiter: l, clock } = limiter({ rate: 1, burst: 3, maxSources: 10 });
      l.admit('10.2.0.1');
      l.admit('10.2.0.1');
      for (let i = 0; i < 50; i++) {
        l.admit(`10.3.0.${i}`);
        // One packet a second: it spends exactly what its bucket earns, and is heard from often.
        if (keepSending && i % 5 === 0) { clock.now += 1_000; l.admit('10.2.0.1'); }
      }
      return burst(l, '10.2.0.1', 3);
    };
    expect(run(true)).toBe(1);
    // Forgotten, it comes back no fuller than the source it then pushes out: not a fresh burst.
    expect(run(false)).toBeGreaterThanOrEqual(1);
    expect(run(false)).toBeLessThan(3);
  });

  it('a flood cycling through more addresses than are tracked gets no fresh burst (issue 14.7)', () => {
    const { limiter: l } = limiter({ rate: 1, burst: 50, maxSources: 100 });
    let admitted = 0;
    // 400 addresses, 16 packets each per cycle, 4 cycles within a second: what its budget allows
    // is 50 each at most (the burst), not 50 per cycle.
    for (let cycle = 0; cycle < 4; cycle++) {
      for (let i = 0; i < 400; i++) admitted += burst(l, `10.9.${i >> 8}.${i & 255}`, 16);
    }
    expect(admitted).toBeLessThanOrEqual(400 * 50);
    expect(l.counters.forgotten).toBeGreaterThan(0);
  });

  it('holds at most maxBans bans, lifting the one closest to its end', () => {
    const { limiter: l, clock } = limiter({ rate: 1, burst: 1, maxBans: 20 });
    for (let i = 0; i < 1_000; i++) {
      burst(l, `10.4.${i >> 8}.${i & 255}`, 2);
      clock.now += 1;
    }
    expect(l.banCount).toBe(20);
    expect(l.counters.bans).toBe(1_000);
    expect(l.counters.liftedEarly).toBe(980);
    // The twenty most recent bans are the ones kept.
    expect(l.isBanned('10.4.3.231')).toBe(true);
    expect(l.isBanned('10.4.0.0')).toBe(false);
  });

  it('a flood from 20,000 addresses leaves both tables at their caps', () => {
    const { limiter: l } = limiter();
    for (let i = 0; i < 20_000; i++) burst(l, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i % 2 === 0 ? 1 : 60);
    expect(l.trackedCount).toBeLessThanOrEqual(SOURCE_LIMIT_DEFAULTS.maxSources);
    expect(l.banCount).toBeLessThanOrEqual(SOURCE_LIMIT_DEFAULTS.maxBans);
    expect(l.counters.bans).toBe(10_000);
  });
});

describe('sourceKey', () => {
  it('an IPv4 address is its own source, whichever way it is spelt', () => {
    expect(sourceKey('::ffff:10.0.0.1')).toBe(sourceKey('10.0.0.1'));
    expect(sourceKey('10.0.0.1')).not.toBe(sourceKey('10.0.0.2'));
  });

  it('IPv6 addresses in one /64 are one source', () => {
    expect(sourceKey('2001:db8:1:2::1')).toBe(sourceKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(sourceKey('2001:db8:1:2::1')).not.toBe(sourceKey('2001:db8:1:3::1'));
  });

  it('a flood spread over one IPv6 /64 is banned as one source', () => {
    const { limiter: l } = limiter({ rate: 5, burst: 50 });
    let admitted = 0;
    for (let i = 0; i < 1_000; i++) if (l.admit(`2001:db8::${i.toString(16)}`)) admitted++;
    expect(admitted).toBe(50);
  });
});

describe('SourceLimiter options', () => {
  it('rejects a budget that would admit nothing', () => {
    expect(() => new SourceLimiter({ rate: 0 })).toThrow(RangeError);
    expect(() => new SourceLimiter({ burst: 0 })).toThrow(RangeError);
    expect(() => new SourceLimiter({ maxSources: 0 })).toThrow(RangeError);
  });
});
