/**
 * What makes the KRPC packet path cheap, checked for what it must not change: errors about packets
 * carry no stack trace (and leave stack traces elsewhere alone), and the fast path for queries
 * reads exactly what the general path reads, or leaves the packet to it.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, test } from 'vitest';
import { decode, encode, type BencodeValue, type Encodable } from '../../src/wire/bencode.js';
import { KRPC_LIMITS, KrpcError, decodeMessage, parseMessage, canonicalQuery, type ParseResult } from '../../src/wire/krpc.js';
import { Prng } from '../helpers/prng.js';

function bytes(latin1: string): Uint8Array {
  return new Uint8Array(Buffer.from(latin1, 'latin1'));
}

describe('errors about packets', () => {
  const garbage = ['d1:t2:ab1:y1:q1:q4:pingXXXX', 'd1:t2:ab1:y1:q1:q4:ping1:ad2:id3:abcee', 'i42e', 'd1:t0:e'];

  test.each(garbage)('%s: a typed error with no stack frames, and stack traces elsewhere unchanged', (packet) => {
    const limit = Error.stackTraceLimit;
    const result = decodeMessage(bytes(packet));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(KrpcError);
    expect(result.error.stack).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('elsewhere').stack).toMatch(/\n\s+at /);
  });

  test('parseMessage too, and the limit is restored after a valid message', () => {
    const limit = Error.stackTraceLimit;
    const result = parseMessage(42);
    expect(result.ok || result.error.stack).not.toMatch(/\n\s+at /);
    expect(decodeMessage(bytes('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe')).ok).toBe(true);
    expect(Error.stackTraceLimit).toBe(limit);
  });
});

// ---------------------------------------------------------------------------------------------
// The fast path for queries: it must return exactly what the general path returns, or nothing.
// ---------------------------------------------------------------------------------------------

/** The general path alone: bencode-decode as decodeMessage does, then parseMessage. */
function generalPath(packet: Uint8Array): ParseResult | undefined {
  let value: BencodeValue;
  try {
    value = decode(packet, { lenient: true, maxDepth: KRPC_LIMITS.maxDepth, maxItems: KRPC_LIMITS.maxItems });
  } catch {
    return undefined;
  }
  return parseMessage(value);
}

/** A random query as a plain bencode value: every method, optional fields about half the time, sometimes a key the tables do not know. */
function randomQuery(prng: Prng): Record<string, Encodable> {
  const coin = (): boolean => prng.int(2) === 1;
  const id = (): Uint8Array => prng.bytes(20);
  const method = prng.pick(['ping', 'find_node', 'get_peers', 'announce_peer', 'sample_infohashes'] as const);
  const a: Record<string, Encodable> = { id: id() };
  if (method === 'find_node' || method === 'sample_infohashes') a.target = id();
  if (method === 'get_peers' || method === 'announce_peer') a.info_hash = id();
  if (method !== 'ping' && method !== 'announce_peer' && coin()) a.want = prng.pick([['n4'], ['n6'], ['n4', 'n6', 'x'], []]);
  if (method === 'get_peers' && coin()) a.scrape = 1;
  if (method === 'get_peers' && coin()) a.noseed = prng.pick([0, 1, 7]);
  if (method === 'announce_peer') {
    a.port = prng.int(65536);
    a.token = prng.bytes(1 + prng.int(20));
    if (coin()) a.implied_port = 1;
    if (coin()) a.seed = 1;
  }
  const message: Record<string, Encodable> = { a, q: method, t: prng.bytes(1 + prng.int(8)), y: 'q' };
  if (coin()) message.v = prng.bytes(prng.int(6));
  if (prng.int(4) === 0) message.ip = prng.bytes(prng.pick([6, 18]));
  if (prng.int(4) === 0) message.ro = 1;
  if (prng.int(8) === 0) (prng.int(2) === 0 ? a : message)[prng.pick(['p', 'zz', 'noise'])] = prng.int(3);
  return message;
}

/** One random corruption: bits flipped, cut short, bytes inserted or deleted, a digit changed. */
function mutate(prng: Prng, input: Uint8Array): Uint8Array {
  const out = Array.from(input);
  switch (prng.int(5)) {
    case 0:
      out[prng.int(out.length)]! ^= 1 << prng.int(8);
      break;
    case 1:
      out.length = prng.int(out.length);
      break;
    case 2:
      out.splice(prng.int(out.length + 1), 0, prng.pick([0x30, 0x31, 0x3a, 0x65, 0x69, 0x6c, 0x64, 0x2d, prng.int(256)]));
      break;
    case 3:
      out.splice(prng.int(out.length), 1 + prng.int(3));
      break;
    default: {
      const digits = out.flatMap((b, i) => (b >= 0x30 && b <= 0x39 ? [i] : []));
      if (digits.length > 0) out[prng.pick(digits)] = 0x30 + prng.int(10);
    }
  }
  return new Uint8Array(out);
}

