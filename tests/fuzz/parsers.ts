/**
 * Fuzzing the parsers off the DHT's packet path: what trackers (BEP 15 over UDP, BEP 3/23/48 over
 * HTTP) and BitTorrent peers (BEP 3 wire, BEP 10 extension handshake, BEP 9 ut_metadata, BEP 3/52
 * info dictionaries) send us. Each parser is fed valid inputs mutated byte-wise, and random bytes,
 * and must either return or throw its own typed error (never a TypeError or RangeError, never hang).
 *
 * Used by tests/unit/fuzz-parsers.test.ts; pure (no socket, no file).
 */
import { performance } from 'node:perf_hooks';
import { BencodeError, encode, type Encodable } from '../../src/wire/bencode.js';
import { parseExtendedHandshake, encodeExtendedHandshake } from '../../src/peer/extension-protocol.js';
import { WireError, WireParser, encodeHandshake, encodePeerMessage } from '../../src/peer/peer-wire.js';
import { encodeInfoDict, parseInfoDict } from '../../src/peer/torrent-info.js';
import { MetadataError, encodeUtMetadata, parseUtMetadata } from '../../src/peer/ut-metadata.js';
import { parseAnnounce, parseScrape } from '../../src/tracker/http-tracker.js';
import { TrackerError } from '../../src/tracker/tracker-request.js';
import { UdpTrackerError, decodeReply } from '../../src/tracker/udp-tracker-wire.js';
import { Prng } from '../helpers/prng.js';
import { BYTE_MUTATIONS } from './generators.js';

/** One parser under test: valid inputs to start from, and the call. */
interface Target {
  name: string;
  /** The error classes this parser may throw: anything else is a bug. */
  typed: readonly (abstract new (...args: never[]) => Error)[];
  valid(rng: Prng): Uint8Array;
  parse(bytes: Uint8Array): unknown;
}

const INFO_HASH = new Uint8Array(20).fill(7);

function udpReply(action: number, transactionId: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, action);
  view.setUint32(4, transactionId);
  out.set(body, 8);
  return out;
}

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((v, i) => new DataView(out.buffer).setUint32(i * 4, v >>> 0));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function v2FileTree(rng: Prng, files: number): Encodable {
  const tree: Record<string, Encodable> = {};
  for (let i = 0; i < files; i++) tree[`f${i}`] = rng.next() < 0.3 ? { [`g${i}`]: { '': { length: 1 + rng.int(1e6), 'pieces root': rng.bytes(32) } } } : { '': { length: 1 + rng.int(1e6), 'pieces root': rng.bytes(32) } };
  return tree;
}

