/**
 * The test side of lt_fixture.py: find a Python that can import libtorrent, start the fixture,
 * read its JSON-line events, send it commands, and make sure it is gone when the tests end.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LineFixture, type FixtureEvent } from './line-fixture.js';

export type { FixtureEvent };

const FIXTURE = fileURLToPath(new URL('./lt_fixture.py', import.meta.url));

export interface LibtorrentPython {
  python: string;
  version: string;
}

/**
 * Debian's python3-libtorrent lives in /usr/lib/python3/dist-packages, which only /usr/bin/python3
 * sees; a python3 earlier on PATH (pyenv, a venv) usually cannot import it. So /usr/bin/python3 is
 * tried first, then whatever `python3` is; LIBTORRENT_PYTHON overrides both.
 */
export function findLibtorrentPython(): LibtorrentPython | { missing: string } {
  const override = process.env.LIBTORRENT_PYTHON;
  const candidates = override !== undefined && override !== '' ? [override] : ['/usr/bin/python3', 'python3'];
  const tried: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import libtorrent; print(libtorrent.__version__)'], { encoding: 'utf8', timeout: 15_000 });
    const version = probe.stdout?.trim() ?? '';
    if (probe.status === 0 && version !== '') return { python, version };
    const why = probe.error?.message ?? probe.stderr?.trim().split('\n').pop() ?? `exit ${probe.status}`;
    tried.push(`${python}: ${why}`);
  }
  return { missing: tried.join('; ') };
}

export interface LtSession {
  index: number;
  address: string;
  port: number;
  node_id: string;
}

/** The seeded torrent as libtorrent built it. */
export interface LtTorrent {
  /** libtorrent's name for the torrent: for a v2 torrent of one file, that file's name. */
  name: string;
  /** The info dictionary's `name` (BEP 52 calls it a display name, purely advisory). */
  info_name: string;
  /** BEP 52 `piece layers` of the .torrent libtorrent made, pieces root -> layer hashes, in hex. */
  piece_layers: Record<string, string>;
  total_size: number;
  piece_length: number;
  pieces: number;
  /** Length of the bencoded info dictionary (what BEP 9 transfers). */
  metadata_size: number;
  /** Paths from the download directory, the torrent's name first, '/'-separated. */
  files: { path: string; size: number }[];
}

/** A session holding the seeded torrent, as libtorrent reports itself when `ready` is sent. */
export interface LtHolder {
  session: number;
  address: string;
  pieces: number;
  seed: boolean;
  state: string;
}

export interface ReadyEvent {
  event: 'ready';
  t: number;
  version: string;
  python: string;
  /** The 20-byte DHT key in hex: the v1 info-hash, or for a v2-only torrent the SHA-256 cut to 20 bytes. */
  infohash: string;
  /** BEP 52: the whole SHA-256 info-hash (64 hex digits) of a v2 or hybrid torrent, else null. */
  infohash_v2: string | null;
  torrent_version: TorrentVersion;
  seeder: number;
  sessions: LtSession[];
  torrent: LtTorrent;
  /** The seeder (session 0), then the leechers (sessions 1..leechers). */
  swarm: LtHolder[];
}

export type FixtureCommand =
  | { cmd: 'get_peers'; session: number; infohash: string }
  | { cmd: 'announce'; session: number; infohash: string }
  | { cmd: 'add_node'; session: number; address: string; port: number }
  | { cmd: 'live_nodes'; session: number }
  | { cmd: 'sample'; session: number; address: string; port: number; target?: string }
  /** BEP 44, values and keys in hex: `value` bencoded; `seed` the 32-byte ed25519 seed; `data` a string value. */
  | { cmd: 'put_immutable'; session: number; value: string }
  | { cmd: 'get_immutable'; session: number; target: string }
  | { cmd: 'put_mutable'; session: number; seed: string; public_key: string; data: string; salt?: string }
  | { cmd: 'get_mutable'; session: number; public_key: string; salt?: string }
  | { cmd: 'quit' };

/** The seeded torrent's kind (BEP 52): v1 only, v2 only, or hybrid (both hashes). */
export type TorrentVersion = 'v1' | 'v2' | 'hybrid';

export interface FixtureOptions {
  sessions?: number;
  /** Session K listens on 127.0.(subnet+K).1. */
  subnet?: number;
  /** The fixture exits by itself after this many seconds. */
  ttlSeconds?: number;
  /** Sessions 1..leechers hold part of the torrent and announce as downloaders. Default 0. */
  leechers?: number;
  /** Default v1. */
  torrentVersion?: TorrentVersion;
  /** Size of the seeded torrent's one file (16 KiB pieces). Default 64 KiB. */
  payloadBytes?: number;
  verbose?: boolean;
}

export class LibtorrentFixture extends LineFixture<FixtureCommand> {
  private constructor(child: ChildProcessWithoutNullStreams) {
    // The chatty incoming get_peers events stay out of failure messages.
    super(child, (e) => e.event === 'incoming_get_peers');
  }

  static async start(python: string, options: FixtureOptions = {}): Promise<{ fixture: LibtorrentFixture; ready: ReadyEvent }> {
    const args = [
      '-u', FIXTURE,
      '--sessions', String(options.sessions ?? 3),
      '--subnet', String(options.subnet ?? 60),
      '--ttl', String(options.ttlSeconds ?? 120),
    ];
    if (options.leechers !== undefined) args.push('--leechers', String(options.leechers));
    if (options.torrentVersion !== undefined) args.push('--torrent-version', options.torrentVersion);
    if (options.payloadBytes !== undefined) args.push('--payload-bytes', String(options.payloadBytes));
    if (options.verbose === true) args.push('--verbose');
    const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const fixture = new LibtorrentFixture(child);
    const ready = await fixture.waitFor((e) => e.event === 'ready' || e.event === 'fatal', 25_000, 'the fixture to be ready');
    if (ready.event !== 'ready') {
      await fixture.close();
      throw new Error(`libtorrent fixture failed: ${JSON.stringify(ready)}\n${fixture.errors}`);
    }
    return { fixture, ready: ready as unknown as ReadyEvent };
  }
}
