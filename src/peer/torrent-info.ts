/**
 * A torrent's info dictionary and its .torrent file (BEP 3, "metainfo files"): reading a verified
 * info dictionary into names and sizes, writing one for synthetic torrents, and wrapping the exact
 * bytes BEP 9 delivered in a .torrent. Pure: no socket, no file.
 */
import { decodeDict, encode, isDict, type BencodeDict, type BencodeValue, type Encodable } from '../wire/bencode.js';
import { peerText, utf8 } from './peer-text.js';
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
  const totalSize = files.reduce((sum, f) => sum + f.length, 0);
  if (!Number.isSafeInteger(totalSize)) throw new MetadataError('bad-info', 'the total size is too large');
  return { name, totalSize, files, pieceLength, pieceCount: pieces.length / 20, private: dict.private === 1 };
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
}

/**
 * A .torrent file (BEP 3, "metainfo files") around verified info bytes. `info` is spliced in as is:
 * its SHA-1 is the info-hash, so it must not be decoded and re-encoded. Every other key sorts before
 * "info" ("announce", "announce-list", "created by", "creation date"), so the dictionary is
 * written as those keys, then "info", then the closing "e".
 */
export function encodeTorrentFile(info: Uint8Array, options: TorrentFileOptions = {}): Uint8Array {
  const trackers = options.trackers ?? [];
  const head: { [key: string]: Encodable | undefined } = {
    announce: trackers[0],
    'announce-list': trackers.length > 0 ? trackers.map((t) => [t]) : undefined,
    'created by': options.createdBy,
    'creation date': options.creationDate,
  };
  const encodedHead = encode(head);
  const infoKey = new TextEncoder().encode('4:info');
  const out = new Uint8Array(encodedHead.length - 1 + infoKey.length + info.length + 1);
  out.set(encodedHead.subarray(0, encodedHead.length - 1)); // without its closing "e"
  out.set(infoKey, encodedHead.length - 1);
  out.set(info, encodedHead.length - 1 + infoKey.length);
  out[out.length - 1] = 0x65; // "e"
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
