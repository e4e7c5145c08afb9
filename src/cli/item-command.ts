/**
 * `dht-scrape put <value>` and `dht-scrape get <target>`: the DHT as a key-value store (BEP 44).
 *
 * An immutable value is stored under the SHA-1 of its bencoding; a mutable one under SHA-1(public
 * key + salt), signed with a key kept in a file (`--key FILE`: 64 hex digits, the ed25519 seed;
 * created, mode 0600, when the file does not exist yet, and never written over). A mutable put
 * first looks the item up, so that its sequence number follows the newest version out there.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { decode, encode } from '../wire/bencode.js';
import { generateItemKeyPair, keyPairFromSeed, mutableTarget, signItem, type ItemKeyPair } from '../wire/dht-item.js';
import { idFromHex, idToHex, type NodeId } from '../wire/id.js';
import { getItem, newestItem, putItem, type FoundItem } from '../dht/item-lookup.js';
import type { DhtNode } from '../dht/node.js';
import { UsageError, type CommonOptions } from './options.js';
import { EXIT } from './exit-codes.js';
import { openSession } from './session.js';
import { safeText } from './safe-text.js';
import type { Output } from './terminal.js';

export interface PutCommand {
  kind: 'put';
  value: string;
  keyFile: string | undefined;
  salt: string | undefined;
  common: CommonOptions;
  /** BEP 43: a one-shot command is a read-only node unless --no-read-only (see options.ts). */
  readOnly: boolean;
}

export interface GetCommand {
  kind: 'get';
  /** 40 hex digits: an item's target; 64: a mutable item's public key (with `salt`). */
  target: string;
  salt: string | undefined;
  common: CommonOptions;
  readOnly: boolean;
}

/**
 * The CLI's exit codes (exit-codes.ts): 0 done; 1 a get that found no item (as a scrape that finds
 * no peer); 3 no bootstrap node answered, or no node took a put (they refused it, or none answered).
 */
const DONE = EXIT.peersFound;
const NOTHING = EXIT.noPeers;
const NETWORK = EXIT.network;

export async function runPut(command: PutCommand, output: Output, signal: AbortSignal): Promise<number> {
  const keys = command.keyFile === undefined ? undefined : await loadOrCreateKey(command.keyFile, output);
  const salt = new TextEncoder().encode(command.salt ?? '');
  const v = encode(command.value);
  return withJoinedNode(command, output, signal, async (node) => {
    let put;
    if (keys === undefined) {
      put = await putItem(node, { v }, { signal });
    } else {
      const target = mutableTarget(keys.publicKey, salt);
      const current = newestItem(await collect(node, target, salt, signal));
      const seq = current?.kind === 'mutable' ? current.seq + 1 : 1;
      const mutable = signItem(keys, salt, seq, v);
      put = await putItem(node, { v, mutable, ...(current?.kind === 'mutable' ? { cas: current.seq } : {}) }, { signal });
      output.err(`public key ${Buffer.from(keys.publicKey).toString('hex')}, seq ${seq}`);
    }
    const refused = [...put.refusals].map(([code, count]) => `${count} x error ${code}`).join(', ');
    if (command.common.json) {
      output.out(JSON.stringify({ target: idToHex(put.target), stored_by: put.storedBy, refused: Object.fromEntries(put.refusals) }));
    } else {
      output.out(idToHex(put.target));
    }
    output.err(`stored by ${put.storedBy} of the ${put.lookup.closest.length} closest nodes${refused === '' ? '' : ` (refused: ${refused})`}`);
    return put.storedBy > 0 ? DONE : NETWORK;
  });
}

