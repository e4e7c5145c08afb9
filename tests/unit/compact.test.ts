import { SocketAddress, isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  CompactError,
  decodeAddress,
  decodeNodes,
  decodePeer,
  decodePeers,
  encodeAddress,
  encodeNodes,
  encodePeer,
  familyOf,
  ipFamily,
  normalizeAddress,
  type Family,
  type NodeInfo,
} from '../../src/wire/compact.js';
import { idFromHex } from '../../src/wire/id.js';
import { Prng } from '../helpers/prng.js';

const ID_A = idFromHex('0123456789abcdef0123456789abcdef01234567');
const ID_B = idFromHex('fedcba9876543210fedcba9876543210fedcba98');

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** 16 random address bytes, zero groups likely (so `::` compression gets exercised), never IPv4-mapped. */
function randomIPv6Bytes(prng: Prng): Uint8Array {
  for (;;) {
    const out = new Uint8Array(16);
    for (let w = 0; w < 8; w++) {
      if (prng.next() < 0.5) continue;
      out[2 * w] = prng.next() < 0.5 ? 0 : prng.int(256);
      out[2 * w + 1] = prng.int(256);
    }
    const mapped = out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff;
    if (!mapped) return out;
  }
}

/** The uncompressed, leading-zero-padded form, e.g. 2001:0db8:0000:...:0001. */
function fullIPv6(address: Uint8Array): string {
  const groups: string[] = [];
  for (let w = 0; w < 8; w++) groups.push(((address[2 * w]! << 8) | address[2 * w + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}

function randomNode(prng: Prng, family: Family): NodeInfo {
  const address = family === 4 ? prng.bytes(4).join('.') : decodeAddress(randomIPv6Bytes(prng));
  return { id: prng.bytes(20), address, port: prng.int(65536) };
}

describe('addresses', () => {
  it('encodes IPv4 as its 4 network-order bytes', () => {
    expect(encodeAddress('1.2.3.4')).toEqual(bytes(1, 2, 3, 4));
    expect(encodeAddress('255.0.10.0')).toEqual(bytes(255, 0, 10, 0));
    expect(familyOf('0.0.0.0')).toBe(4);
  });

  it('encodes IPv6 as 16 bytes, with or without ::', () => {
    const expected = bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    expect(encodeAddress('2001:db8::1')).toEqual(expected);
    expect(encodeAddress('2001:DB8:0:0:0:0:0:1')).toEqual(expected);
    expect(encodeAddress('::')).toEqual(new Uint8Array(16));
    expect(encodeAddress('::1')).toEqual(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
    expect(encodeAddress('1::')).toEqual(bytes(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    expect(encodeAddress('1:2:3:4:5:6:7::')).toEqual(bytes(0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0));
    expect(encodeAddress('64:ff9b::1.2.3.4')).toEqual(bytes(0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4));
    expect(familyOf('fe80::1')).toBe(6);
  });

  it('drops an IPv6 zone index, which compact form cannot carry', () => {
    expect(encodeAddress('fe80::1%eth0')).toEqual(encodeAddress('fe80::1'));
  });

  it('treats IPv4-mapped IPv6 as IPv4, both ways', () => {
    expect(familyOf('::ffff:1.2.3.4')).toBe(4);
    expect(encodeAddress('::ffff:1.2.3.4')).toEqual(bytes(1, 2, 3, 4));
    expect(encodeAddress('::FFFF:0102:0304')).toEqual(bytes(1, 2, 3, 4));
    expect(decodeAddress(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4))).toBe('1.2.3.4');
    expect(normalizeAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });

  it('decodes to the strings node:dgram reports', () => {
    expect(decodeAddress(bytes(192, 168, 0, 1))).toBe('192.168.0.1');
    expect(decodeAddress(encodeAddress('2001:0DB8:0000:0000:0000:0000:0000:0001'))).toBe('2001:db8::1');
    expect(decodeAddress(encodeAddress('0:0:0:0:0:0:0:1'))).toBe('::1');
    expect(decodeAddress(encodeAddress('1:0:0:1:0:0:0:1'))).toBe('1:0:0:1::1'); // longest run wins
    expect(decodeAddress(encodeAddress('1:0:0:1:0:0:1:1'))).toBe('1::1:0:0:1:1'); // first run on a tie
    expect(decodeAddress(encodeAddress('1:0:1:0:1:0:1:0'))).toBe('1:0:1:0:1:0:1:0'); // no :: for one group
    expect(normalizeAddress('2001:DB8::0001')).toBe('2001:db8::1');
  });

  it('formats IPv6 exactly like Node on random addresses (seed 1)', () => {
    const prng = new Prng(1);
    for (let i = 0; i < 2000; i++) {
      const raw = randomIPv6Bytes(prng);
      const text = decodeAddress(raw);
      const nodeForm = new SocketAddress({ address: fullIPv6(raw), family: 'ipv6' }).address;
      expect(text, fullIPv6(raw)).toBe(nodeForm);
      expect(encodeAddress(text)).toEqual(raw);
    }
  });

  it('accepts exactly the strings node:net isIP accepts (seed 2)', () => {
    const prng = new Prng(2);
    // Free-form soup of address-like pieces, mostly invalid.
    const pieces = ['0', '1', 'ff', 'FFFF', '12345', 'g', ':', ':', '::', '.', '1.2.3.4', '256', '01', '7', ''];
    const soup = (): string => {
      let text = '';
      for (let p = prng.int(12); p > 0; p--) text += prng.pick(pieces);
      return text;
    };
    // Group lists with an occasional `::` or IPv4 tail, mostly near-valid IPv6.
    const groups = ['0', '1', 'ab', 'FFFF', '0', '1', 'ab', 'c0de', 'fffff', 'x', '1.2.3.4', '1.2.3'];
    const structured = (): string => {
      const parts: string[] = [];
      for (let p = 6 + prng.int(4); p > 0; p--) {
        parts.push(prng.next() < 0.7 ? prng.pick(groups.slice(0, 8)) : prng.pick(groups));
      }
      if (prng.next() < 0.6) parts[prng.int(parts.length)] = ''; // make a `::`
      return parts.join(':');
    };
    const mismatches: string[] = [];
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = i % 2 === 0 ? soup() : structured();
      const nodeAccepts = isIP(text) !== 0;
      let weAccept = true;
      try {
        encodeAddress(text);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        weAccept = false;
      }
      if (weAccept !== nodeAccepts) mismatches.push(text);
      // ipFamily is isIP (0, 4 or 6) by this parser, without isIP's regular expressions.
      if (ipFamily(text) !== isIP(text)) mismatches.push(`ipFamily ${text}`);
      if (nodeAccepts) valid++;
    }
    expect(mismatches).toEqual([]);
    expect(valid).toBeGreaterThan(1000); // the generators really do reach valid addresses
  });

  it('ipFamily: 4, 6 or 0 (a host name), as isIP says, zones and mapped addresses included', () => {
    const cases = ['127.0.0.1', '0.0.0.0', '::', '::1', 'fe80::1%eth0', '::ffff:1.2.3.4', 'router.bittorrent.com', '', '1.2.3', '01.2.3.4', '[::1]', 'fe80::1%'];
    expect(cases.map(ipFamily)).toEqual(cases.map((c) => isIP(c)));
    expect(cases.map(ipFamily)).toEqual([4, 4, 6, 6, 6, 6, 0, 0, 0, 0, 0, 0]);
  });

  it.each([
    '', ' 1.2.3.4', '1.2.3.4 ', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1..2.3', '1.2.3.4.',
    'example.com', 'localhost', '1::2::3', ':1', '1:', ':::', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::', '::1.2.3', '1.2.3.4::', '::1.2.3.4:5', 'fe80::1%',
  ])('rejects %j with a TypeError', (text) => {
    expect(() => encodeAddress(text)).toThrow(TypeError);
    expect(() => familyOf(text)).toThrow(TypeError);
  });

  it.each([0, 3, 5, 15, 17])('refuses to decode a %i-byte address', (length) => {
    expect(() => decodeAddress(new Uint8Array(length))).toThrow(CompactError);
  });
});

describe('compact peer info', () => {
  it('is 4 address bytes then the big-endian port for IPv4 (BEP 5)', () => {
    const compact = encodePeer({ address: '1.2.3.4', port: 6881 });
    expect(compact).toEqual(bytes(1, 2, 3, 4, 0x1a, 0xe1));
    expect(decodePeer(compact)).toEqual({ address: '1.2.3.4', port: 6881 });
  });

  it('is 16 address bytes then the port for IPv6 (BEP 32)', () => {
    const compact = encodePeer({ address: '2001:db8::1', port: 51413 });
    expect(compact.length).toBe(18);
    expect(compact.subarray(0, 16)).toEqual(encodeAddress('2001:db8::1'));
    expect(compact.subarray(16)).toEqual(bytes(0xc8, 0xd5));
    expect(decodePeer(compact)).toEqual({ address: '2001:db8::1', port: 51413 });
  });

  it('accepts ports 0 and 65535', () => {
    expect(decodePeer(encodePeer({ address: '1.2.3.4', port: 0 })).port).toBe(0);
    expect(decodePeer(encodePeer({ address: '::1', port: 65535 })).port).toBe(65535);
  });

  it('encodes a mapped address as a 6-byte IPv4 peer', () => {
    expect(encodePeer({ address: '::ffff:1.2.3.4', port: 1 })).toEqual(bytes(1, 2, 3, 4, 0, 1));
  });

  it.each([-1, 65536, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects port %s', (port) => {
    expect(() => encodePeer({ address: '1.2.3.4', port })).toThrow(TypeError);
  });

  it('rejects a bad address', () => {
    expect(() => encodePeer({ address: 'example.com', port: 1 })).toThrow(TypeError);
  });

  it.each([0, 1, 5, 7, 16, 17, 19, 26])('refuses to decode %i bytes', (length) => {
    const error = catchError(() => decodePeer(new Uint8Array(length)));
    expect(error).toBeInstanceOf(CompactError);
    expect((error as CompactError).message).toMatch(/6 or 18 bytes/);
  });

  it('decodes a values list, including a BEP 32 hybrid one', () => {
    const values = [encodePeer({ address: '1.2.3.4', port: 1 }), encodePeer({ address: '::2', port: 2 })];
    expect(decodePeers(values)).toEqual([
      { address: '1.2.3.4', port: 1 },
      { address: '::2', port: 2 },
    ]);
    expect(decodePeers([])).toEqual([]);
  });

  it('reports which values entry is bad', () => {
    const values = [encodePeer({ address: '1.2.3.4', port: 1 }), new Uint8Array(5)];
    const error = catchError(() => decodePeers(values));
    expect(error).toBeInstanceOf(CompactError);
    expect((error as CompactError).offset).toBe(1);
    expect((error as CompactError).message).toMatch(/values\[1\]/);
  });

  it('round-trips random peers of both families (seed 3)', () => {
    const prng = new Prng(3);
    for (let i = 0; i < 1000; i++) {
      const { address, port } = randomNode(prng, i % 2 === 0 ? 4 : 6);
      expect(decodePeer(encodePeer({ address, port }))).toEqual({ address, port });
    }
  });
});

describe('compact node info', () => {
  it('is the 20-byte id, 4 address bytes and the port: 26 bytes per IPv4 node (BEP 5)', () => {
    const compact = encodeNodes([{ id: ID_A, address: '1.2.3.4', port: 6881 }], 4);
    expect(compact.length).toBe(26);
    expect(compact.subarray(0, 20)).toEqual(ID_A);
    expect(compact.subarray(20)).toEqual(bytes(1, 2, 3, 4, 0x1a, 0xe1));
  });

  it('is 38 bytes per IPv6 node (BEP 32)', () => {
    const compact = encodeNodes([{ id: ID_B, address: '2001:db8::1', port: 6881 }], 6);
    expect(compact.length).toBe(38);
    expect(compact.subarray(0, 20)).toEqual(ID_B);
    expect(compact.subarray(20, 36)).toEqual(encodeAddress('2001:db8::1'));
    expect(compact.subarray(36)).toEqual(bytes(0x1a, 0xe1));
  });

  it('concatenates entries with nothing in between', () => {
    const nodes: NodeInfo[] = [
      { id: ID_A, address: '1.2.3.4', port: 1 },
      { id: ID_B, address: '5.6.7.8', port: 2 },
    ];
    const compact = encodeNodes(nodes, 4);
    expect(compact.length).toBe(52);
    expect(compact.subarray(26, 46)).toEqual(ID_B);
    expect(decodeNodes(compact, 4)).toEqual(nodes);
  });

  it('encodes and decodes no nodes as no bytes', () => {
    expect(encodeNodes([], 4).length).toBe(0);
    expect(decodeNodes(new Uint8Array(0), 6)).toEqual([]);
  });

  it('round-trips random node lists of both families (seed 4)', () => {
    const prng = new Prng(4);
    for (let i = 0; i < 200; i++) {
      const family: Family = i % 2 === 0 ? 4 : 6;
      const nodes = Array.from({ length: prng.int(9) }, () => randomNode(prng, family));
      const decoded = decodeNodes(encodeNodes(nodes, family), family);
      expect(decoded.map((n) => ({ ...n, id: Uint8Array.from(n.id) }))).toEqual(
        nodes.map((n) => ({ ...n, id: Uint8Array.from(n.id) })),
      );
    }
  });

  it('copies ids out of the packet buffer', () => {
    const compact = encodeNodes([{ id: ID_A, address: '1.2.3.4', port: 1 }], 4);
    const [node] = decodeNodes(compact, 4);
    compact.fill(0);
    expect(node!.id).toEqual(ID_A);
  });

  it.each([
    [4, 25, 0],
    [4, 27, 26],
    [4, 26 * 8 + 5, 26 * 8],
    [6, 26, 0],
    [6, 39, 38],
    [6, 38 * 8 - 1, 38 * 7],
  ] as const)('family %i, %i bytes: CompactError at the partial entry (offset %i)', (family, length, offset) => {
    const error = catchError(() => decodeNodes(new Uint8Array(length), family));
    expect(error).toBeInstanceOf(CompactError);
    expect((error as CompactError).offset).toBe(offset);
  });

  it('reads 26 bytes per node when asked for IPv4, even if they would fit IPv6', () => {
    // 38 * 13 = 494 = 26 * 19: the caller's family decides how the bytes split, not the length.
    expect(decodeNodes(new Uint8Array(494), 4)).toHaveLength(19);
    expect(decodeNodes(new Uint8Array(494), 6)).toHaveLength(13);
  });

  it('refuses a node of the other family', () => {
    expect(() => encodeNodes([{ id: ID_A, address: '::1', port: 1 }], 4)).toThrow(TypeError);
    expect(() => encodeNodes([{ id: ID_A, address: '1.2.3.4', port: 1 }], 6)).toThrow(TypeError);
    expect(() => encodeNodes([{ id: ID_A, address: '::ffff:1.2.3.4', port: 1 }], 6)).toThrow(TypeError);
  });

  it('refuses a bad id, port, address or family', () => {
    expect(() => encodeNodes([{ id: new Uint8Array(19), address: '1.2.3.4', port: 1 }], 4)).toThrow(TypeError);
    expect(() => encodeNodes([{ id: ID_A, address: '1.2.3.4', port: 70000 }], 4)).toThrow(TypeError);
    expect(() => encodeNodes([{ id: ID_A, address: '1.2.3.256', port: 1 }], 4)).toThrow(TypeError);
    expect(() => encodeNodes([], 5 as Family)).toThrow(TypeError);
    expect(() => decodeNodes(new Uint8Array(0), 5 as Family)).toThrow(TypeError);
  });

  it('decodes an IPv4-mapped entry of a nodes6 string as IPv4', () => {
    const compact = new Uint8Array(38);
    compact.set(ID_A, 0);
    compact.set(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 9, 8, 7, 6, 0, 80), 20);
    expect(decodeNodes(compact, 6)).toEqual([{ id: ID_A, address: '9.8.7.6', port: 80 }]);
  });

  it('decodes from a view into a larger buffer', () => {
    const inner = encodeNodes([{ id: ID_B, address: '10.0.0.1', port: 6881 }], 4);
    const outer = new Uint8Array(40);
    outer.set(inner, 7);
    expect(decodeNodes(outer.subarray(7, 33), 4)).toEqual([{ id: ID_B, address: '10.0.0.1', port: 6881 }]);
  });
});
