/**
 * What a user may type to name a torrent: a 40-char hex or 32-char base32 info-hash, or a magnet URI
 * (BEP 9, "magnet URI format"). The info-hash is all the DHT needs: it is the key get_peers looks up
 * (BEP 5), in the same 160-bit space as node IDs.
 */
import { ID_LENGTH, type NodeId } from './id.js';

export interface TorrentTarget {
  /**
   * The key the DHT is asked for: the v1 info-hash (SHA-1 of the info dictionary), or for a
   * v2-only torrent the first 20 bytes of its SHA-256 info-hash (BEP 52, "DHT").
   */
  infoHash: NodeId;
  /** BEP 52: the full 32-byte SHA-256 info-hash of a v2 or hybrid torrent, from `xt=urn:btmh:1220...`. */
  infoHashV2?: Uint8Array;
  /** The magnet's `dn` (display name), when given. */
  name?: string;
  /** The magnet's trackers (`tr=`), in order, each once. */
  trackers?: string[];
}

export class TargetError extends Error {
  constructor(message: string) { super(message); this.name = 'TargetError'; }
}

const EXPECTED =
  'expected a 40-character hex info-hash, a 32-character base32 info-hash, or a magnet:?xt=urn:btih:<info-hash> link';

/**
 * Turn user input into a target. Surrounding whitespace is ignored; anything unrecognised throws a
 * TargetError whose one-line message says what was expected.
 */
export function parseTarget(input: string): TorrentTarget {
  const text = String(input).trim();
  if (startsWithIgnoringCase(text, 'magnet:')) return parseMagnet(text);
  const infoHash = decodeInfoHash(text);
  if (infoHash === undefined) throw new TargetError(`${EXPECTED}, got ${quote(text)}`);
  return { infoHash };
}

/**
 * A bare info-hash in either encoding BEP 9 names: 40 hex digits, or (for links in the wild) 32
 * base32 characters (RFC 4648). Either case. Returns undefined for anything else.
 */
export function decodeInfoHash(text: string): NodeId | undefined {
  if (text.length === ID_LENGTH * 2) return decodeHex(text);
  if (text.length === (ID_LENGTH * 8) / 5) return decodeBase32(text);
  return undefined;
}

/** Parameter names that carry an exact topic: `xt`, and the numbered `xt.1`, `xt.2`, ... form. */
const EXACT_TOPIC = /^xt(\.\d+)?$/;
const BTIH = 'urn:btih:';
const BTMH = 'urn:btmh:';

/**
 * magnet:?xt=urn:btih:<info-hash>&dn=<name>&tr=... Parameters may come in any order; unknown ones
 * (x.pe, ...) are ignored. With several xt, the first urn:btih and the first urn:btmh win. A v2
 * magnet (BEP 52) names a multihash, `1220` + 64 hex digits (SHA-256, 32 bytes); without a v1
 * btih the DHT is asked for its first 20 bytes, as BEP 52 says v2 torrents announce.
 */
