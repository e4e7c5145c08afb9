/**
 * KRPC messages (BEP 5 "KRPC Protocol", with BEP 32, 33, 42, 43 and 51). The first tests are the
 * example packets printed in BEP 5, byte for byte; then each extension; then what the reference
 * client (libtorrent 2.0.8) really sends; then every way a message can be wrong.
 */
import { describe, expect, test } from 'vitest';
import { decode, encode, type BencodeValue, type Encodable } from '../../src/wire/bencode.js';
import { decodePeer, type NodeInfo, type PeerInfo } from '../../src/wire/compact.js';
import {
  ErrorCode,
  KRPC_LIMITS,
  KrpcError,
  decodeMessage,
  encodeMessage,
  makeError,
  makeQuery,
  makeResponse,
  parseMessage,
  type AnnouncePeerArgs,
  type Envelope,
  type FindNodeArgs,
  type GetPeersArgs,
  type Message,
  type ParseResult,
  type ResponseBody,
  type SampleInfohashesArgs,
  type Want,
} from '../../src/wire/krpc.js';
import { Prng } from '../helpers/prng.js';

// ---------------------------------------------------------------------------------------------
// Helpers. Wire strings are written as latin1 text: one char per byte, like BEP 5's examples.
// ---------------------------------------------------------------------------------------------

function bytes(latin1: string): Uint8Array {
  return new Uint8Array(Buffer.from(latin1, 'latin1'));
}

function latin1(data: Uint8Array): string {
  return Buffer.from(data).toString('latin1');
}

/** Decode a packet that must be valid. */
function parse(wire: string | Uint8Array): Message {
  const result = decodeMessage(typeof wire === 'string' ? bytes(wire) : wire);
  if (!result.ok) throw new Error(`expected a valid message, got: ${result.error.message}`);
  return result.message;
}

/** Decode a packet that must be rejected. */
function reject(wire: string | Uint8Array): KrpcError {
  const result = decodeMessage(typeof wire === 'string' ? bytes(wire) : wire);
  if (result.ok) throw new Error(`expected a KrpcError, got a valid ${result.message.y} message`);
  expect(result.error).toBeInstanceOf(KrpcError);
  return result.error;
}

/** Build a test packet from a JS object (keys are sorted by the encoder, as on the wire). */
function packet(value: Encodable): Uint8Array {
  return encode(value);
}

/** Encode a message and read the bytes back as latin1 text, to compare with BEP 5's examples. */
function wireOf(message: Message): string {
  return latin1(encodeMessage(message));
}

/** Parse, check it encodes back to the very same bytes, and return the message. */
function roundTrips(wire: string): Message {
  const message = parse(wire);
  expect(wireOf(message)).toBe(wire);
  return message;
}

function asQuery(message: Message): Extract<Message, { y: 'q' }> {
  if (message.y !== 'q') throw new Error(`expected a query, got y=${message.y}`);
  return message;
}

function asResponse(message: Message): Extract<Message, { y: 'r' }> {
  if (message.y !== 'r') throw new Error(`expected a response, got y=${message.y}`);
  return message;
}

/** BEP 5's example IDs. */
const ABC_ID = 'abcdefghij0123456789';
const MNO_ID = 'mnopqrstuvwxyz123456';
const NUM_ID = '0123456789abcdefghij';

/** Compact forms used below: 127.0.0.1:6881 and [2001:db8::1]:6881 (6881 = 0x1ae1). */
const PEER_V4 = '\x7f\x00\x00\x01\x1a\xe1';
const PEER_V6 = '\x20\x01\x0d\xb8' + '\x00'.repeat(11) + '\x01\x1a\xe1';

// ---------------------------------------------------------------------------------------------
// BEP 5 example packets.
// ---------------------------------------------------------------------------------------------

describe('BEP 5 example packets parse, and encode back to the same bytes', () => {
  test('ping query and response', () => {
    const query = asQuery(roundTrips('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'));
    expect(latin1(query.t)).toBe('aa');
    expect(query.q).toBe('ping');
    expect(latin1(query.a.id)).toBe(ABC_ID);

    const response = asResponse(roundTrips('d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re'));
    expect(latin1(response.r.id)).toBe(MNO_ID);
    expect(Object.keys(response.r)).toEqual(['id']);
  });

  test('find_node query', () => {
    const query = asQuery(roundTrips('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe'));
    if (query.q !== 'find_node') throw new Error('expected find_node');
    expect(latin1(query.a.id)).toBe(ABC_ID);
    expect(latin1(query.a.target)).toBe(MNO_ID);
  });

  test('find_node response: the spec prints "def456..." as a placeholder, which is not 26-byte node info', () => {
    const error = reject('d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re');
    expect(error).toMatchObject({ code: 203, field: 'r.nodes', y: 'r' });
    expect(error.message).toBe('r.nodes must be a multiple of 26 bytes, got 9');
  });

  test('find_node response with one real node: 20-byte ID + compact IPv4 address and port', () => {
    const response = asResponse(roundTrips(`d1:rd2:id20:${NUM_ID}5:nodes26:${MNO_ID}${PEER_V4}e1:t2:aa1:y1:re`));
    expect(response.r.nodes).toEqual([{ id: bytes(MNO_ID), address: '127.0.0.1', port: 6881 }]);
  });

  test('get_peers query', () => {
    const query = asQuery(roundTrips('d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe'));
    if (query.q !== 'get_peers') throw new Error('expected get_peers');
    expect(latin1(query.a.info_hash)).toBe(MNO_ID);
  });

  test('get_peers response with peers: "axje.u" and "idhtnm" are two 6-byte compact peers', () => {
    const response = asResponse(roundTrips('d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re'));
    expect(latin1(response.r.token!)).toBe('aoeusnth');
    // 'a','x','j','e' = 97.120.106.101 and '.u' = 0x2e75 = 11893; likewise for "idhtnm".
    expect(response.r.values).toEqual([
      { address: '97.120.106.101', port: 11893 },
      { address: '105.100.104.116', port: 28269 },
    ]);
  });

  test('get_peers response with closest nodes (a real node in place of "def456...")', () => {
    const response = asResponse(roundTrips(`d1:rd2:id20:${ABC_ID}5:nodes26:${NUM_ID}${PEER_V4}5:token8:aoeusnthe1:t2:aa1:y1:re`));
    expect(response.r.nodes).toHaveLength(1);
    expect(latin1(response.r.token!)).toBe('aoeusnth');
    expect(response.r.values).toBeUndefined();
  });

  test('announce_peer query, as its bencoded line is printed (without implied_port)', () => {
    const query = asQuery(roundTrips('d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe'));
    if (query.q !== 'announce_peer') throw new Error('expected announce_peer');
    expect(query.a.port).toBe(6881);
    expect(latin1(query.a.token)).toBe('aoeusnth');
    expect(query.a.implied_port).toBeUndefined();
  });

  test('announce_peer query, as its JSON form is printed (with "implied_port": 1)', () => {
    const query = asQuery(roundTrips('d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe'));
    if (query.q !== 'announce_peer') throw new Error('expected announce_peer');
    expect(query.a.implied_port).toBe(true);
    expect(query.a.port).toBe(6881);
  });

  test('generic error [201, "A Generic Error Ocurred"]', () => {
    const error = roundTrips('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee');
    expect(error).toEqual({ t: bytes('aa'), y: 'e', e: { code: ErrorCode.Generic, message: 'A Generic Error Ocurred' } });
  });

  test('the same packets built from typed values with makeQuery / makeResponse / makeError', () => {
    const aa = bytes('aa');
    expect(wireOf(makeQuery(aa, 'ping', { id: bytes(ABC_ID) }))).toBe('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe');
    expect(wireOf(makeResponse(aa, { id: bytes(MNO_ID) }))).toBe('d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re');
    expect(wireOf(makeQuery(aa, 'announce_peer', {
      id: bytes(ABC_ID),
      implied_port: true,
      info_hash: bytes(MNO_ID),
      port: 6881,
      token: bytes('aoeusnth'),
    }))).toBe('d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe');
    expect(wireOf(makeResponse(aa, {
      id: bytes(ABC_ID),
      token: bytes('aoeusnth'),
      values: [{ address: '97.120.106.101', port: 11893 }, { address: '105.100.104.116', port: 28269 }],
    }))).toBe('d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re');
    expect(wireOf(makeError(aa, 201, 'A Generic Error Ocurred'))).toBe('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee');
  });
});

