/**
 * The BEP 44 items other nodes put to us: immutable values keyed by their SHA-1, and mutable ones
 * keyed by SHA-1(public key + salt), each kept only if genuine and newer than what we hold.
 *
 * Like the peer store it is soft state: an item not put again within ttlMs (2 hours, BEP 44's
 * "Expiration") is forgotten, and the store holds at most maxItems. When full, the item put least
 * recently makes room: items are republished by their owners, so the oldest is the one most likely
 * abandoned. A Map iterates in insertion order and every put re-inserts, so that is the first entry.
 *
 * Pure: no timers, no I/O. Signatures are checked here (dht-item.ts), so nothing unverified is
 * ever stored or served.
 */
import { immutableTarget, ItemErrorCode, MAX_ITEM_VALUE_BYTES, MAX_SALT_BYTES, mutableTarget, verifyItem, type MutableItem } from '../wire/dht-item.js';
import { bytesEqual, idKey, type NodeId } from '../wire/id.js';

/** BEP 44: "items ... may expire after 2 hours". Owners republish more often than that. */
export const ITEM_TTL_MS = 2 * 60 * 60 * 1000;
/** Default bound on items held: 1,000 values of at most ~1.1 KB each (value, key, signature, salt). */
export const DEFAULT_MAX_ITEMS = 1000;

export interface ItemStoreOptions {
  ttlMs?: number;
  maxItems?: number;
  now?: () => number;
}

/** What we hold under one target: the bencoded value, and for a mutable item what signs it. */
export type StoredItem = { kind: 'immutable'; v: Uint8Array } | ({ kind: 'mutable' } & MutableItem);

/** A put as it arrives: `v` bencoded, and the mutable fields when it is signed. */
export interface ItemPut {
  v: Uint8Array;
  mutable?: Omit<MutableItem, 'v'> & { cas?: number };
}

/** The outcome of a put: stored under `target`, or refused with a BEP 44 error code. */
export type PutOutcome = { ok: true; target: NodeId } | { ok: false; code: number; message: string };

export class ItemStore {
  private readonly ttlMs: number;
  private readonly maxItems: number;
  private readonly now: () => number;
  private readonly items = new Map<string, { item: StoredItem; at: number }>();

  constructor(options: ItemStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? ITEM_TTL_MS;
    this.maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    this.expire();
    return this.items.size;
  }

  /** The item stored under `target`, if any and not expired. */
  get(target: NodeId): StoredItem | undefined {
    this.expire();
    return this.items.get(idKey(target))?.item;
  }

  /** Check and store a put (BEP 44, "put message"); the caller has already checked its token. */
  put(request: ItemPut): PutOutcome {
    if (request.v.length > MAX_ITEM_VALUE_BYTES) return refuse(ItemErrorCode.ValueTooBig, 'message (v field) too big');
    if (request.mutable === undefined) return this.store(immutableTarget(request.v), { kind: 'immutable', v: request.v });
    const { cas, ...signed } = request.mutable;
    if (signed.salt.length > MAX_SALT_BYTES) return refuse(ItemErrorCode.SaltTooBig, 'salt (salt field) too big');
    const item: MutableItem = { ...signed, v: request.v };
    if (!verifyItem(item)) return refuse(ItemErrorCode.InvalidSignature, 'invalid signature');
    const target = mutableTarget(item.k, item.salt);
    const held = this.get(target);
    if (held?.kind === 'mutable') {
      if (cas !== undefined && cas !== held.seq) return refuse(ItemErrorCode.CasMismatch, 'CAS mismatch');
      // BEP 44: a lower seq is refused; an equal seq only refreshes the same value.
      if (item.seq < held.seq || (item.seq === held.seq && !bytesEqual(item.v, held.v))) {
        return refuse(ItemErrorCode.SequenceTooOld, 'sequence number less than current');
      }
    }
    return this.store(target, { kind: 'mutable', ...item });
  }

  private store(target: NodeId, item: StoredItem): PutOutcome {
    const key = idKey(target);
    this.items.delete(key);
    if (this.items.size >= this.maxItems) this.items.delete(this.items.keys().next().value!);
    this.items.set(key, { item, at: this.now() });
    return { ok: true, target };
  }

  /** Forget what was not put again within the TTL: the oldest entries are first. */
  private expire(): void {
    const cutoff = this.now() - this.ttlMs;
    for (const [key, entry] of this.items) {
      if (entry.at > cutoff) break;
      this.items.delete(key);
    }
  }
}

function refuse(code: number, message: string): PutOutcome {
  return { ok: false, code, message };
}