function parseMagnet(uri: string): TorrentTarget {
  const hashAt = uri.indexOf('#');
  const withoutFragment = hashAt === -1 ? uri : uri.slice(0, hashAt);
  const query = withoutFragment.slice('magnet:'.length);
  if (!query.startsWith('?')) {
    throw new TargetError(`a magnet link starts with "magnet:?xt=urn:btih:", got ${quote(uri)}`);
  }

  let infoHash: NodeId | undefined;
  let infoHashV2: Uint8Array | undefined;
  let name: string | undefined;
  const trackers: string[] = [];
  for (const parameter of query.slice(1).split('&')) {
    const equals = parameter.indexOf('=');
    if (equals === -1) continue; // a bare word carries nothing we use
    // Parameter names are matched in any case: `MAGNET:?XT=URN:BTIH:...` is the same link.
    const key = parameter.slice(0, equals).toLowerCase();
    const rawValue = parameter.slice(equals + 1);
    if (EXACT_TOPIC.test(key)) {
      const topic = formDecode(key, rawValue);
      if (startsWithIgnoringCase(topic, BTIH)) {
        infoHash ??= btihInfoHash(topic.slice(BTIH.length));
      } else if (startsWithIgnoringCase(topic, BTMH)) {
        infoHashV2 ??= btmhInfoHash(topic.slice(BTMH.length));
      }
    } else if (key === 'dn' && name === undefined) {
      name = formDecode(key, rawValue);
    } else if (key === 'tr') {
      const tracker = formDecode(key, rawValue);
      if (tracker !== '' && !trackers.includes(tracker)) trackers.push(tracker);
    }
  }

  infoHash ??= infoHashV2?.slice(0, ID_LENGTH);
  if (infoHash === undefined) throw new TargetError(`magnet link has no xt=urn:btih:<info-hash> parameter: ${quote(uri)}`);
  const target: TorrentTarget = { infoHash };
  if (infoHashV2 !== undefined) target.infoHashV2 = infoHashV2;
  // An empty dn names nothing; leave the property out rather than set it to "".
  if (name) target.name = name;
  if (trackers.length > 0) target.trackers = trackers;
  return target;
}

/** BEP 52's v2 info-hash as a multihash: 0x12 (SHA-256), 0x20 (32 bytes), then the hash, in hex. */
const SHA256_MULTIHASH = '1220';
const SHA256_BYTES = 32;

function btmhInfoHash(text: string): Uint8Array {
  const hash = text.length === (2 + SHA256_BYTES) * 2 && text.slice(0, 4) === SHA256_MULTIHASH ? decodeHex(text.slice(4)) : undefined;
  if (hash === undefined) {
    throw new TargetError(`magnet xt=urn:btmh: expects 1220 and a 64-character hex SHA-256 info-hash, got ${quote(text)}`);
  }
  return hash;
}

function btihInfoHash(text: string): NodeId {
  const infoHash = decodeInfoHash(text);
  if (infoHash === undefined) {
    throw new TargetError(
      `magnet xt=urn:btih: expects a 40-character hex or 32-character base32 info-hash, got ${quote(text)}`,
    );
  }
  return infoHash;
}

/** URL query decoding: `+` is a space, %XX is a UTF-8 byte. Bad escapes are the user's input error. */
function formDecode(key: string, raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    throw new TargetError(`magnet parameter ${key} has malformed %-encoding: ${quote(raw)}`);
  }
}

function decodeHex(text: string): NodeId | undefined {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = hexDigit(text.charCodeAt(2 * i));
    const low = hexDigit(text.charCodeAt(2 * i + 1));
    if (high < 0 || low < 0) return undefined;
    out[i] = (high << 4) | low;
  }
  return out;
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  const lower = code | 0x20; // ASCII letters: setting bit 5 lower-cases them
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x57; // a-f
  return -1;
}

/**
 * RFC 4648 section 6 base32 (alphabet A-Z then 2-7), no padding: 32 characters x 5 bits = 160 bits,
 * exactly one info-hash. Bits are fed in 5 at a time and taken out 8 at a time.
 */
function decodeBase32(text: string): NodeId | undefined {
  const out = new Uint8Array((text.length * 5) / 8);
  let buffer = 0; // pending bits, at most 12 of them
  let bits = 0;
  let written = 0;
  for (let i = 0; i < text.length; i++) {
    const value = base32Digit(text.charCodeAt(i));
    if (value < 0) return undefined;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = buffer >> bits;
      buffer &= (1 << bits) - 1;
    }
  }
  return out;
}

function base32Digit(code: number): number {
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x7a) return lower - 0x61; // a-z (A-Z) -> 0..25
  if (code >= 0x32 && code <= 0x37) return code - 0x32 + 26; // 2-7 -> 26..31
  return -1;
}

function startsWithIgnoringCase(text: string, prefix: string): boolean {
  return text.length >= prefix.length && text.slice(0, prefix.length).toLowerCase() === prefix;
}

/** Input echoed in an error: quoted, escaped onto one line, and cut short if long. */
function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}