// ---------------------------------------------------------------------------------------------
// Extensions.
// ---------------------------------------------------------------------------------------------

describe('BEP 44: get and put', () => {
  const k = 'K'.repeat(32);
  const sig = 'S'.repeat(64);

  test('get carries id and target, and seq when only newer versions are wanted', () => {
    const query = asQuery(roundTrips(`d1:ad2:id20:${ABC_ID}3:seqi4e6:target20:${MNO_ID}e1:q3:get1:t2:aa1:y1:qe`));
    if (query.q !== 'get') throw new Error('expected get');
    expect(latin1(query.a.target)).toBe(MNO_ID);
    expect(query.a.seq).toBe(4);
  });

  test('an immutable put: v is any bencoded value, kept as its exact bytes', () => {
    const query = asQuery(roundTrips(`d1:ad2:id20:${ABC_ID}5:token8:aoeusnth1:vd1:ali1ei2ee1:b3:xyzee1:q3:put1:t2:aa1:y1:qe`));
    if (query.q !== 'put') throw new Error('expected put');
    expect(latin1(query.a.v)).toBe('d1:ali1ei2ee1:b3:xyze');
  });

  test('a mutable put: k, salt, seq, cas and sig', () => {
    const query = asQuery(roundTrips(`d1:ad3:casi1e2:id20:${ABC_ID}1:k32:${k}4:salt6:foobar3:seqi2e3:sig64:${sig}5:token8:aoeusnth1:v12:Hello World!e1:q3:put1:t2:aa1:y1:qe`));
    if (query.q !== 'put') throw new Error('expected put');
    expect(query.a).toMatchObject({ seq: 2, cas: 1 });
    expect(latin1(query.a.salt!)).toBe('foobar');
    expect(latin1(query.a.v)).toBe('12:Hello World!');
  });

  test('a get reply with a mutable item: v, k, seq, sig beside the token and nodes', () => {
    const response = asResponse(roundTrips(`d1:rd2:id20:${ABC_ID}1:k32:${k}3:seqi2e3:sig64:${sig}5:token8:aoeusnth1:v12:Hello World!e1:t2:aa1:y1:re`));
    expect(latin1(response.r.v!)).toBe('12:Hello World!');
    expect(response.r.seq).toBe(2);
    expect(response.r.k).toHaveLength(32);
  });

  test.each([
    ['a short key', `1:k31:${'K'.repeat(31)}`, 'a.k'],
    ['a short signature', `3:sig63:${'S'.repeat(63)}`, 'a.sig'],
    ['a negative seq', '3:seqi-1e', 'a.seq'],
  ])('%s is a 203 naming the field', (_, field, name) => {
    const wire = `d1:ad2:id20:${ABC_ID}${field}5:token8:aoeusnth1:v1:xe1:q3:put1:t2:aa1:y1:qe`;
    const parsed = decodeMessage(bytes(wire));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) { expect(parsed.error.code).toBe(203); expect(parsed.error.field).toBe(name); }
  });
});

