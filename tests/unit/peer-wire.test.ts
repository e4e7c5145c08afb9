import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import { PeerConnection, mapBounded } from '../../src/peer/peer-connection.js';
import { HANDSHAKE_LENGTH, OUR_PEER_ID_PREFIX, WireError, WireParser, decodeHandshake, decodePeerMessage, encodeHandshake, encodePeerMessage, encodeReserved, makePeerId, reservedFlags, type Handshake, type PeerMessage, type WireEvent } from '../../src/peer/peer-wire.js';
import { Prng } from '../helpers/prng.js';

const rng = new Prng(0x9e3779b9);

function sampleHandshake(): Handshake {
  return { reserved: encodeReserved({ extensions: true, dht: true }), infoHash: rng.bytes(20), peerId: makePeerId() };
}

/** One of every message type, with random contents. */
function sampleMessages(): PeerMessage[] {
  return [
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have', piece: rng.int(1 << 30) },
    { type: 'bitfield', bits: rng.bytes(1 + rng.int(600)) },
    { type: 'request', piece: rng.int(5000), offset: 16384 * rng.int(16), length: 16384 },
    { type: 'piece', piece: rng.int(5000), offset: 0, block: rng.bytes(1000) },
    { type: 'cancel', piece: 3, offset: 16384, length: 16384 },
    { type: 'port', port: 1 + rng.int(65535) },
    { type: 'have-all' },
    { type: 'have-none' },
    { type: 'extended', id: rng.int(256), payload: rng.bytes(50) },
    { type: 'unknown', id: 42, payload: rng.bytes(7) },
  ];
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

describe('handshake (BEP 3)', () => {
  test('is 68 bytes starting with \\x13BitTorrent protocol and round-trips', () => {
    const hs = sampleHandshake();
    const bytes = encodeHandshake(hs);
    expect(bytes.length).toBe(HANDSHAKE_LENGTH);
    expect(bytes[0]).toBe(19);
    expect(new TextDecoder().decode(bytes.subarray(1, 20))).toBe('BitTorrent protocol');
    expect(decodeHandshake(bytes)).toEqual(hs);
  });

  test('reserved flags: BEP 10 is byte 5 bit 0x10, DHT byte 7 bit 0x01, fast byte 7 bit 0x04, BEP 52 v2 byte 7 bit 0x10', () => {
    const reserved = encodeReserved({ extensions: true, fast: true });
    expect([...reserved]).toEqual([0, 0, 0, 0, 0, 0x10, 0, 0x04]);
    expect(reservedFlags(reserved)).toEqual({ extensions: true, dht: false, fast: true, v2: false });
    expect(reservedFlags(new Uint8Array(8))).toEqual({ extensions: false, dht: false, fast: false, v2: false });
    // BEP 52: "the 4th most significant bit in the last byte of the reserved bitfield".
    expect([...encodeReserved({ v2: true })]).toEqual([0, 0, 0, 0, 0, 0, 0, 0x10]);
    expect(reservedFlags(encodeReserved({ v2: true })).v2).toBe(true);
  });

  test('BEP 52 hash request, hashes and hash reject: a pieces root and four integers, then 32-byte hashes', () => {
    const request = { piecesRoot: new Uint8Array(32).fill(9), baseLayer: 2, index: 512, length: 512, proofLayers: 10 };
    const bytes = encodePeerMessage({ type: 'hash-request', request });
    expect(bytes.length).toBe(4 + 1 + 48);
    expect(bytes[4]).toBe(21);
    expect(decodePeerMessage(bytes.subarray(4))).toEqual({ type: 'hash-request', request });
    const hashes = new Uint8Array(64).fill(3);
    expect(decodePeerMessage(encodePeerMessage({ type: 'hashes', request, hashes }).subarray(4))).toEqual({ type: 'hashes', request, hashes });
    expect(decodePeerMessage(encodePeerMessage({ type: 'hash-reject', request }).subarray(4))).toEqual({ type: 'hash-reject', request });
    expect(() => decodePeerMessage(new Uint8Array([22, ...new Uint8Array(48 + 31)]))).toThrow(WireError); // a ragged hash
    expect(() => decodePeerMessage(new Uint8Array([21, ...new Uint8Array(47)]))).toThrow(WireError);
  });

  test('another protocol is refused', () => {
    const bytes = encodeHandshake(sampleHandshake());
    bytes[5]! ^= 0x20;
    expect(() => decodeHandshake(bytes)).toThrow(WireError);
  });

  test('peer ids carry our Azureus-style prefix and are unique', () => {
    const a = makePeerId();
    const b = makePeerId();
    expect(new TextDecoder().decode(a.subarray(0, 8))).toBe(OUR_PEER_ID_PREFIX);
    expect(a.length).toBe(20);
    expect(a).not.toEqual(b);
  });
});

describe('messages', () => {
  test('every message type round-trips through encode and the parser', () => {
    const messages = sampleMessages();
    const parser = new WireParser({ handshake: false });
    const events = parser.push(concat(messages.map(encodePeerMessage)));
    expect(events).toEqual(messages.map((message) => ({ kind: 'message', message })));
  });

  test('the stream may be cut anywhere: byte by byte gives the same events as one chunk', () => {
    const hs = sampleHandshake();
    const messages = sampleMessages();
    const stream = concat([encodeHandshake(hs), ...messages.map(encodePeerMessage)]);
    const whole = new WireParser().push(stream);
    const split = new WireParser();
    const events: WireEvent[] = [];
    for (let i = 0; i < stream.length;) {
      const size = 1 + rng.int(40);
      events.push(...split.push(stream.subarray(i, i + size)));
      i += size;
    }
    expect(events).toEqual(whole);
    expect(events[0]).toEqual({ kind: 'handshake', handshake: hs });
    expect(events.length).toBe(1 + messages.length);
  });

  test('have is 4-byte big-endian, and the length prefix counts the id', () => {
    const bytes = encodePeerMessage({ type: 'have', piece: 0x01020304 });
    expect([...bytes]).toEqual([0, 0, 0, 5, 4, 1, 2, 3, 4]);
  });

  test('an oversized length prefix is refused before the body arrives', () => {
    const parser = new WireParser({ handshake: false, maxMessageBytes: 1000 });
    const header = new Uint8Array([0, 0, 0x03, 0xe9]); // 1001
    expect(() => parser.push(header)).toThrow(/exceeds the 1000-byte limit/);
    // It stays failed: message boundaries are lost.
    expect(() => parser.push(encodePeerMessage({ type: 'choke' }))).toThrow(WireError);
  });

  test('messages completed before bad bytes in the same chunk are handed over with the error', () => {
    const parser = new WireParser({ handshake: false, maxMessageBytes: 100 });
    const chunk = concat([encodePeerMessage({ type: 'unchoke' }), encodePeerMessage({ type: 'have', piece: 3 }), new Uint8Array([0, 0, 1, 0])]);
    let caught: unknown;
    try { parser.push(chunk); } catch (error) { caught = error; }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).reason).toBe('too-large');
    expect((caught as WireError).events).toEqual([
      { kind: 'message', message: { type: 'unchoke' } },
      { kind: 'message', message: { type: 'have', piece: 3 } },
    ]);
  });

  test('a fixed-size message with the wrong size is malformed', () => {
    expect(() => decodePeerMessage(new Uint8Array([4, 0, 0, 1]))).toThrow(/have message carries 4 bytes, got 3/);
    expect(() => decodePeerMessage(new Uint8Array([0, 9]))).toThrow(WireError);
    expect(() => decodePeerMessage(new Uint8Array([20]))).toThrow(/extension id/);
  });
});

