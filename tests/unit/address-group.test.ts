/**
 * Who counts as the same host and the same network (BEP 42's rationale: one slot per host, a few
 * per network): the keys, and the quick comparison the routing table makes for every contact.
 */
import { describe, expect, it } from 'vitest';
import { groupOf, hostKey, networkKey, relationTo } from '../../src/wire/address-group.js';

describe('groupOf and relationTo: the same answers as comparing hostKey and networkKey', () => {
  const addresses = [
    '10.1.2.3', '10.1.2.4', '10.1.3.3', '10.1.2.30', '10.1.20.3', '110.1.2.3', '0.0.0.0', '255.255.255.255',
    '::ffff:10.1.2.3', '::FFFF:10.1.2.99', '2001:db8::1', '2001:db8::2', '2001:db8:0:1::1', '2001:db8:1::1', '2001:DB8::1', '::1',
  ];
  for (const a of addresses) {
    it(`against ${a}`, () => {
      const group = groupOf(a);
      for (const b of addresses) {
        expect(relationTo(b, group), `${b} vs ${a}`).toEqual({ sameHost: hostKey(b) === hostKey(a), sameNetwork: networkKey(b) === networkKey(a) });
      }
    });
  }

  it('an IPv4-mapped IPv6 address is its IPv4 host, in both directions', () => {
    expect(relationTo('::ffff:192.0.2.7', groupOf('192.0.2.7'))).toEqual({ sameHost: true, sameNetwork: true });
    expect(relationTo('192.0.2.7', groupOf('::ffff:192.0.2.7'))).toEqual({ sameHost: true, sameNetwork: true });
    expect(relationTo('192.0.2.8', groupOf('::ffff:192.0.2.7'))).toEqual({ sameHost: false, sameNetwork: true });
  });

  it('a network prefix is matched on whole parts: 10.1.2.x is not 10.1.20.x', () => {
    expect(relationTo('10.1.20.1', groupOf('10.1.2.1')).sameNetwork).toBe(false);
    expect(relationTo('10.1.2.1', groupOf('10.1.20.1')).sameNetwork).toBe(false);
  });
});