describe('BEP 51: sample_infohashes', () => {
  test('the query carries id and target', () => {
    const query = asQuery(roundTrips(`d1:ad2:id20:${ABC_ID}6:target20:${MNO_ID}e1:q17:sample_infohashes1:t2:aa1:y1:qe`));
    expect(query.q).toBe('sample_infohashes');
    if (query.q !== 'sample_infohashes') throw new Error('expected sample_infohashes');
    expect(latin1(query.a.target)).toBe(MNO_ID);
  });

  test('a response with five samples decodes to all five, 20 bytes each, in order', () => {
    const hashes = ['A', 'B', 'C', 'D', 'E'].map((c) => c.repeat(20));
    const wire = `d1:rd2:id20:${ABC_ID}8:intervali21600e5:nodes26:${NUM_ID}${PEER_V4}3:numi417e7:samples100:${hashes.join('')}e1:t2:aa1:y1:re`;
    const response = asResponse(roundTrips(wire));
    expect(response.r.samples).toHaveLength(5);
    expect(response.r.samples!.map((sample) => sample.length)).toEqual([20, 20, 20, 20, 20]);
    expect(response.r.samples!.map(latin1)).toEqual(hashes);
    expect(response.r.interval).toBe(21600);
    expect(response.r.num).toBe(417);
    expect(response.r.nodes).toHaveLength(1);
  });

  test('samples are copies: keeping one does not keep the packet alive or change with it', () => {
    const packetBytes = bytes(`d1:rd2:id20:${ABC_ID}7:samples20:${'S'.repeat(20)}e1:t2:aa1:y1:re`);
    const sample = asResponse(parse(packetBytes)).r.samples![0]!;
    packetBytes.fill(0);
    expect(latin1(sample)).toBe('S'.repeat(20));
    expect(sample.byteLength).toBe(sample.buffer.byteLength);
  });

  test('"samples" is always sent, even empty (BEP 51): an empty string is no samples', () => {
    const response = asResponse(roundTrips(`d1:rd2:id20:${ABC_ID}3:numi0e7:samples0:e1:t2:aa1:y1:re`));
    expect(response.r.samples).toEqual([]);
  });

  test('samples that are not whole 20-byte hashes are rejected', () => {
    const error = reject(`d1:rd2:id20:${ABC_ID}7:samples30:${'x'.repeat(30)}e1:t2:aa1:y1:re`);
    expect(error).toMatchObject({ code: 203, field: 'r.samples', message: 'r.samples must be a multiple of 20 bytes, got 30' });
  });
});

describe('BEP 32: IPv6', () => {
  test('nodes6 holds 38-byte entries: 20-byte ID + 16-byte address + port', () => {
    const response = asResponse(roundTrips(`d1:rd2:id20:${ABC_ID}6:nodes638:${MNO_ID}${PEER_V6}e1:t2:aa1:y1:re`));
    expect(response.r.nodes6).toEqual([{ id: bytes(MNO_ID), address: '2001:db8::1', port: 6881 }]);
  });

  test('nodes and nodes6 may come together', () => {
    const response = asResponse(roundTrips(`d1:rd2:id20:${ABC_ID}5:nodes26:${NUM_ID}${PEER_V4}6:nodes638:${MNO_ID}${PEER_V6}e1:t2:aa1:y1:re`));
    expect(response.r.nodes![0]!.address).toBe('127.0.0.1');
    expect(response.r.nodes6![0]!.address).toBe('2001:db8::1');
  });

  test('nodes6 must be a whole number of 38-byte entries', () => {
    const error = reject(`d1:rd2:id20:${ABC_ID}6:nodes626:${NUM_ID}${PEER_V4}e1:t2:aa1:y1:re`);
    expect(error).toMatchObject({ field: 'r.nodes6', message: 'r.nodes6 must be a multiple of 38 bytes, got 26' });
  });

  test('want ["n4", "n6"] in find_node and get_peers', () => {
    const findNode = asQuery(roundTrips(`d1:ad2:id20:${ABC_ID}6:target20:${MNO_ID}4:wantl2:n42:n6ee1:q9:find_node1:t2:aa1:y1:qe`));
    expect((findNode.a as FindNodeArgs).want).toEqual(['n4', 'n6']);
    const getPeers = asQuery(roundTrips(`d1:ad2:id20:${ABC_ID}9:info_hash20:${MNO_ID}4:wantl2:n6ee1:q9:get_peers1:t2:aa1:y1:qe`));
    expect((getPeers.a as GetPeersArgs).want).toEqual(['n6']);
  });

  test('other strings in want "must be silently ignored on reception"', () => {
    const query = asQuery(parse(`d1:ad2:id20:${ABC_ID}6:target20:${MNO_ID}4:wantl2:n52:n43:n4x2:n6ee1:q9:find_node1:t2:aa1:y1:qe`));
    expect((query.a as FindNodeArgs).want).toEqual(['n4', 'n6']);
  });

  test('want must be a list of strings', () => {
    const notAList = reject(`d1:ad2:id20:${ABC_ID}6:target20:${MNO_ID}4:want2:n4e1:q9:find_node1:t2:aa1:y1:qe`);
    expect(notAList).toMatchObject({ code: 203, field: 'a.want', message: 'a.want must be a list, got a byte string' });
    const notAString = reject(`d1:ad2:id20:${ABC_ID}6:target20:${MNO_ID}4:wantl2:n4i6eee1:q9:find_node1:t2:aa1:y1:qe`);
    expect(notAString).toMatchObject({ code: 203, field: 'a.want[1]', message: 'a.want[1] must be a byte string, got an integer' });
  });

  test('values may mix 6-byte IPv4 and 18-byte IPv6 peers', () => {
    const response = asResponse(roundTrips(`d1:rd2:id20:${ABC_ID}6:valuesl6:${PEER_V4}18:${PEER_V6}ee1:t2:aa1:y1:re`));
    expect(response.r.values).toEqual([
      { address: '127.0.0.1', port: 6881 },
      { address: '2001:db8::1', port: 6881 },
    ]);
  });
});

