/** BEP 15's packet layouts, byte by byte, and what a malformed reply is told. */
import { describe, expect, it } from 'vitest';
import { decodeReply, encodeAnnounce, encodeConnect, encodeScrape, PROTOCOL_ID, UdpTrackerError } from '../../src/tracker/udp-tracker-wire.js';

const hash = new Uint8Array(20).fill(0xab);
const peerId = new Uint8Array(20).fill(0x2d);

function u32(...values: number[]): Uint8Array {
  const out = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => out.setUint32(i * 4, v));
  return new Uint8Array(out.buffer);
}
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

describe('BEP 15 requests', () => {
  it('connect: the magic 0x41727101980, action 0, the transaction ID', () => {
    const bytes = encodeConnect(0x01020304);
    expect(Buffer.from(bytes).toString('hex')).toBe('0000041727101980' + '00000000' + '01020304');
    expect(new DataView(bytes.buffer).getBigUint64(0)).toBe(PROTOCOL_ID);
  });

  it('announce: 98 bytes, fields at the offsets the BEP gives', () => {
    const bytes = encodeAnnounce({ connectionId: 0x1122334455667788n, transactionId: 7, infoHash: hash, peerId, downloaded: 1n, left: 2n, uploaded: 3n, event: 'started', key: 9, numWant: -1, port: 6881 });
    const view = new DataView(bytes.buffer);
    expect(bytes.length).toBe(98);
    expect(view.getBigUint64(0)).toBe(0x1122334455667788n);
    expect(view.getUint32(8)).toBe(1);
    expect(view.getUint32(12)).toBe(7);
    expect(bytes.subarray(16, 36)).toEqual(hash);
    expect(bytes.subarray(36, 56)).toEqual(peerId);
    expect([view.getBigUint64(56), view.getBigUint64(64), view.getBigUint64(72)]).toEqual([1n, 2n, 3n]);
    expect(view.getUint32(80)).toBe(2); // started
    expect(view.getUint32(84)).toBe(0); // IP: the packet's source
    expect(view.getUint32(88)).toBe(9);
    expect(view.getInt32(92)).toBe(-1);
    expect(view.getUint16(96)).toBe(6881);
  });

  it('scrape: 16 bytes of header, 20 per info-hash, at most 74 of them', () => {
    expect(encodeScrape(1n, 2, [hash, hash]).length).toBe(56);
    expect(() => encodeScrape(1n, 2, [])).toThrow(RangeError);
    expect(() => encodeScrape(1n, 2, Array.from({ length: 75 }, () => hash))).toThrow(/1 to 74/);
    expect(() => encodeScrape(1n, 2, [hash.subarray(1)])).toThrow(/info_hash is 20 bytes/);
  });
});

describe('BEP 15 replies', () => {
  it('connect reply: the connection ID', () => {
    const reply = decodeReply(cat(u32(0, 5), u32(0xdead, 0xbeef)), 4);
    expect(reply).toEqual({ action: 'connect', transactionId: 5, connectionId: 0xdead0000beefn });
  });

  it('announce reply: interval, leechers, seeders, then 6-byte peers over IPv4 and 18-byte over IPv6', () => {
    const v4 = decodeReply(cat(u32(1, 5, 1800, 3, 4), new Uint8Array([10, 0, 0, 1, 0x1a, 0xe1])), 4);
    expect(v4).toEqual({ action: 'announce', transactionId: 5, reply: { interval: 1800, leechers: 3, seeders: 4, peers: [{ address: '10.0.0.1', port: 6881 }] } });
    const v6peer = new Uint8Array(18);
    v6peer[15] = 1; v6peer[17] = 80;
    const v6 = decodeReply(cat(u32(1, 5, 1800, 0, 1), v6peer), 6);
    expect(v6.action === 'announce' && v6.reply.peers).toEqual([{ address: '::1', port: 80 }]);
  });

  it('scrape reply: seeders, completed, leechers per info-hash', () => {
    expect(decodeReply(cat(u32(2, 5), u32(10, 20, 30)), 4)).toEqual({ action: 'scrape', transactionId: 5, counts: [{ seeders: 10, completed: 20, leechers: 30 }] });
  });

  it('error reply: the message as text', () => {
    expect(decodeReply(cat(u32(3, 5), new TextEncoder().encode('no such torrent')), 4)).toEqual({ action: 'error', transactionId: 5, message: 'no such torrent' });
  });

  it.each([
    ['shorter than 8 bytes', new Uint8Array(7), 7],
    ['a connect reply cut short', cat(u32(0, 5), u32(1)), 12],
    ['an announce reply without its counts', cat(u32(1, 5, 1800)), 12],
    ['a ragged peer list', cat(u32(1, 5, 1800, 0, 0), new Uint8Array(7)), 26],
    ['a ragged scrape reply', cat(u32(2, 5), u32(1, 2)), 8],
    ['an unknown action', u32(9, 5), 0],
  ])('%s is a UdpTrackerError with the offset', (_, bytes, offset) => {
    const caught = (() => { try { decodeReply(bytes, 4); } catch (e) { return e; } return undefined; })();
    expect(caught).toBeInstanceOf(UdpTrackerError);
    expect((caught as UdpTrackerError).offset).toBe(offset);
  });
});
