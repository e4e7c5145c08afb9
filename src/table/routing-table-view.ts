/**
 * The routing table drawn for people: as text (`renderTable`, the demo's --verbose and the docs'
 * lookup walk-through) and as plain data for a picture (`tableView`, the demo's compact tree and
 * the browser view). Built only from the table's read accessors (buckets(), stats(), stateOf()):
 * the model holds no presentation, and a view cannot change the table.
 *
 * Bucket i holds the IDs that share exactly i leading bits with ours (BEP 5, "Routing Table"), so
 * its prefix is our first i bits then the opposite of our bit i; the last bucket shares at least
 * i bits and holds our own ID. Drawn one under the other, the prefixes are the spine of a binary tree.
 */
import { formatEndpoint } from '../wire/address.js';
import { idToHex, type NodeId } from '../wire/id.js';
import { isHeardOnly, lastSeen, type Contact, type NodeState, type TableReader } from './routing-table.js';

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
export function tableView(table: TableReader): TableView {
  const buckets = table.buckets();
  const views = buckets.map((bucket): BucketView => {
    const counts: Record<ContactView, number> = { good: 0, questionable: 0, bad: 0, heard: 0 };
    const contacts = bucket.contacts.map((c) => {
      const state = contactState(table, c);
      counts[state]++;
      return { id: idToHex(c.id), state, address: c.address, port: c.port };
    });
    const last = bucket.index === buckets.length - 1;
    return { index: bucket.index, prefix: bucketPrefix(table.ownId, bucket.index, last), holdsOwnId: last, capacity: bucket.capacity, counts, contacts };
  });
  return { ownId: idToHex(table.ownId), nodes: table.size, buckets: views };
}

/** The state to colour a contact by: heard-of contacts are questionable to BEP 5, but unasked. */
export function contactState(table: TableReader, contact: Contact): ContactView {
  const state = table.stateOf(contact);
  return state === 'questionable' && isHeardOnly(contact) ? 'heard' : state;
}

/**
 * A readable multi-line picture of the buckets (the demo's --verbose, the docs). A bucket lists at
 * most `perBucket` contacts (and as many cached ones), then says how many more it holds.
 */
export function renderTable(table: TableReader, options: { perBucket?: number } = {}): string {
  const perBucket = options.perBucket ?? DUMP_PER_BUCKET;
  const now = table.now();
  const s = table.stats();
  const buckets = table.buckets();
  const last = buckets.length - 1;
  const labels = buckets.map((b) => shortPrefix(bucketPrefix(table.ownId, b.index, b.index === last)));
  const labelWidth = Math.max(...labels.map((label) => label.length));
  const listed = buckets.flatMap((b) => [...b.contacts, ...b.replacements]);
  const endpointWidth = Math.max(0, ...listed.map((c) => formatEndpoint(c).length));
  const far = table.farBucketSizes.length;
  const lines = [
    `routing table  own ${idToHex(table.ownId)}  k=${table.k}` +
      (far > 0 ? `, far buckets ${buckets.slice(0, far).map((b) => b.capacity).join('/')}` : ''),
    `${s.nodes} nodes in ${s.buckets} bucket${s.buckets === 1 ? '' : 's'}: ` +
      `${s.good} good, ${s.questionable} questionable, ${s.bad} bad, ${s.replacements} cached`,
    `legend: ${STATE_MARK.good} good  ${STATE_MARK.questionable} questionable  ${STATE_MARK.bad} bad  ${FREE_MARK} free slot`,
  ];
  for (const bucket of buckets) {
    const { index, contacts, replacements, capacity } = bucket;
    lines.push(
      `bucket ${String(index).padStart(3)}  prefix ${labels[index]!.padEnd(labelWidth)}  ` +
        `[${contacts.length}/${capacity}] ${slots(table, contacts, capacity)}  ` +
        `repl ${replacements.length}${index === last ? '  (holds our ID)' : ''}`,
    );
    for (const c of contacts.slice(0, perBucket)) lines.push(`  ${describe(table, c, now, endpointWidth)}`);
    if (contacts.length > perBucket) lines.push(`  … ${contacts.length - perBucket} more`);
    for (const r of replacements.slice(0, perBucket)) lines.push(`  ${CACHED_MARK} ${shortId(r.id)} ${formatEndpoint(r).padEnd(endpointWidth)}  cached`);
    if (replacements.length > perBucket) lines.push(`  … ${replacements.length - perBucket} more cached`);
  }
  return lines.join('\n');
}

const STATE_MARK: Readonly<Record<NodeState, string>> = { good: '●', questionable: '○', bad: '×' };
const FREE_MARK = '◌';
const CACHED_MARK = '┈';
/** Past this many slots a bucket's marks are counted rather than drawn one by one. */
const DUMP_MAX_SLOT_MARKS = 16;
const DUMP_PER_BUCKET = 16;
/** Long prefixes are shown by their tail: the head is our ID's, which the header already prints. */
const MAX_LABEL_BITS = 24;

/** One mark per slot (●●○◌); for a big bucket, a count per kind of mark instead (●90 ○7 ◌31). */
function slots(table: TableReader, contacts: readonly Contact[], capacity: number): string {
  const marks = contacts.map((c) => STATE_MARK[table.stateOf(c)]);
  if (capacity <= DUMP_MAX_SLOT_MARKS) return marks.join('') + FREE_MARK.repeat(capacity - contacts.length);
  const counts = [STATE_MARK.good, STATE_MARK.questionable, STATE_MARK.bad].map((mark) => [mark, marks.filter((m) => m === mark).length] as const);
  return [...counts, [FREE_MARK, capacity - contacts.length] as const].filter(([, n]) => n > 0).map(([mark, n]) => `${mark}${n}`).join(' ');
}

function describe(table: TableReader, c: Contact, now: number, endpointWidth: number): string {
  const state = table.stateOf(c);
  const notes = isHeardOnly(c) ? ['heard of, not yet asked'] : [`seen ${formatAge(now - lastSeen(c))} ago`];
  if (c.lastResponse === 0 && !isHeardOnly(c)) notes.push('never answered');
  if (c.failures > 0) notes.push(`${c.failures} failed`);
  return `${STATE_MARK[state]} ${shortId(c.id)} ${formatEndpoint(c).padEnd(endpointWidth)}  ${state.padEnd(12)}  ${notes.join(', ')}`;
}

/** The bits every ID in bucket `index` starts with: our first `index` bits, then (but in the last bucket) the opposite of our next. */
function bucketPrefix(ownId: NodeId, index: number, isLast: boolean): string {
  const bits = bitString(ownId, index + 1);
  return isLast ? bits.slice(0, index) : bits.slice(0, index) + (bits[index] === '0' ? '1' : '0');
}

/** A prefix for the text picture, `*` for "anything", its head cut when long. */
function shortPrefix(bits: string): string {
  return `${bits.length > MAX_LABEL_BITS ? `…${bits.slice(-(MAX_LABEL_BITS - 1))}` : bits}*`;
}

/** The first `count` bits of id as '0'/'1' characters. */
export function bitString(id: Uint8Array, count: number): string {
  let bits = '';
  for (let i = 0; i < count && i < id.length * 8; i++) bits += (id[i >> 3]! >> (7 - (i & 7))) & 1;
  return bits;
}

function shortId(id: NodeId): string {
  const hex = idToHex(id);
  return `${hex.slice(0, 6)}…${hex.slice(-2)}`;
}

function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