describe('BEP 33: DHT scrapes', () => {
  test('get_peers with scrape=1 and noseed=1', () => {
    const query = asQuery(roundTrips(`d1:ad2:id20:${ABC_ID}9:info_hash20:${MNO_ID}6:noseedi1e6:scrapei1ee1:q9:get_peers1:t2:aa1:y1:qe`));
    expect(query.a).toMatchObject({ scrape: true, noseed: true });
  });

  test('a flag sent as 0 reads as false, and a false flag is not sent at all', () => {
    const query = asQuery(parse(`d1:ad2:id20:${ABC_ID}9:info_hash20:${MNO_ID}6:scrapei0ee1:q9:get_peers1:t2:aa1:y1:qe`));
    expect((query.a as GetPeersArgs).scrape).toBe(false);
    expect(wireOf(query)).toBe(`d1:ad2:id20:${ABC_ID}9:info_hash20:${MNO_ID}e1:q9:get_peers1:t2:aa1:y1:qe`);
  });

  test('announce_peer with seed=1', () => {
    const query = asQuery(roundTrips(`d1:ad2:id20:${ABC_ID}9:info_hash20:${MNO_ID}4:porti6881e4:seedi1e5:token4:tokee1:q13:announce_peer1:t2:aa1:y1:qe`));
    expect((query.a as AnnouncePeerArgs).seed).toBe(true);
  });

  test('a scrape response carries BFsd and BFpe, 256 bytes each', () => {
    const seeds = '\xf6'.repeat(256);
    const peers = '\x01'.repeat(256);
    const response = asResponse(roundTrips(`d1:rd4:BFpe256:${peers}4:BFsd256:${seeds}2:id20:${ABC_ID}5:token4:tokee1:t2:aa1:y1:re`));
    expect(latin1(response.r.BFsd!)).toBe(seeds);
    expect(latin1(response.r.BFpe!)).toBe(peers);
  });

  test('a bloom filter of any other size is rejected', () => {
    const error = reject(`d1:rd4:BFsd255:${'x'.repeat(255)}2:id20:${ABC_ID}e1:t2:aa1:y1:re`);
    expect(error).toMatchObject({ code: 203, field: 'r.BFsd', message: 'r.BFsd must be 256 bytes, got 255' });
  });
});

describe('BEP 42: the top-level ip field', () => {
  test('a compact IPv4 address: the requester as the responder saw it', () => {
    const response = roundTrips(`d2:ip6:${PEER_V4}1:rd2:id20:${ABC_ID}e1:t2:aa1:y1:re`);
    expect(response.ip).toEqual({ address: '127.0.0.1', port: 6881 });
  });

  test('a compact IPv6 address', () => {
    const response = roundTrips(`d2:ip18:${PEER_V6}1:rd2:id20:${ABC_ID}e1:t2:aa1:y1:re`);
    expect(response.ip).toEqual({ address: '2001:db8::1', port: 6881 });
  });

  test('any other length is rejected', () => {
    const error = reject(`d2:ip4:\x7f\x00\x00\x011:rd2:id20:${ABC_ID}e1:t2:aa1:y1:re`);
    expect(error).toMatchObject({ code: 203, field: 'ip', message: 'ip must be 6 or 18 bytes, got 4' });
  });
});

describe('BEP 43: read-only nodes', () => {
  test('"ro": 1 at the top level of a query ("2:roi1e")', () => {
    const query = roundTrips(`d1:ad2:id20:${ABC_ID}e1:q4:ping2:roi1e1:t2:aa1:y1:qe`);
    expect(query.ro).toBe(true);
  });

  test('makeQuery sends ro only when true', () => {
    const id = bytes(ABC_ID);
    expect(wireOf(makeQuery(bytes('aa'), 'ping', { id }, { ro: true }))).toContain('2:roi1e');
    expect(wireOf(makeQuery(bytes('aa'), 'ping', { id }, { ro: false }))).not.toContain('2:ro');
  });
});

// ---------------------------------------------------------------------------------------------
// The reference client (see shared/LIBTORRENT-ON-THE-WIRE.md).
// ---------------------------------------------------------------------------------------------

describe('what libtorrent 2.0.8 sends is accepted', () => {
  const LT = 'LT\x02\x00';

  test('a get_peers reply with ip, r.p, v, a 4-byte token, an empty nodes string and values: []', () => {
    const wire = `d2:ip6:${PEER_V4}1:rd2:id20:${ABC_ID}5:nodes0:1:pi6881e5:token4:\x01\x02\x03\x046:valueslee1:t2:\x00\x071:v4:${LT}1:y1:re`;
    const response = asResponse(parse(wire));
    expect(response.ip).toEqual({ address: '127.0.0.1', port: 6881 });
    expect(latin1(response.v!)).toBe(LT);
    expect(response.r.nodes).toEqual([]);
    expect(response.r.values).toEqual([]);
    expect(response.r.token).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect('p' in response.r).toBe(false); // unknown keys are ignored, not copied
  });

  test('a scrape reply: BFsd and BFpe instead of values', () => {
    const wire = `d2:ip6:${PEER_V4}1:rd4:BFpe256:${'\x00'.repeat(256)}4:BFsd256:${'\x00'.repeat(256)}2:id20:${ABC_ID}5:nodes0:1:pi6881e5:token4:tokee1:t2:ab1:v4:${LT}1:y1:re`;
    const response = asResponse(parse(wire));
    expect(response.r.BFsd).toHaveLength(256);
    expect(response.r.values).toBeUndefined();
  });

  test('a sample_infohashes reply: interval 21600, num, samples, nodes', () => {
    const wire = `d2:ip6:${PEER_V4}1:rd2:id20:${ABC_ID}8:intervali21600e5:nodes0:3:numi1e1:pi6881e7:samples20:${MNO_ID}e1:t2:ab1:v4:${LT}1:y1:re`;
    const response = asResponse(parse(wire));
    expect(response.r).toMatchObject({ interval: 21600, num: 1 });
    expect(response.r.samples!.map(latin1)).toEqual([MNO_ID]);
  });

  test('an error with an r dict beside e: the r is ignored', () => {
    const wire = `d2:ip6:${PEER_V4}1:eli203e13:invalid tokene1:rd2:id20:${ABC_ID}1:pi6881ee1:t2:ab1:v4:${LT}1:y1:ee`;
    const error = parse(wire);
    expect(error).toMatchObject({ y: 'e', e: { code: 203, message: 'invalid token' } });
    expect('r' in error).toBe(false);
  });

  test('its announce: implied_port=1, a port, seed=1, the token from get_peers', () => {
    const wire = `d1:ad2:id20:${ABC_ID}12:implied_porti1e9:info_hash20:${MNO_ID}4:porti51413e4:seedi1e5:token4:tokee1:q13:announce_peer1:t2:ab1:v4:${LT}1:y1:qe`;
    const query = asQuery(roundTrips(wire));
    expect(query.a).toMatchObject({ implied_port: true, port: 51413, seed: true });
  });

  test('a query to a bootstrap router with "bs": 1, and a read-only one with "ro": 1', () => {
    const query = asQuery(parse(`d1:ad2:bsi1e2:id20:${ABC_ID}9:info_hash20:${MNO_ID}e1:q9:get_peers2:roi1e1:t2:ab1:v4:${LT}1:y1:qe`));
    expect(query.ro).toBe(true);
    expect('bs' in query.a).toBe(false);
  });

  test('dictionary keys out of order (some clients send them so)', () => {
    const query = asQuery(parse(`d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:${ABC_ID}ee`));
    expect(query.q).toBe('ping');
  });
});

