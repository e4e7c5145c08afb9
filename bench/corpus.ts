/**
 * What the bencode benchmark encodes and decodes: the messages a DHT node really handles, and one
 * torrent-like dictionary of about 20 KB (the size class of a .torrent's info dict, as fetched by
 * BEP 9). Byte strings are random but seeded, so every run measures the same bytes.
 *
 * Values are plain objects whose byte strings are Uint8Arrays and whose text fields (`y`, `q`, the
 * error message) are JS strings: the shape every one of the compared libraries accepts, and the way
 * KRPC code calls them.
 */

export type Value = number | string | Uint8Array | Value[] | { [key: string]: Value };

/** xorshift32: a tiny deterministic byte source (benchmark data, not cryptography). */
function bytesFrom(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

/**
 * One of each message kind a node sends or receives in a day's work (BEP 5 queries and replies,
 * BEP 51 sample_infohashes, a KRPC error), with the envelope fields real clients add: the client
 * version `v` and, on replies, BEP 42's `ip`.
 */
export function krpcCorpus(): Value[] {
  const bytes = bytesFrom(0x5eed);
  const t = (): Uint8Array => bytes(2);
  const id = (): Uint8Array => bytes(20);
  const v = Uint8Array.from([0x4c, 0x54, 0x01, 0x02]); // "LT" 1.2, as libtorrent sends it
  const ip = (): Uint8Array => bytes(6);
  const nodes8 = (): Uint8Array => bytes(8 * 26);
  const values = (n: number): Uint8Array[] => Array.from({ length: n }, () => bytes(6));
  const query = (q: string, a: Record<string, Value>): Value => ({ t: t(), y: 'q', q, a, v });
  const reply = (r: Record<string, Value>): Value => ({ t: t(), y: 'r', r, ip: ip(), v });
  return [
    query('ping', { id: id() }),
    reply({ id: id() }),
    query('find_node', { id: id(), target: id() }),
    reply({ id: id(), nodes: nodes8() }),
    query('get_peers', { id: id(), info_hash: id() }),
    reply({ id: id(), token: bytes(8), nodes: nodes8() }),
    reply({ id: id(), token: bytes(8), values: values(25) }),
    reply({ id: id(), token: bytes(8), nodes: nodes8(), values: values(100) }),
    query('announce_peer', { id: id(), implied_port: 1, info_hash: id(), port: 51413, token: bytes(8) }),
    reply({ id: id() }),
    query('sample_infohashes', { id: id(), target: id() }),
    reply({ id: id(), interval: 21600, nodes: nodes8(), num: 3185, samples: bytes(20 * 20) }),
    { t: t(), y: 'e', e: [203, 'invalid token'], v },
  ];
}

/** A torrent file's dictionary: tracker list, 40 files, and 875 piece hashes; about 20 KB encoded. */
export function torrentDict(): Value {
  const bytes = bytesFrom(0x7022e27);
  const files: Value[] = Array.from({ length: 40 }, (_, i) => ({
    length: 1_000_000 + i * 7_919,
    path: ['Season 1', `episode-${String(i + 1).padStart(2, '0')}.mkv`],
  }));
  return {
    announce: 'udp://tracker.example.org:6969/announce',
    'announce-list': [['udp://tracker.example.org:6969/announce'], ['http://tracker.example.net/announce']],
    comment: 'a torrent-like dictionary for benchmarks',
    'created by': 'dht-scrape bench',
    'creation date': 1_700_000_000,
    info: {
      files,
      name: 'Example Series',
      'piece length': 262_144,
      pieces: bytes(875 * 20),
    },
  };
}

/** The same value with every Uint8Array as a Buffer: bencode 2.x's native input (as bittorrent-dht hands it). */
export function withBuffers(value: Value): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(withBuffers);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = withBuffers(v);
    return out;
  }
  return value;
}
