import { describe, expect, it } from 'vitest';
import {
  PUBLIC_NETWORK, STATE_FORMAT, belongsTo, encodeStateFile, networkKey, parseStateFile, withNetwork,
} from '../../src/cli/state-file.js';
import type { NodeInfo } from '../../src/wire/compact.js';

const id = (byte: number): Uint8Array => new Uint8Array(20).fill(byte);
const node = (address: string, port = 6881): NodeInfo => ({ id: id(7), address, port });
const NOW = new Date('2026-01-01T00:00:00Z');

describe('networkKey', () => {
  it('is the public DHT without --bootstrap, else the bootstrap set, whatever its order or repeats', () => {
    expect(networkKey([])).toBe(PUBLIC_NETWORK);
    const ab = networkKey([{ host: '127.1.0.1', port: 1 }, { host: 'Example.org', port: 2 }]);
    expect(networkKey([{ host: 'example.org', port: 2 }, { host: '127.1.0.1', port: 1 }, { host: '127.1.0.1', port: 1 }])).toBe(ab);
    expect(networkKey([{ host: '127.1.0.1', port: 1 }])).not.toBe(ab);
    expect(networkKey([{ host: '::1', port: 3 }])).toBe('bootstrap [::1]:3');
  });
});

describe('belongsTo', () => {
  it.each(['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.9.9', '::1', 'fe80::1', 'fd00::5', 'not-an-ip'])(
    'keeps %s out of the public DHT', (address) => {
      expect(belongsTo(PUBLIC_NETWORK, address)).toBe(false);
      expect(belongsTo('bootstrap 127.1.0.1:1', address)).toBe(true);
    });
  it('lets internet addresses into the public DHT', () => {
    expect(belongsTo(PUBLIC_NETWORK, '203.0.113.9')).toBe(true);
    expect(belongsTo(PUBLIC_NETWORK, '2001:db8::1')).toBe(true);
  });
});

describe('the file', () => {
  it('round-trips each network, filters the public one, and keeps at most 16 others, newest first', () => {
    let contents = withNetwork(undefined, PUBLIC_NETWORK, { id: id(1), nodes: [node('203.0.113.9'), node('127.0.0.1')] }, NOW);
    for (let i = 0; i < 20; i++) {
      contents = withNetwork(contents, `bootstrap 127.1.0.1:${i}`, { id: id(1), nodes: [node('127.1.0.1', i)] }, new Date(NOW.getTime() + i * 1000));
    }
    const parsed = parseStateFile(encodeStateFile(contents, NOW))!;
    expect(parsed.networks.get(PUBLIC_NETWORK)!.nodes.map((n) => n.address)).toEqual(['203.0.113.9']);
    expect(parsed.networks.size).toBe(17);
    expect(parsed.networks.has('bootstrap 127.1.0.1:3')).toBe(false);
    expect(parsed.networks.get('bootstrap 127.1.0.1:19')!.nodes).toEqual([node('127.1.0.1', 19)]);
  });

  it('reads the older one-list file as the public DHT, without its loopback nodes', () => {
    const old = JSON.stringify({ id: '11'.repeat(20), nodes: [{ id: '22'.repeat(20), address: '127.1.0.1', port: 5 }, { id: '33'.repeat(20), address: '198.51.100.1', port: 6 }], saved: 'x' });
    const parsed = parseStateFile(old)!;
    expect([...parsed.networks.keys()]).toEqual([PUBLIC_NETWORK]);
    expect(parsed.networks.get(PUBLIC_NETWORK)!.nodes.map((n) => n.address)).toEqual(['198.51.100.1']);
  });

  it.each([
    ['a crawl log line', '{"infohash":"0123456789abcdef0123456789abcdef01234567","first_seen":"2024-01-01T00:00:00.000Z","source":"sample","from":"1.2.3.4:1"}'],
    ['another format', JSON.stringify({ format: 'something-else', id: '11'.repeat(20), networks: {} })],
    ['an old-looking file with extra fields', JSON.stringify({ id: '11'.repeat(20), nodes: [], saved: 'x', mine: true })],
    ['an array', '[]'],
    ['not JSON', 'hello\n'],
    ['empty', ''],
  ])('does not take %s for a state file', (_name, text) => {
    expect(parseStateFile(text)).toBeUndefined();
  });

  it("keeps up to 200 nodes of each family, IPv4 first, and the IPv6 node's ID (BEP 32 dual stack)", () => {
    const v4 = Array.from({ length: 250 }, (_, i) => node('127.1.0.1', i + 1));
    const v6 = Array.from({ length: 250 }, (_, i) => node('::1', i + 1));
    // Interleaved as two tables might be handed in: the file still lists the IPv4 ones first.
    const mixed = v4.flatMap((n, i) => [v6[i]!, n]);
    const network = 'bootstrap 127.1.0.1:1,[::1]:1';
    const text = encodeStateFile(withNetwork(undefined, network, { id: id(1), id6: id(2), nodes: mixed }, NOW), NOW);
    const doc = JSON.parse(text) as { format: string; id6: string; networks: Record<string, { nodes: { address: string }[] }> };
    expect(doc.format).toBe(STATE_FORMAT);
    expect(doc.id6).toBe('02'.repeat(20));
    expect(doc.networks[network]!.nodes.map((n) => n.address)).toEqual([...Array(200).fill('127.1.0.1'), ...Array(200).fill('::1')]);
    const parsed = parseStateFile(text)!;
    expect(parsed.id6).toEqual(id(2));
    expect(parsed.networks.get(network)!.nodes).toEqual([...v4.slice(0, 200), ...v6.slice(0, 200)]);
    // A later run that had no IPv6 node keeps the ID the file had.
    expect(withNetwork(parsed, network, { id: id(1), nodes: [] }, NOW).id6).toEqual(id(2));
  });

  it('writes its format field', () => {
    const text = encodeStateFile(withNetwork(undefined, PUBLIC_NETWORK, { id: id(1), nodes: [] }, NOW), NOW);
    expect((JSON.parse(text) as { format: string }).format).toBe(STATE_FORMAT);
  });
});