export const TARGETS: readonly Target[] = [
  {
    name: 'BEP 15 UDP tracker reply',
    typed: [UdpTrackerError],
    valid: (rng) => rng.pick([
      () => udpReply(0, rng.int(2 ** 32), rng.bytes(8)),
      () => udpReply(1, rng.int(2 ** 32), concat(u32s(1800, rng.int(50), rng.int(50)), rng.bytes(6 * rng.int(20)))),
      () => udpReply(2, rng.int(2 ** 32), u32s(rng.int(100), rng.int(100), rng.int(100))),
      () => udpReply(3, rng.int(2 ** 32), new TextEncoder().encode('torrent not registered')),
    ])(),
    parse: (bytes) => decodeReply(bytes, 4),
  },
  {
    name: 'BEP 3/23 HTTP announce reply',
    typed: [TrackerError],
    valid: (rng) => encode({
      complete: rng.int(100), incomplete: rng.int(100), interval: 1800,
      peers: rng.next() < 0.7 ? rng.bytes(6 * rng.int(20)) : [{ ip: '10.0.0.1', port: 6881, 'peer id': rng.bytes(20) }],
      ...(rng.next() < 0.3 ? { peers6: rng.bytes(18 * rng.int(5)) } : {}),
    }),
    parse: (bytes) => parseAnnounce(bytes),
  },
  {
    name: 'BEP 48 HTTP scrape reply',
    typed: [TrackerError],
    valid: (rng) => encode({ files: new Map([[INFO_HASH, { complete: rng.int(9), incomplete: rng.int(9), downloaded: rng.int(9) }]]) }),
    parse: (bytes) => parseScrape(bytes, INFO_HASH),
  },
  {
    name: 'BEP 3 peer wire stream',
    typed: [WireError],
    valid: (rng) => concat(
      encodeHandshake({ reserved: new Uint8Array(8), infoHash: INFO_HASH, peerId: rng.bytes(20) }),
      encodePeerMessage({ type: 'bitfield', bits: rng.bytes(1 + rng.int(8)) }),
      encodePeerMessage({ type: 'extended', id: rng.int(4), payload: rng.bytes(rng.int(40)) }),
      encodePeerMessage({ type: 'have', piece: rng.int(1000) }),
      encodePeerMessage({ type: 'hashes', request: { piecesRoot: rng.bytes(32), baseLayer: rng.int(3), index: 0, length: 2, proofLayers: rng.int(4) }, hashes: rng.bytes(32 * (2 + rng.int(3))) }),
    ),
    parse: (bytes) => {
      const parser = new WireParser({ maxMessageBytes: 1 << 16 });
      for (let at = 0; at < bytes.length; at += 7) parser.push(bytes.subarray(at, at + 7));
    },
  },
  {
    name: 'BEP 10 extension handshake',
    typed: [BencodeError],
    valid: (rng) => encodeExtendedHandshake({ m: new Map([['ut_metadata', 1 + rng.int(9)], ['ut_pex', 2]]), metadataSize: rng.int(1e6), client: 'x', port: 6881, reqq: 250 }),
    parse: (bytes) => parseExtendedHandshake(bytes),
  },
  {
    name: 'BEP 9 ut_metadata message',
    typed: [MetadataError],
    valid: (rng) => rng.next() < 0.5
      ? encodeUtMetadata({ type: 'data', piece: rng.int(4), totalSize: 40_000, data: rng.bytes(rng.int(200)) })
      : encodeUtMetadata({ type: rng.next() < 0.5 ? 'request' : 'reject', piece: rng.int(4) }),
    parse: (bytes) => parseUtMetadata(bytes),
  },
  {
    name: 'BEP 3/52 info dictionary',
    typed: [MetadataError],
    valid: (rng) => rng.pick([
      () => encodeInfoDict({ name: 'x', pieceLength: 16_384, pieces: rng.bytes(20 * (1 + rng.int(5))), length: 1 + rng.int(80_000) }),
      () => encodeInfoDict({ name: 'd', pieceLength: 16_384, pieces: rng.bytes(40), files: [{ path: ['a', 'b'], length: 5 }, { path: ['c'], length: 9 }] }),
      () => encode({ 'file tree': v2FileTree(rng, 1 + rng.int(4)), 'meta version': 2, name: 'v2', 'piece length': 16_384 }),
      () => encode({ 'file tree': { x: { '': { length: 20, 'pieces root': rng.bytes(32) } } }, length: 20, 'meta version': 2, name: 'x', 'piece length': 16_384, pieces: rng.bytes(20) }),
    ])(),
    parse: (bytes) => parseInfoDict(bytes),
  },
];

export interface ParserFuzzReport {
  iterations: number;
  /** Per parser: inputs it returned on, and inputs it refused with its typed error. */
  outcomes: Record<string, { parsed: number; refused: number }>;
  failures: { parser: string; problem: string; input: string }[];
  slowestMs: number;
}

/** Feed `iterations` inputs to each parser: a third mutated valid ones, a tenth random bytes, the rest valid or twice mutated. */
export function fuzzParsers(options: { iterations: number; seed: number; slowMs?: number }): ParserFuzzReport {
  const rng = new Prng(options.seed);
  const report: ParserFuzzReport = { iterations: options.iterations, outcomes: {}, failures: [], slowestMs: 0 };
  for (const target of TARGETS) {
    const outcome = (report.outcomes[target.name] = { parsed: 0, refused: 0 });
    for (let i = 0; i < options.iterations; i++) {
      const input = makeInput(rng, target);
      const started = performance.now();
      try {
        target.parse(input);
        outcome.parsed++;
      } catch (error) {
        if (target.typed.some((type) => error instanceof type)) outcome.refused++;
        else if (report.failures.length < 20) report.failures.push({ parser: target.name, problem: String(error), input: Buffer.from(input.subarray(0, 512)).toString('hex') });
      }
      const ms = performance.now() - started;
      report.slowestMs = Math.max(report.slowestMs, ms);
      if (ms > (options.slowMs ?? 250) && report.failures.length < 20) {
        report.failures.push({ parser: target.name, problem: `took ${ms.toFixed(0)} ms`, input: Buffer.from(input.subarray(0, 512)).toString('hex') });
      }
    }
  }
  return report;
}

function makeInput(rng: Prng, target: Target): Uint8Array {
  const roll = rng.next();
  if (roll < 0.1) return rng.bytes(rng.int(300));
  let bytes = target.valid(rng);
  const rounds = roll < 0.3 ? 0 : roll < 0.8 ? 1 : 2;
  for (let r = 0; r < rounds; r++) bytes = rng.pick(BYTE_MUTATIONS).mutate(rng, bytes);
  return bytes;
}
