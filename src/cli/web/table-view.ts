/**
 * The routing table as plain data for a picture of it (the demo's compact tree, the browser view):
 * one entry per bucket with the ID prefix it covers, its fill and its contacts' states. Built only
 * from the table's read accessors (buckets(), stateOf), never from its text dump.
 *
 * Bucket i holds the IDs that share exactly i leading bits with ours (BEP 5, "Routing Table"), so
 * its prefix is our first i bits then the opposite of our bit i; the last bucket shares at least
 * i bits and holds our own ID. Drawn one under the other, the prefixes are the spine of a binary tree.
 */
import { idToHex } from '../../wire/id.js';
import type { Contact, RoutingTable } from '../../table/routing-table.js';

/** BEP 5's three states, and "heard of": named in a reply, never heard from itself. */
export type ContactView = 'good' | 'questionable' | 'bad' | 'heard';

export interface BucketView {
  index: number;
  /** The bits every ID in the bucket starts with ("01" = 0 then 1). */
  prefix: string;
  /** True for the last bucket, the one our own ID falls in. */
  holdsOwnId: boolean;
  capacity: number;
  counts: Record<ContactView, number>;
  contacts: { id: string; state: ContactView; address: string; port: number }[];
}

export interface TableView {
  ownId: string;
  nodes: number;
  buckets: BucketView[];
}

/** A snapshot of `table`, farthest bucket first. */
export function tableView(table: RoutingTable): TableView {
  const own = table.ownId;
  const buckets = table.buckets();
  const ownBits = bitString(own, buckets.length);
  const views = buckets.map((bucket): BucketView => {
    const last = bucket.index === buckets.length - 1;
    const flipped = ownBits[bucket.index] === '0' ? '1' : '0';
    const counts: Record<ContactView, number> = { good: 0, questionable: 0, bad: 0, heard: 0 };
    const contacts = bucket.contacts.map((c) => {
      const state = contactState(table, c);
      counts[state]++;
      return { id: idToHex(c.id), state, address: c.address, port: c.port };
    });
    return {
      index: bucket.index,
      prefix: last ? ownBits.slice(0, bucket.index) : ownBits.slice(0, bucket.index) + flipped,
      holdsOwnId: last,
      capacity: bucket.capacity,
      counts,
      contacts,
    };
  });
  return { ownId: idToHex(own), nodes: table.size, buckets: views };
}

/** The state to colour a contact by: heard-of contacts are questionable to BEP 5, but unasked. */
export function contactState(table: RoutingTable, contact: Contact): ContactView {
  const state = table.stateOf(contact);
  if (state === 'questionable' && contact.lastResponse === 0 && contact.lastQuery === 0) return 'heard';
  return state;
}

/** The first `count` bits of id as '0'/'1' characters. */
export function bitString(id: Uint8Array, count: number): string {
  let bits = '';
  for (let i = 0; i < count && i < id.length * 8; i++) bits += (id[i >> 3]! >> (7 - (i & 7))) & 1;
  return bits;
}

