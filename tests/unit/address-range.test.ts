import { describe, expect, it } from 'vitest';
import { AddressRangeError, addressAt, layoutIn, parseAddressRange, rangeContains, rangeSize, sharedLayout } from '../../src/modes/address-range.js';
import { testnetAddress } from '../../src/modes/testnet.js';

describe('address ranges (CIDR)', () => {
  it('parses IPv4 and IPv6 ranges and clears the host bits', () => {
    expect(parseAddressRange('127.0.0.1/8').text).toBe('127.0.0.0/8');
    expect(parseAddressRange('10.77.3.4/16').text).toBe('10.77.0.0/16');
    expect(parseAddressRange('FD00::1/64').text).toBe('fd00::/64');
    expect(parseAddressRange('::1').text).toBe('::1/128');
    expect(rangeSize(parseAddressRange('10.0.0.0/24'))).toBe(256n);
    expect(addressAt(parseAddressRange('fd00::/64'), 258n)).toBe('fd00::102');
  });

  it('refuses what is not a range', () => {
    for (const bad of ['1.2.3', '10.0.0.0/33', '::1/129', '10.0.0.0/', '10.0.0.0/-1', 'localhost/8', '']) {
      expect(() => parseAddressRange(bad), bad).toThrow(AddressRangeError);
    }
  });

  it('knows what it contains', () => {
    const range = parseAddressRange('10.77.0.0/16');
    expect(rangeContains(range, '10.77.255.1')).toBe(true);
    expect(rangeContains(range, '10.78.0.1')).toBe(false);
    expect(rangeContains(range, '::1')).toBe(false);
  });

  it('lays the default range out as before: node i in 127.(1 + i/256).(i%256).1, peers in 127.128.0.0/9', () => {
    const layout = layoutIn(parseAddressRange('127.0.0.0/8'), 19_000);
    for (const i of [0, 1, 255, 256, 18_999]) expect(layout.node(i)).toBe(testnetAddress(i));
    expect(layout.peer(0)).toBe('127.128.0.0');
    expect(layout.peer(1)).toBe('127.128.1.0');
    expect(layout.peer(65_537)).toBe('127.129.1.0');
    expect(layout.shared).toBe('127.0.0.1');
    expect(layout.sharesSubnets).toBe(false);
  });

  it('gives each node its own /24 where the range allows, else consecutive addresses, else one shared address', () => {
    const wide = layoutIn(parseAddressRange('10.77.0.0/16'), 100);
    expect([wide.node(0), wide.node(99), wide.shared, wide.sharesSubnets]).toEqual(['10.77.1.1', '10.77.100.1', '10.77.0.1', false]);
    const narrow = layoutIn(parseAddressRange('10.77.1.0/24'), 100);
    expect([narrow.node(0), narrow.node(99), narrow.peer(0), narrow.sharesSubnets]).toEqual(['10.77.1.2', '10.77.1.101', '10.77.1.128', true]);
    const tooNarrow = layoutIn(parseAddressRange('10.77.1.0/28'), 100);
    expect([tooNarrow.node(0), tooNarrow.node(99)]).toEqual(['10.77.1.1', '10.77.1.1']);
    const single = sharedLayout(parseAddressRange('::1/128'));
    expect([single.node(5), single.peer(5), single.shared]).toEqual(['::1', '::1', '::1']);
  });
});
