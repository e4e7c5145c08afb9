import { describe, expect, it } from 'vitest';
import { OutboundGuard } from '../../src/net/outbound-guard.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

describe('OutboundGuard: querying addresses that never answered us', () => {
  it('one unknown port of a host in flight at a time; the rest wait', () => {
    const c = clock();
    const guard = new OutboundGuard({ now: c.now });
    expect(guard.verdict('203.0.113.5', 1000)).toBe('send');
    const stranger = guard.sent('203.0.113.5', 1000);
    expect(stranger).toBe(true);
    expect(guard.verdict('203.0.113.5', 1001)).toBe('hold'); // another port of the same host
    expect(guard.verdict('203.0.113.5', 1000)).toBe('hold'); // the same port again
    expect(guard.verdict('203.0.113.6', 1000)).toBe('send'); // another host
  });

  it("a background probe (a scrape's join) never holds a lookup's query: one of each at a host, never two of one", () => {
    const c = clock();
    const guard = new OutboundGuard({ now: c.now });
    const probe = guard.sent('203.0.113.9', 6881, 'background');
    expect(guard.verdict('203.0.113.9', 6881, 'background')).toBe('hold');
    expect(guard.verdict('203.0.113.9', 6881)).toBe('send'); // the lookup's get_peers goes beside it
    const lookup = guard.sent('203.0.113.9', 6881);
    expect(guard.verdict('203.0.113.9', 6881)).toBe('hold');
    expect(guard.verdict('203.0.113.9', 6882, 'background')).toBe('hold');
    // The probe's silence still counts against the host, and a silent host gets one query per 10 s, whatever the lane.
    guard.settled('203.0.113.9', 6881, probe, false, true, 'background');
    expect(guard.verdict('203.0.113.9', 6881, 'background')).toBe('refuse');
    guard.settled('203.0.113.9', 6881, lookup, false, true);
    expect(guard.verdict('203.0.113.9', 6883)).toBe('refuse');
  });

  it('each port that answers opens one more slot, and known ports are never limited', () => {
    const c = clock();
    const guard = new OutboundGuard({ now: c.now });
    guard.settled('192.0.2.1', 1, guard.sent('192.0.2.1', 1), true, false);
    expect(guard.verdict('192.0.2.1', 1)).toBe('send');
    guard.sent('192.0.2.1', 2);
    expect(guard.verdict('192.0.2.1', 3)).toBe('send'); // 1 + 1 known port: two unknown ports at once
    guard.sent('192.0.2.1', 3);
    expect(guard.verdict('192.0.2.1', 4)).toBe('hold');
    expect(guard.verdict('192.0.2.1', 1)).toBe('send'); // the port that answered
  });

  it('a host whose unknown ports time out is silent: one query per 10 s, the rest refused, all ports together', () => {
    const c = clock();
    const guard = new OutboundGuard({ now: c.now, trickleMs: 10_000 });
    guard.settled('198.51.100.7', 5000, guard.sent('198.51.100.7', 5000), false, true);
    let sent = 1;
    for (let ms = 0; ms < 60_000; ms += 100) {
      c.advance(100);
      const port = 5000 + (ms % 300);
      if (guard.verdict('198.51.100.7', port) === 'send') {
        sent++;
        guard.settled('198.51.100.7', port, guard.sent('198.51.100.7', port), false, true);
      } else {
        expect(guard.verdict('198.51.100.7', port)).toBe('refuse');
      }
    }
    expect(sent).toBe(7); // the first probe, then one every 10 s for 60 s
  });

  it('a silent host that answers again is let back in', () => {
    const c = clock();
    const guard = new OutboundGuard({ now: c.now });
    guard.settled('198.51.100.8', 1, guard.sent('198.51.100.8', 1), false, true);
    expect(guard.verdict('198.51.100.8', 2)).toBe('refuse');
    c.advance(10_000);
    guard.settled('198.51.100.8', 2, guard.sent('198.51.100.8', 2), true, false);
    expect(guard.verdict('198.51.100.8', 3)).toBe('send'); // 1 timeout, 1 known port: no longer silent
  });

  it('counts an IPv6 /64 as one host', () => {
    const guard = new OutboundGuard();
    guard.sent('2001:db8::1', 1);
    expect(guard.verdict('2001:db8::ffff', 1)).toBe('hold');
    expect(guard.verdict('2001:db8:0:1::1', 1)).toBe('send');
  });

  it('forgets a host after memoryMs without queries, and keeps at most maxHosts', () => {
    const c = clock();
    const guard = new OutboundGuard({ now: c.now, memoryMs: 60_000, maxHosts: 3 });
    guard.settled('198.51.100.9', 1, guard.sent('198.51.100.9', 1), false, true);
    expect(guard.verdict('198.51.100.9', 2)).toBe('refuse');
    c.advance(60_001);
    expect(guard.verdict('198.51.100.9', 2)).toBe('send');
    for (let i = 1; i <= 10; i++) guard.sent(`192.0.2.${i}`, 1);
    expect(guard.size).toBeLessThanOrEqual(3);
  });
});