describe('canonicalQuery, the fast path for queries', () => {
  test('reads 2,000 random queries exactly as the general path does, and most of them at all', () => {
    const prng = new Prng(20_261_121);
    let taken = 0;
    for (let i = 0; i < 2_000; i++) {
      const packet = encode(randomQuery(prng));
      const general = generalPath(packet);
      const fast = canonicalQuery(packet);
      if (fast === undefined) continue;
      taken++;
      if (general === undefined || !general.ok || !isDeepStrictEqual(fast, general.message)) {
        expect.fail(`query #${i}: the fast path read ${latin1(packet)} differently from the general path`);
      }
    }
    // Unknown keys, excused ports and bad `ip` lengths go the general way; the rest is fast.
    expect(taken).toBeGreaterThan(1_400);
  });

  test('20,000 corrupted queries: whatever the fast path accepts, the general path reads the same', () => {
    const prng = new Prng(77);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let packet = encode(randomQuery(prng));
      for (let n = 1 + prng.int(2); n > 0; n--) packet = mutate(prng, packet);
      const fast = canonicalQuery(packet);
      const decoded = decodeMessage(packet);
      const general = generalPath(packet);
      // decodeMessage (fast path first) and the general path alone always agree.
      if (!isDeepStrictEqual(summary(decoded), summary(general))) expect.fail(`input #${i} ${latin1(packet)}: decodeMessage differs`);
      if (fast === undefined) continue;
      accepted++;
      if (general === undefined || !general.ok || !isDeepStrictEqual(fast, general.message)) {
        expect.fail(`input #${i}: the fast path accepted ${latin1(packet)}, which the general path reads otherwise`);
      }
    }
    // Many corruptions still leave a valid query (a flipped bit in an ID, say): those were taken fast.
    expect(accepted).toBeGreaterThan(1_000);
  });

  test('leaves the unusual to the general path', () => {
    const id = 'abcdefghij0123456789';
    const cases = {
      'keys out of order': `d1:q4:ping1:ad2:id20:${id}e1:t2:aa1:y1:qe`,
      'a key the tables do not know': `d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:x1:11:y1:qe`,
      'an unknown argument': `d1:ad2:id20:${id}1:xi1ee1:q4:ping1:t2:aa1:y1:qe`,
      'a length with a leading zero': `d1:ad2:id020:${id}e1:q4:ping1:t2:aa1:y1:qe`,
      'an integer with a leading zero': `d1:ad2:id20:${id}9:info_hash20:${id}4:porti06881e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe`,
      'a port excused by implied_port': `d1:ad2:id20:${id}12:implied_porti1e9:info_hash20:${id}5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe`,
      'a response': `d1:rd2:id20:${id}e1:t2:aa1:y1:re`,
      'trailing bytes': `d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:qex`,
    };
    for (const [name, wire] of Object.entries(cases)) {
      expect(canonicalQuery(bytes(wire)), name).toBeUndefined();
    }
    // The general path still reads the valid ones among them.
    expect(decodeMessage(bytes(cases['keys out of order'])).ok).toBe(true);
    expect(decodeMessage(bytes(cases['a port excused by implied_port'])).ok).toBe(true);
  });

  test('fields are plain Uint8Array copies, even from a Buffer: reusing the packet changes nothing', () => {
    const packet = Buffer.from(`d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:v4:LT\x02\x001:y1:qe`, 'latin1');
    const query = canonicalQuery(packet);
    expect(query).toBeDefined();
    packet.fill(0);
    expect(query).toEqual({ t: bytes('aa'), v: bytes('LT\x02\x00'), y: 'q', q: 'ping', a: { id: bytes('abcdefghij0123456789') } });
    expect(query!.t.constructor).toBe(Uint8Array);
    expect(query!.a.id.constructor).toBe(Uint8Array);
  });
});

/** What a parse result says, comparable whichever path produced it. */
function summary(result: ParseResult | undefined): unknown {
  if (result === undefined) return 'undecodable';
  if (result.ok) return result.message;
  const { code, field, t, y } = result.error;
  // Undecodable input reads as 'undecodable' from both: decodeMessage's message names the decoder's reason.
  return t === undefined && result.error.message.startsWith('undecodable') ? 'undecodable' : { code, field, t, y, message: result.error.message };
}

function latin1(data: Uint8Array): string {
  return JSON.stringify(Buffer.from(data).toString('latin1'));
}
