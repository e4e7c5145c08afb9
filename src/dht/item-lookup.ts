/**
 * BEP 44 on the one lookup engine: `get` is a lookup toward the item's target that keeps every
 * genuine copy it is handed (and the write tokens), `put` is that lookup followed by a put to the
 * k closest nodes that answered, each with its own token, as announce_peer follows get_peers.
 */
import type { NodeInfo } from '../wire/compact.js';
import { immutableTarget, mutableTarget, verifyItem, type MutableItem } from '../wire/dht-item.js';
import { idEquals, type NodeId } from '../wire/id.js';
import type { ResponseBody } from '../wire/krpc.js';
import type { LookupOptions, LookupResult, LookupStrategy } from './lookup.js';
import type { DhtNode } from './node.js';

/** A copy of an item a node returned, checked against the target before it is kept. */
export type FoundItem = { kind: 'immutable'; v: Uint8Array; from: NodeInfo } | ({ kind: 'mutable'; from: NodeInfo } & MutableItem);

/** What to look for: an immutable item by its hash, or a mutable one by its key and salt. */
export type ItemQuery = { target: NodeId; salt?: undefined; publicKey?: undefined } | { publicKey: Uint8Array; salt?: Uint8Array; target?: undefined };

/** The target an ItemQuery names. */
export function itemTarget(query: ItemQuery): NodeId {
  return query.publicKey === undefined ? query.target : mutableTarget(query.publicKey, query.salt);
}

/**
 * BEP 44 get. A reply's item is kept only when it is what the target promises: an immutable value
 * whose SHA-1 is the target, or a mutable one whose key and salt hash to the target and whose
 * signature verifies. A node cannot make us keep anything else. `seq` asks only for newer versions.
 */
export function getItem(target: NodeId, options: { salt?: Uint8Array; seq?: number } = {}): LookupStrategy<'get', FoundItem> {
  const salt = options.salt ?? new Uint8Array(0);
  return {
    method: 'get',
    args: (id, t) => ({ id, target: t, ...(options.seq !== undefined ? { seq: options.seq } : {}) }),
    collect: (body, from) => {
      const item = genuineItem(body, target, salt, from);
      return item === undefined ? [] : [item];
    },
    token: (body) => body.token,
  };
}

function genuineItem(body: ResponseBody, target: NodeId, salt: Uint8Array, from: NodeInfo): FoundItem | undefined {
  if (body.v === undefined) return undefined;
  if (body.k === undefined) return idEquals(immutableTarget(body.v), target) ? { kind: 'immutable', v: body.v, from } : undefined;
  if (body.sig === undefined || body.seq === undefined || !idEquals(mutableTarget(body.k, salt), target)) return undefined;
  const item: MutableItem = { k: body.k, salt, seq: body.seq, v: body.v, sig: body.sig };
  return verifyItem(item) ? { kind: 'mutable', from, ...item } : undefined;
}

/** The newest genuine version among the copies found: the highest `seq` (any copy, if immutable). */
export function newestItem(items: readonly FoundItem[]): FoundItem | undefined {
  let best: FoundItem | undefined;
  for (const item of items) {
    if (best === undefined || (item.kind === 'mutable' && best.kind === 'mutable' && item.seq > best.seq)) best = item;
  }
  return best;
}

/** What to put: an immutable value (bencoded), or a signed mutable version. `cas` guards a mutable put. */
export type ItemToPut = { v: Uint8Array; mutable?: undefined } | { v: Uint8Array; mutable: MutableItem; cas?: number };

/** How a put went: the lookup that found the closest nodes, and how many of them stored the item. */
export interface PutResult {
  target: NodeId;
  lookup: LookupResult;
  storedBy: number;
  /** The errors nodes answered with (e.g. 302 when one holds a newer version), by code. */
  refusals: Map<number, number>;
}

/** BEP 44 put: a get lookup toward the target, then a put to each of the k closest with its token. */
export async function putItem(node: DhtNode, item: ItemToPut, options: LookupOptions = {}): Promise<PutResult> {
  const target = item.mutable === undefined ? immutableTarget(item.v) : mutableTarget(item.mutable.k, item.mutable.salt);
  const lookup = await node.lookup(target, getItem(target, item.mutable !== undefined ? { salt: item.mutable.salt } : {}), options).result;
  const refusals = new Map<number, number>();
  const outcomes = await Promise.all(lookup.closest.filter((c) => c.token !== undefined).map((c) => node.query(c.node, 'put', {
    id: node.id,
    v: item.v,
    token: c.token!,
    ...(item.mutable !== undefined ? {
      k: item.mutable.k,
      seq: item.mutable.seq,
      sig: item.mutable.sig,
      ...(item.mutable.salt.length > 0 ? { salt: item.mutable.salt } : {}),
      ...(item.cas !== undefined ? { cas: item.cas } : {}),
    } : {}),
  })));
  for (const outcome of outcomes) {
    if (outcome.kind === 'error') refusals.set(outcome.error.e.code, (refusals.get(outcome.error.e.code) ?? 0) + 1);
  }
  return { target, lookup, storedBy: outcomes.filter((o) => o.kind === 'response').length, refusals };
}
