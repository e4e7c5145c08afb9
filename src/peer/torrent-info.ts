/**
 * A torrent's info dictionary and its .torrent file (BEP 3, "metainfo files"): reading a verified
 * info dictionary into names and sizes, writing one for synthetic torrents, and wrapping the exact
 * bytes BEP 9 delivered in a .torrent. Pure: no socket, no file.
 *
 * BEP 52 (v2) info dictionaries describe files as a `file tree` instead of `files`/`length`, with
 * `meta version` 2 and no `pieces`; a hybrid torrent carries both descriptions of the same files.
 */
import { decodeDict, encode, isDict, type BencodeDict, type BencodeValue, type Encodable } from '../wire/bencode.js';
import { keyText, peerText, utf8 } from './peer-text.js';
import type { MerkleFile, PieceLayer } from './piece-layers.js';
import { MetadataError, errorText } from './ut-metadata.js';

export interface TorrentFile {
  /** Path from the download directory: for a multi-file torrent, the torrent's name comes first. */
  path: string[];
  length: number;
}

export interface TorrentInfo {
  name: string;
  /** Sum of the file lengths, BEP 47 padding files left out. */
  totalSize: number;
  files: TorrentFile[];
  pieceLength: number;
  pieceCount: number;
  /** BEP 27: peers must come only from the tracker (a DHT user may want to know). */
  private: boolean;
  /** BEP 52: a v1 info dictionary, a v2 one (`meta version` 2, `file tree`), or both in one (hybrid). */
  version: 'v1' | 'v2' | 'hybrid';
  /** BEP 52: each file of the `file tree`, in order, with its `pieces root` (none for v1). */
  merkleFiles: MerkleFile[];
}

/**
 * Read a (verified) info dictionary. Names and paths are UTF-8 with invalid bytes replaced, and
 * control characters replaced by U+FFFD so that printing a hostile name cannot drive a terminal.
 * BEP 47 padding files (attr containing "p") are left out of `files` and `totalSize`.
 */
export function parseInfoDict(bytes: Uint8Array): TorrentInfo {
  let dict: BencodeDict;
  try {
    dict = decodeDict(bytes, 'info dictionary');
  } catch (error) {
    throw new MetadataError('bad-info', errorText(error));
  }
  const name = text(dict['name.utf-8']) ?? text(dict.name);
  if (name === undefined) throw new MetadataError('bad-info', 'the info dictionary has no name');
  const pieceLength = safeInteger(dict['piece length'], 'piece length');
  const v2 = dict['meta version'] === 2;
  if (dict['meta version'] !== undefined && !v2) throw new MetadataError('bad-info', 'meta version must be 2 (BEP 52)');
  const v1 = dict.pieces !== undefined || !v2;
  const tree = v2 ? v2Files(dict, name, pieceLength) : undefined; // a hybrid's file tree must be readable too
  const described = v1 ? v1Files(dict, name) : tree!;
  const totalSize = described.files.reduce((sum, f) => sum + f.length, 0);
  if (!Number.isSafeInteger(totalSize)) throw new MetadataError('bad-info', 'the total size is too large');
  const version = v1 && v2 ? 'hybrid' : v2 ? 'v2' : 'v1';
  return {
    name, totalSize, files: described.files, pieceLength, pieceCount: described.pieceCount, private: dict.private === 1, version,
    merkleFiles: tree?.merkle ?? [],
  };
}

interface DescribedFiles {
  files: TorrentFile[];
  pieceCount: number;
  merkle?: MerkleFile[];
}

/** BEP 3: `pieces` (20-byte SHA-1s) and either `length` (one file) or `files` (a directory). */
function v1Files(dict: BencodeDict, name: string): DescribedFiles {
  const pieces = dict.pieces;
  if (!(pieces instanceof Uint8Array) || pieces.length % 20 !== 0) {
    throw new MetadataError('bad-info', 'pieces must be a string of 20-byte SHA-1 hashes');
  }
  let files: TorrentFile[];
  if (dict.files !== undefined) {
    if (!Array.isArray(dict.files)) throw new MetadataError('bad-info', 'files must be a list');
    files = dict.files.flatMap((entry, i) => parseFileEntry(entry, i, name));
  } else {
    files = [{ path: [name], length: safeInteger(dict.length, 'length') }];
  }
  return { files, pieceCount: pieces.length / 20 };
}

/**
 * BEP 52: `file tree` maps each path segment to a directory (a dict of children) or, under the
 * key "", to a file's `length` and `pieces root` (the root of its SHA-256 merkle tree, absent for
 * an empty file). Pieces never span files in v2, so each file has ceil(length / piece length).
 * A tree of one file at the top is a single-file torrent; otherwise paths sit under `name`.
 */
function v2Files(dict: BencodeDict, name: string, pieceLength: number): DescribedFiles {
  const tree = dict['file tree'];
  if (!isDict(tree)) throw new MetadataError('bad-info', 'a v2 info dictionary needs a file tree (BEP 52)');
  if (pieceLength < 16384 || (pieceLength & (pieceLength - 1)) !== 0) {
    throw new MetadataError('bad-info', 'a v2 piece length must be a power of two of at least 16 KiB (BEP 52)');
  }
  const found: (TorrentFile & MerkleFile)[] = [];
  walkFileTree(tree, [], found);
  const single = found.length === 1 && found[0]!.path.length === 1;
  const files = found.map((f) => ({ path: single ? f.path : [name, ...f.path], length: f.length }));
  const pieceCount = files.reduce((sum, f) => sum + Math.ceil(f.length / pieceLength), 0);
  const merkle = found.map((f): MerkleFile => (f.piecesRoot === undefined ? { length: f.length } : { length: f.length, piecesRoot: f.piecesRoot }));
  return { files, pieceCount, merkle };
}