describe('mapBounded', () => {
  test('never runs more than `concurrency` tasks at once, and keeps result order', async () => {
    let running = 0;
    let peak = 0;
    const items = Array.from({ length: 30 }, (_, i) => i);
    const results = await mapBounded(items, 4, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await Promise.resolve();
      await new Promise<void>((resolve) => setImmediate(resolve));
      running--;
      return n * 2;
    });
    expect(peak).toBe(4);
    expect(results).toEqual(items.map((n) => n * 2));
  });

  test('starts nothing new once the signal aborts', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    await mapBounded([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      if (n === 2) controller.abort();
      await Promise.resolve();
      return n;
    }, controller.signal);
    expect(started).toEqual([1, 2]);
  });
});

/** Just enough of a net.Socket for PeerConnection: data is pushed in by the test, flow control is observable. */
class FakeSocket extends EventEmitter {
  paused = false;
  connecting = false;
  remoteAddress = '127.0.0.1';
  remotePort = 6881;
  pause(): this { this.paused = true; return this; }
  resume(): this { this.paused = false; return this; }
  isPaused(): boolean { return this.paused; }
  setNoDelay(): this { return this; }
  write(): boolean { return true; }
  destroy(): this { this.emit('close'); return this; }
}

describe('PeerConnection flow control', () => {
  function connection(): { fake: FakeSocket; conn: PeerConnection } {
    const fake = new FakeSocket();
    return { fake, conn: PeerConnection.accept(fake as unknown as Socket, { timeoutMs: 60_000 }) };
  }

  test('pauses the socket once 2 MiB of messages wait unread, resumes as the reader catches up', async () => {
    const { fake, conn } = connection();
    try {
      fake.emit('data', encodeHandshake(sampleHandshake()));
      const big = (i: number): Uint8Array => encodePeerMessage({ type: 'extended', id: 1, payload: new Uint8Array(700 * 1024).fill(i) });
      fake.emit('data', big(0));
      fake.emit('data', big(1));
      expect(fake.paused).toBe(false);
      fake.emit('data', big(2)); // 2.05 MiB queued
      expect(fake.paused).toBe(true);
      await conn.handshake();
      await conn.message();
      expect(fake.paused).toBe(true); // 1.4 MiB still queued: above half the bound
      const second = await conn.message();
      expect(fake.paused).toBe(false);
      expect(second.type === 'extended' && second.payload[0] === 1).toBe(true);
    } finally {
      conn.close();
    }
  });

  test('pauses at 64 queued messages, however small', async () => {
    const { fake, conn } = connection();
    try {
      fake.emit('data', encodeHandshake(sampleHandshake()));
      for (let i = 0; i < 62; i++) fake.emit('data', encodePeerMessage({ type: 'have', piece: i }));
      expect(fake.paused).toBe(false);
      fake.emit('data', encodePeerMessage({ type: 'have', piece: 62 }));
      expect(fake.paused).toBe(true);
      await conn.handshake();
      for (let i = 0; i < 32; i++) expect(await conn.message()).toEqual({ type: 'have', piece: i });
      expect(fake.paused).toBe(false);
    } finally {
      conn.close();
    }
  });
});