export async function runGet(command: GetCommand, output: Output, signal: AbortSignal): Promise<number> {
  const { target, salt } = parseGetTarget(command.target, command.salt);
  return withJoinedNode(command, output, signal, async (node) => {
    const copies = await collect(node, target, salt, signal);
    const item = newestItem(copies);
    if (item === undefined) {
      if (command.common.json) output.out(JSON.stringify({ target: idToHex(target), found: false }));
      output.err(`no node holds ${idToHex(target)}`);
      return NOTHING;
    }
    if (command.common.json) output.out(JSON.stringify(itemJson(target, item, copies.length)));
    else output.out(describeValue(item.v));
    output.err(`${item.kind} item ${idToHex(target)}${item.kind === 'mutable' ? `, seq ${item.seq}` : ''}, held by ${copies.length} node(s)`);
    return DONE;
  });
}

/** A 40-hex target, or a 64-hex public key whose target is SHA-1(key + salt). */
export function parseGetTarget(text: string, salt: string | undefined): { target: NodeId; salt: Uint8Array } {
  const saltBytes = new TextEncoder().encode(salt ?? '');
  if (/^[0-9a-f]{40}$/i.test(text)) return { target: idFromHex(text), salt: saltBytes };
  if (/^[0-9a-f]{64}$/i.test(text)) return { target: mutableTarget(new Uint8Array(Buffer.from(text, 'hex')), saltBytes), salt: saltBytes };
  throw new UsageError(`get expects a 40-hex-digit target or a 64-hex-digit public key, got ${JSON.stringify(text.slice(0, 80))}`);
}

async function collect(node: DhtNode, target: NodeId, salt: Uint8Array, signal: AbortSignal): Promise<FoundItem[]> {
  const copies: FoundItem[] = [];
  for await (const event of node.lookup(target, getItem(target, { salt }), { signal })) if (event.type === 'item') copies.push(event.item);
  return copies;
}

async function withJoinedNode(command: PutCommand | GetCommand, output: Output, signal: AbortSignal, work: (node: DhtNode) => Promise<number>): Promise<number> {
  const common = command.common;
  const session = await openSession(common, output, { node: { readOnly: command.readOnly } });
  try {
    const joined = await session.node.bootstrap(session.bootstrap, { timeoutMs: Math.min((common.timeoutSeconds ?? 30) * 1000, 10_000), signal });
    if (session.node.tableSize === 0) {
      output.err(`dht-scrape: network error: none of ${session.bootstrap.length} bootstrap node(s) answered (${joined.routersAnswered} did)`);
      return NETWORK;
    }
    return await work(session.node);
  } finally {
    await session.close();
  }
}

/** The seed in `file` (64 hex digits), or a new one written there when the file does not exist. */
async function loadOrCreateKey(file: string, output: Output): Promise<ItemKeyPair> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`--key ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    const keys = generateItemKeyPair();
    // 'wx': create only; if the file appeared meanwhile, it is not ours to write over.
    await writeFile(file, `${Buffer.from(keys.seed).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    output.err(`created a new key in ${file}`);
    return keys;
  }
  const seed = text.trim();
  if (!/^[0-9a-f]{64}$/i.test(seed)) throw new UsageError(`--key ${file} must hold 64 hex digits (an ed25519 seed)`);
  return keyPairFromSeed(new Uint8Array(Buffer.from(seed, 'hex')));
}

/** A value for people: a bencoded string as its text (control characters removed), anything else as bencoding. */
function describeValue(v: Uint8Array): string {
  try {
    const value = decode(v);
    if (value instanceof Uint8Array) return safeText(Buffer.from(value).toString('utf8'));
  } catch {
    // not decodable: shown as bencoding below
  }
  return safeText(Buffer.from(v).toString('latin1'));
}

function itemJson(target: NodeId, item: FoundItem, holders: number): unknown {
  return {
    target: idToHex(target),
    found: true,
    kind: item.kind,
    value_bencoded_hex: Buffer.from(item.v).toString('hex'),
    ...(item.kind === 'mutable' ? { public_key: Buffer.from(item.k).toString('hex'), seq: item.seq, salt: Buffer.from(item.salt).toString('utf8') } : {}),
    held_by: holders,
  };
}