function walkFileTree(node: BencodeDict, path: string[], out: (TorrentFile & MerkleFile)[]): void {
  for (const [key, child] of Object.entries(node)) {
    const where = [...path, key].join('/');
    if (!isDict(child)) throw new MetadataError('bad-info', `file tree entry ${keyText(where)} is not a dictionary`);
    if (key === '') {
      if (path.length === 0) throw new MetadataError('bad-info', 'the file tree has a file without a name');
      const length = safeInteger(child.length, `length of ${keyText(path.join('/'))}`);
      const root = child['pieces root'];
      if (length > 0 && !(root instanceof Uint8Array && root.length === 32)) {
        throw new MetadataError('bad-info', `pieces root of ${keyText(path.join('/'))} must be 32 bytes`);
      }
      out.push({ path: path.map(keyText), length, ...(root instanceof Uint8Array && length > 0 ? { piecesRoot: root } : {}) });
    } else {
      walkFileTree(child, [...path, key], out);
    }
  }
}

function parseFileEntry(entry: BencodeValue, index: number, name: string): TorrentFile[] {
  if (!isDict(entry)) throw new MetadataError('bad-info', `files[${index}] is not a dictionary`);
  const attr = entry.attr instanceof Uint8Array ? utf8(entry.attr) : '';
  const length = safeInteger(entry.length, `files[${index}].length`);
  const rawPath = entry['path.utf-8'] ?? entry.path;
  if (!Array.isArray(rawPath) || rawPath.length === 0) throw new MetadataError('bad-info', `files[${index}].path is not a list`);
  const path = rawPath.map((segment) => {
    const s = text(segment);
    if (s === undefined) throw new MetadataError('bad-info', `files[${index}].path holds a non-string`);
    return s;
  });
  return attr.includes('p') ? [] : [{ path: [name, ...path], length }];
}

/** What to write in a .torrent: the info dictionary's exact bytes (re-encoding could change the hash). */
export interface TorrentFileOptions {
  /** Tracker URLs; the first is `announce`, all go in `announce-list` (BEP 12). */
  trackers?: readonly string[];
  createdBy?: string;
  /** Seconds since the epoch. */
  creationDate?: number;
  /** BEP 52: the piece layer of each v2 file larger than one piece, written as `piece layers`. */
  pieceLayers?: readonly PieceLayer[];
}

/**
 * A .torrent file (BEP 3, "metainfo files") around verified info bytes. `info` is spliced in as is:
 * its SHA-1 (or SHA-256) is the info-hash, so it must not be decoded and re-encoded. Keys sort as
 * raw bytes: "announce", "announce-list", "created by", "creation date", then "info", then BEP 52's
 * "piece layers"; so the dictionary is written as those before, "info", those after, and "e".
 */
export function encodeTorrentFile(info: Uint8Array, options: TorrentFileOptions = {}): Uint8Array {
  const trackers = options.trackers ?? [];
  const head: { [key: string]: Encodable | undefined } = {
    announce: trackers[0],
    'announce-list': trackers.length > 0 ? trackers.map((t) => [t]) : undefined,
    'created by': options.createdBy,
    'creation date': options.creationDate,
  };
  const layers = options.pieceLayers ?? [];
  const tail = layers.length === 0 ? new Uint8Array([0x64, 0x65]) // "de": nothing after info
    : encode({ 'piece layers': new Map(layers.map((l) => [l.piecesRoot, l.hashes])) });
  const encodedHead = encode(head);
  const infoKey = new TextEncoder().encode('4:info');
  return concatBytes(encodedHead.subarray(0, encodedHead.length - 1), infoKey, info, tail.subarray(1));
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

export interface InfoDictSpec {
  name: string;
  pieceLength: number;
  /** Concatenated 20-byte piece hashes. */
  pieces: Uint8Array;
  /** One file: its length. Several: their paths (inside the torrent's directory) and lengths. */
  length?: number;
  files?: readonly { path: readonly string[]; length: number }[];
  private?: boolean;
}

/** Build an info dictionary (the inverse of parseInfoDict): for synthetic torrents and tests. */
export function encodeInfoDict(spec: InfoDictSpec): Uint8Array {
  if ((spec.length === undefined) === (spec.files === undefined)) throw new TypeError('give either length or files');
  return encode({
    name: spec.name,
    'piece length': spec.pieceLength,
    pieces: spec.pieces,
    length: spec.length,
    files: spec.files?.map((f) => ({ length: f.length, path: [...f.path] })),
    private: spec.private === true ? 1 : undefined,
  });
}

function safeInteger(value: BencodeValue | undefined, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MetadataError('bad-info', `${name} must be a non-negative integer`);
  }
  return value;
}

function text(value: BencodeValue | undefined): string | undefined {
  return value instanceof Uint8Array ? peerText(value) : undefined;
}