describe('announce_peer without a port when implied_port is set', () => {
  test('BEP 5 says port is then ignored: a missing port is accepted and reads as 0', () => {
    const query = asQuery(parse(`d1:ad2:id20:${ABC_ID}12:implied_porti1e9:info_hash20:${MNO_ID}5:token4:tokee1:q13:announce_peer1:t2:aa1:y1:qe`));
    expect(query.a).toMatchObject({ implied_port: true, port: 0 });
  });

  test('implied_port is a flag: any non-zero integer sets it ("present and non-zero")', () => {
    const query = asQuery(parse(`d1:ad2:id20:${ABC_ID}12:implied_porti2e9:info_hash20:${MNO_ID}5:token4:tokee1:q13:announce_peer1:t2:aa1:y1:qe`));
    expect(query.a).toMatchObject({ implied_port: true, port: 0 });
  });

  test('with implied_port 0 or absent, port is required', () => {
    for (const implied of ['12:implied_porti0e', '']) {
      const error = reject(`d1:ad2:id20:${ABC_ID}${implied}9:info_hash20:${MNO_ID}5:token4:tokee1:q13:announce_peer1:t2:aa1:y1:qe`);
      expect(error).toMatchObject({ code: 203, field: 'a.port', message: 'a.port is missing', y: 'q' });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Malformed messages.
// ---------------------------------------------------------------------------------------------

const ID = 'i'.repeat(20);
const HASH = 'h'.repeat(20);

/** A valid `a` dict for each method, to break one field at a time. */
const VALID_ARGS: Record<string, Record<string, Encodable>> = {
  ping: { id: ID },
  find_node: { id: ID, target: HASH },
  get_peers: { id: ID, info_hash: HASH },
  announce_peer: { id: ID, info_hash: HASH, port: 6881, token: 'tok' },
  sample_infohashes: { id: ID, target: HASH },
};

function queryPacket(method: string, args: Record<string, Encodable>): Uint8Array {
  return packet({ t: 'tx', y: 'q', q: method, a: args });
}

/** Expect a 203 the node will answer: it names the field and carries the query's t and y='q'. */
function expectAnswerable(error: KrpcError, field: string, message: string): void {
  expect(error).toMatchObject({ code: ErrorCode.Protocol, field, message, y: 'q' });
  expect(latin1(error.t!)).toBe('tx');
}

describe('a query with a missing or malformed argument: 203, naming the argument', () => {
  test('the valid forms used below are accepted', () => {
    for (const [method, args] of Object.entries(VALID_ARGS)) expect(asQuery(parse(queryPacket(method, args))).q).toBe(method);
  });

  for (const [method, args] of Object.entries(VALID_ARGS)) {
    for (const key of Object.keys(args)) {
      test(`${method}: a.${key} missing`, () => {
        const { [key]: _dropped, ...rest } = args;
        expectAnswerable(reject(queryPacket(method, rest)), `a.${key}`, `a.${key} is missing`);
      });
    }
  }

  for (const [method, args] of Object.entries(VALID_ARGS)) {
    for (const key of ['id', 'target', 'info_hash'].filter((k) => k in args)) {
      test(`${method}: a.${key} of 19 and of 21 bytes, or an integer`, () => {
        expectAnswerable(reject(queryPacket(method, { ...args, [key]: 'x'.repeat(19) })), `a.${key}`, `a.${key} must be 20 bytes, got 19`);
        expectAnswerable(reject(queryPacket(method, { ...args, [key]: 'x'.repeat(21) })), `a.${key}`, `a.${key} must be 20 bytes, got 21`);
        expectAnswerable(reject(queryPacket(method, { ...args, [key]: 7 })), `a.${key}`, `a.${key} must be a byte string, got an integer`);
      });
    }
  }

  test('announce_peer: port outside 0..65535, or not an integer', () => {
    const args = VALID_ARGS.announce_peer!;
    expectAnswerable(reject(queryPacket('announce_peer', { ...args, port: 65536 })), 'a.port', 'a.port must be an integer in 0..65535, got 65536');
    expectAnswerable(reject(queryPacket('announce_peer', { ...args, port: -1 })), 'a.port', 'a.port must be an integer in 0..65535, got -1');
    expectAnswerable(reject(queryPacket('announce_peer', { ...args, port: 10n ** 30n })), 'a.port', `a.port must be an integer in 0..65535, got ${10n ** 30n}`);
    expectAnswerable(reject(queryPacket('announce_peer', { ...args, port: '6881' })), 'a.port', 'a.port must be an integer, got a byte string');
    expect((asQuery(parse(queryPacket('announce_peer', { ...args, port: 0 }))).a as AnnouncePeerArgs).port).toBe(0);
    expect((asQuery(parse(queryPacket('announce_peer', { ...args, port: 65535 }))).a as AnnouncePeerArgs).port).toBe(65535);
  });

  test(`announce_peer: token empty, longer than ${KRPC_LIMITS.maxTokenLength} bytes, or a list`, () => {
    const args = VALID_ARGS.announce_peer!;
    const max = KRPC_LIMITS.maxTokenLength;
    expectAnswerable(reject(queryPacket('announce_peer', { ...args, token: '' })), 'a.token', `a.token must be 1 to ${max} bytes, got 0`);
    expectAnswerable(reject(queryPacket('announce_peer', { ...args, token: 'k'.repeat(max + 1) })), 'a.token', `a.token must be 1 to ${max} bytes, got ${max + 1}`);
    expectAnswerable(reject(queryPacket('announce_peer', { ...args, token: ['tok'] })), 'a.token', 'a.token must be a byte string, got a list');
    expect(asQuery(parse(queryPacket('announce_peer', { ...args, token: 'k'.repeat(max) }))).q).toBe('announce_peer');
  });

  test('flags must be integers', () => {
    const error = reject(queryPacket('get_peers', { ...VALID_ARGS.get_peers!, scrape: '1' }));
    expectAnswerable(error, 'a.scrape', 'a.scrape must be an integer, got a byte string');
    const seed = reject(queryPacket('announce_peer', { ...VALID_ARGS.announce_peer!, seed: { yes: 1 } }));
    expectAnswerable(seed, 'a.seed', 'a.seed must be an integer, got a dictionary');
  });

  test('a missing, or not a dictionary', () => {
    expectAnswerable(reject(packet({ t: 'tx', y: 'q', q: 'ping' })), 'a', 'a is missing');
    expectAnswerable(reject(packet({ t: 'tx', y: 'q', q: 'ping', a: ['id'] })), 'a', 'a must be a dictionary, got a list');
  });

  test('q missing, or not a string', () => {
    expectAnswerable(reject(packet({ t: 'tx', y: 'q', a: { id: ID } })), 'q', 'q is missing');
    expectAnswerable(reject(packet({ t: 'tx', y: 'q', q: 1, a: { id: ID } })), 'q', 'q must be a byte string, got an integer');
  });

  test('a malformed top-level field of a query is answerable too', () => {
    expectAnswerable(reject(packet({ t: 'tx', y: 'q', q: 'ping', a: { id: ID }, v: 5 })), 'v', 'v must be a byte string, got an integer');
    expectAnswerable(reject(packet({ t: 'tx', y: 'q', q: 'ping', a: { id: ID }, ro: 'yes' })), 'ro', 'ro must be an integer, got a byte string');
  });
});

describe('an unknown method: 204 Method Unknown, with t so the node can answer', () => {
  test('"vote" (not a method we serve)', () => {
    const error = reject(queryPacket('vote', { id: ID, target: HASH }));
    expect(error).toMatchObject({ code: ErrorCode.MethodUnknown, field: 'q', y: 'q', message: 'unknown method "vote"' });
    expect(latin1(error.t!)).toBe('tx');
  });

  test('the method is judged before its arguments', () => {
    expect(reject(packet({ t: 'tx', y: 'q', q: 'vote' })).code).toBe(204);
  });

  test('a huge binary method name gives a short message', () => {
    const error = reject(packet({ t: 'tx', y: 'q', q: new Uint8Array(5000).fill(0xff), a: {} }));
    expect(error.code).toBe(204);
    expect(error.message.length).toBeLessThan(100);
  });
});

/** A response packet whose `r` is a valid one with `changes` applied. */
function responsePacket(changes: Record<string, Encodable>): Uint8Array {
  return packet({ t: 'tx', y: 'r', r: { id: ID, ...changes } });
}

function expectBadResponse(changes: Record<string, Encodable>, field: string, message: string): void {
  const error = reject(responsePacket(changes));
  expect(error).toMatchObject({ code: ErrorCode.Protocol, field, message, y: 'r' });
  expect(latin1(error.t!)).toBe('tx');
}

describe('a malformed response: 203 naming the field (the node does not answer responses)', () => {
  test('r.id missing, or not 20 bytes', () => {
    const error = reject(packet({ t: 'tx', y: 'r', r: { nodes: '' } }));
    expect(error).toMatchObject({ code: 203, field: 'r.id', message: 'r.id is missing', y: 'r' });
    expectBadResponse({ id: 'x'.repeat(19) }, 'r.id', 'r.id must be 20 bytes, got 19');
  });

  test('r missing, or not a dictionary', () => {
    expect(reject(packet({ t: 'tx', y: 'r' }))).toMatchObject({ field: 'r', message: 'r is missing' });
    expect(reject(packet({ t: 'tx', y: 'r', r: 'id' }))).toMatchObject({ field: 'r', message: 'r must be a dictionary, got a byte string' });
  });

  test('nodes not whole 26-byte entries, or not a string', () => {
    expectBadResponse({ nodes: 'n'.repeat(27) }, 'r.nodes', 'r.nodes must be a multiple of 26 bytes, got 27');
    expectBadResponse({ nodes: ['n'.repeat(26)] }, 'r.nodes', 'r.nodes must be a byte string, got a list');
  });

  test('values not a list, or an entry neither 6 nor 18 bytes, or not a string', () => {
    expectBadResponse({ values: PEER_V4 }, 'r.values', 'r.values must be a list, got a byte string');
    expectBadResponse({ values: [bytes(PEER_V4), 'x'.repeat(7)] }, 'r.values[1]', 'r.values[1] must be 6 or 18 bytes, got 7');
    expectBadResponse({ values: [5] }, 'r.values[0]', 'r.values[0] must be a byte string, got an integer');
  });

  test('token empty or too long', () => {
    expectBadResponse({ token: '' }, 'r.token', `r.token must be 1 to ${KRPC_LIMITS.maxTokenLength} bytes, got 0`);
  });

  test('interval and num: non-negative integers', () => {
    expectBadResponse({ interval: -1 }, 'r.interval', 'r.interval must be an integer >= 0, got -1');
    expectBadResponse({ num: '3' }, 'r.num', 'r.num must be an integer, got a byte string');
  });
});

describe('error messages', () => {
  test('a missing message text reads as ""; extra list items are ignored', () => {
    expect(parse(packet({ t: 'tx', y: 'e', e: [202] }))).toMatchObject({ e: { code: 202, message: '' } });
    expect(parse(packet({ t: 'tx', y: 'e', e: [201, 'oops', 'more', 4] }))).toMatchObject({ e: { code: 201, message: 'oops' } });
  });

  test('the text is UTF-8 for display; invalid bytes do not fail the message', () => {
    expect(parse(packet({ t: 'tx', y: 'e', e: [201, 'fichier non trouvé ✓'] }))).toMatchObject({ e: { message: 'fichier non trouvé ✓' } });
    expect(parse(packet({ t: 'tx', y: 'e', e: [201, new Uint8Array([0x61, 0xff, 0x62])] }))).toMatchObject({ e: { message: 'a\ufffdb' } });
  });

  test('e missing, not a list, or without an integer code', () => {
    expect(reject(packet({ t: 'tx', y: 'e' }))).toMatchObject({ code: 203, field: 'e', message: 'e is missing', y: 'e' });
    expect(reject(packet({ t: 'tx', y: 'e', e: 'oops' }))).toMatchObject({ field: 'e', message: 'e must be a list, got a byte string' });
    expect(reject(packet({ t: 'tx', y: 'e', e: [] }))).toMatchObject({ field: 'e[0]', message: 'e[0] must be an integer error code, got nothing' });
    expect(reject(packet({ t: 'tx', y: 'e', e: ['201', 'oops'] }))).toMatchObject({ field: 'e[0]' });
    expect(reject(packet({ t: 'tx', y: 'e', e: [201, 5] }))).toMatchObject({ field: 'e[1]', message: 'e[1] must be a byte string, got an integer' });
  });
});

describe('the envelope: t and y decide whether a fault can be answered', () => {
  test(`t of 1 to ${KRPC_LIMITS.maxTransactionIdLength} bytes is accepted and kept as sent`, () => {
    for (const length of [1, 2, 4, 8, KRPC_LIMITS.maxTransactionIdLength]) {
      const t = 'T'.repeat(length);
      expect(latin1(parse(packet({ t, y: 'r', r: { id: ID } })).t)).toBe(t);
    }
  });

  test('t missing, empty, too long or not a string: no t to echo, so never answered', () => {
    const max = KRPC_LIMITS.maxTransactionIdLength;
    const cases: Array<[Encodable | undefined, string]> = [
      [undefined, 't is missing'],
      ['', `t must be 1 to ${max} bytes, got 0`],
      ['T'.repeat(max + 1), `t must be 1 to ${max} bytes, got ${max + 1}`],
      [12, 't must be a byte string, got an integer'],
    ];
    for (const [t, message] of cases) {
      const error = reject(packet({ t, y: 'q', q: 'ping', a: { id: ID } }));
      expect(error).toMatchObject({ code: 203, field: 't', message, t: undefined, y: undefined });
    }
  });

  test('y missing or not one of q, r, e: t is known but y is not, so not answered as a query', () => {
    for (const [y, message] of [[undefined, 'y is missing'], ['x', 'y must be "q", "r" or "e"'], ['qq', 'y must be "q", "r" or "e"'], [1, 'y must be "q", "r" or "e"']] as const) {
      const error = reject(packet({ t: 'tx', y, q: 'ping', a: { id: ID } }));
      expect(error).toMatchObject({ code: 203, field: 'y', message, y: undefined });
      expect(latin1(error.t!)).toBe('tx');
    }
  });

  test('a message that is not a dictionary', () => {
    for (const value of ['le', 'li1ee', 'i42e', '4:ping']) {
      expect(reject(value)).toMatchObject({ code: 203, message: 'a KRPC message must be a dictionary', t: undefined, y: undefined });
    }
  });
});

describe('undecodable bytes: 203 with no t and no y, so the node never replies', () => {
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['not bencode', 'hello, world'],
    ['truncated', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q'],
    ['trailing bytes', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qeXX'],
    ['a duplicate key', 'd1:t2:aa1:t2:bb1:y1:re'],
    ['a string longer than the packet', 'd1:t99:aae'],
    ['a leading zero', 'd1:ti01ee'],
    ['nested deeper than maxDepth', `d1:t2:aa1:x${'l'.repeat(KRPC_LIMITS.maxDepth)}${'e'.repeat(KRPC_LIMITS.maxDepth)}e`],
    ['more values than maxItems', `d1:t2:aa1:xl${'i0e'.repeat(KRPC_LIMITS.maxItems)}ee`],
  ];
  for (const [name, wire] of cases) {
    test(name, () => {
      const error = reject(wire);
      expect(error.code).toBe(203);
      expect(error.t).toBeUndefined();
      expect(error.y).toBeUndefined();
    });
  }

  test('the limits still leave room for the largest real replies: 100 values, 8 nodes and 8 nodes6', () => {
    const prng = new Prng(7);
    const values = Array.from({ length: 100 }, () => prng.bytes(6));
    const wire = packet({
      ip: prng.bytes(6),
      r: { id: prng.bytes(20), nodes: prng.bytes(8 * 26), nodes6: prng.bytes(8 * 38), p: 6881, token: prng.bytes(4), values },
      t: prng.bytes(2),
      v: 'LT\x02\x00',
      y: 'r',
    });
    expect(asResponse(parse(wire)).r.values).toHaveLength(100);
  });
});

// ---------------------------------------------------------------------------------------------
// Round trips with random field values.
// ---------------------------------------------------------------------------------------------

/** Random, valid typed messages of every kind. Optional fields appear about half the time. */
class MessageFactory {
  constructor(private readonly prng: Prng) {}

  private coin(): boolean {
    return this.prng.int(2) === 1;
  }

  id(): Uint8Array {
    return this.prng.bytes(20);
  }

  t(): Uint8Array {
    return this.prng.bytes(1 + this.prng.int(KRPC_LIMITS.maxTransactionIdLength));
  }

  /** A peer of either family, formatted the way the compact decoder formats addresses. */
  peer(family: 4 | 6 = this.coin() ? 4 : 6): PeerInfo {
    return decodePeer(this.prng.bytes(family === 4 ? 6 : 18));
  }

  nodes(family: 4 | 6): NodeInfo[] {
    return Array.from({ length: this.prng.int(9) }, () => ({ id: this.id(), ...this.peer(family) }));
  }

  want(): Want[] {
    return this.prng.pick<Want[]>([['n4'], ['n6'], ['n4', 'n6'], ['n6', 'n4'], []]);
  }

  envelope(): Omit<Envelope, 't'> {
    const extra: Omit<Envelope, 't'> = {};
    if (this.coin()) extra.v = this.prng.bytes(this.prng.int(8));
    if (this.coin()) extra.ip = this.peer();
    if (this.coin()) extra.ro = true;
    return extra;
  }

  query(): Message {
    const id = this.id();
    switch (this.prng.int(5)) {
      case 0:
        return makeQuery(this.t(), 'ping', { id }, this.envelope());
      case 1: {
        const a: FindNodeArgs = { id, target: this.id() };
        if (this.coin()) a.want = this.want();
        return makeQuery(this.t(), 'find_node', a, this.envelope());
      }
      case 2: {
        const a: GetPeersArgs = { id, info_hash: this.id() };
        if (this.coin()) a.want = this.want();
        if (this.coin()) a.scrape = true;
        if (this.coin()) a.noseed = true;
        return makeQuery(this.t(), 'get_peers', a, this.envelope());
      }
      case 3: {
        const a: AnnouncePeerArgs = { id, info_hash: this.id(), port: this.prng.int(65536), token: this.prng.bytes(1 + this.prng.int(KRPC_LIMITS.maxTokenLength)) };
        if (this.coin()) a.implied_port = true;
        if (this.coin()) a.seed = true;
        return makeQuery(this.t(), 'announce_peer', a, this.envelope());
      }
      default: {
        const a: SampleInfohashesArgs = { id, target: this.id() };
        if (this.coin()) a.want = this.want();
        return makeQuery(this.t(), 'sample_infohashes', a, this.envelope());
      }
    }
  }

  response(): Message {
    const r: ResponseBody = { id: this.id() };
    if (this.coin()) r.nodes = this.nodes(4);
    if (this.coin()) r.nodes6 = this.nodes(6);
    if (this.coin()) r.values = Array.from({ length: this.prng.int(12) }, () => this.peer());
    if (this.coin()) r.token = this.prng.bytes(1 + this.prng.int(20));
    if (this.coin()) r.samples = Array.from({ length: this.prng.int(20) }, () => this.id());
    if (this.coin()) r.interval = this.prng.int(86_400);
    if (this.coin()) r.num = this.prng.int(1_000_000);
    if (this.coin()) {
      r.BFsd = this.prng.bytes(256);
      r.BFpe = this.prng.bytes(256);
    }
    return makeResponse(this.t(), r, this.envelope());
  }

  error(): Message {
    const text = Array.from({ length: this.prng.int(30) }, () => this.prng.pick(['a', 'Z', ' ', '9', 'é', '✓', '𝄞', '"'])).join('');
    return makeError(this.t(), this.prng.pick([201, 202, 203, 204, 0, -5, 99999]), text, this.envelope());
  }
}

describe('random messages of every kind survive encode -> decode -> encode', () => {
  const SEED = 20240601;
  const ROUNDS = 300;
  const kinds = ['query', 'response', 'error'] as const;

  for (const kind of kinds) {
    test(`${ROUNDS} ${kind} messages (seed ${SEED})`, () => {
      const factory = new MessageFactory(new Prng(SEED + kind.length));
      for (let round = 0; round < ROUNDS; round++) {
        const message = factory[kind]();
        const wire = encodeMessage(message);
        const result = decodeMessage(wire);
        if (!result.ok) throw new Error(`round ${round}: ${result.error.message}`);
        expect(result.message).toEqual(message);
        expect(encodeMessage(result.message)).toEqual(wire);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Never throwing.
// ---------------------------------------------------------------------------------------------

/** A random bencode value of any type, shallow. */
function randomValue(prng: Prng, depth = 0): BencodeValue {
  switch (depth > 2 ? prng.int(3) : prng.int(5)) {
    case 0:
      return prng.int(200_000) - 100_000;
    case 1:
      return prng.bytes(prng.pick([0, 1, 2, 6, 18, 19, 20, 21, 26, 38, 40, 256]));
    case 2:
      return 10n ** 20n;
    case 3:
      return Array.from({ length: prng.int(4) }, () => randomValue(prng, depth + 1));
    default: {
      const dict: Record<string, BencodeValue> = {};
      for (let i = prng.int(4); i > 0; i--) dict[prng.pick(['id', 'nodes', 'values', 'e', 'q', 'x'])] = randomValue(prng, depth + 1);
      return dict;
    }
  }
}

/** Every key a KRPC message may hold at some level, to hit the validators. */
const KNOWN_KEYS = ['t', 'y', 'q', 'a', 'r', 'e', 'v', 'ip', 'ro', 'id', 'target', 'info_hash', 'port', 'token', 'implied_port', 'seed',
  'want', 'scrape', 'noseed', 'nodes', 'nodes6', 'values', 'samples', 'interval', 'num', 'BFsd', 'BFpe'];

function expectSettled(result: ParseResult): void {
  if (!result.ok) expect(result.error).toBeInstanceOf(KrpcError);
}

describe('parseMessage and decodeMessage never throw', () => {
  test('valid messages with one field replaced by a random value of any type', () => {
    const prng = new Prng(99);
    const factory = new MessageFactory(prng);
    for (let round = 0; round < 2000; round++) {
      const value = decode(encodeMessage(round % 2 === 0 ? factory.query() : factory.response())) as Record<string, BencodeValue>;
      const key = prng.pick(KNOWN_KEYS);
      const target = prng.int(2) === 0 ? value : ((value.a ?? value.r) as Record<string, BencodeValue>);
      target[key] = randomValue(prng);
      expectSettled(parseMessage(value));
    }
  });

  test('encoded messages with random bytes flipped or cut short', () => {
    const prng = new Prng(1234);
    const factory = new MessageFactory(prng);
    for (let round = 0; round < 2000; round++) {
      const wire = encodeMessage(prng.pick([() => factory.query(), () => factory.response(), () => factory.error()])());
      const mangled = wire.slice(0, 1 + prng.int(wire.length));
      for (let flips = prng.int(4); flips > 0; flips--) mangled[prng.int(mangled.length)] = prng.int(256);
      expectSettled(decodeMessage(mangled));
    }
  });

  test('values that are not bencode results at all', () => {
    for (const value of [null, undefined, 'text', true, {}, [], new Map()] as unknown as BencodeValue[]) {
      expectSettled(parseMessage(value));
    }
  });
});
