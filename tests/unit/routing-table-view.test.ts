/**
 * The routing table's views (table/routing-table-view.ts): the text picture and the data for the
 * tree, both read from the table's accessors only.
 */
import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../src/wire/compact.js';
import { idFromHex, randomIdWithPrefix } from '../../src/wire/id.js';
import { EXTENDED_FAR_BUCKETS, RoutingTable, type RoutingTableOptions } from '../../src/table/routing-table.js';
import { renderTable, tableView } from '../../src/table/routing-table-view.js';
import { Prng } from '../helpers/prng.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const START = 1_700_000_000_000;

/** A table with a fake clock and seeded randomness, and a maker of nodes sharing a chosen number of bits with us. */
function setup(options: RoutingTableOptions = {}) {
  const prng = new Prng(1);
  const ownId = prng.bytes(20);
  const table = new RoutingTable(ownId, { now: () => START, random: prng.randomSource(), ...options });
  let hosts = 0;
  const node = (sharedBits: number): NodeInfo => {
    hosts++;
    return { id: randomIdWithPrefix(ownId, sharedBits, prng.randomSource()), address: `10.0.${hosts >> 8}.${hosts & 255}`, port: 6881 };
  };
  return { table, node };
}

describe('renderTable: the table as text', () => {
  it('draws each bucket and its contacts, deterministically for a given clock', () => {
    let now = START;
    const own = idFromHex(`f0${'00'.repeat(19)}`);
    const table = new RoutingTable(own, { k: 2, replacements: 2, now: () => now });
    const at = (firstByte: string, host: number): NodeInfo => ({
      id: idFromHex(`${firstByte}${'00'.repeat(18)}${firstByte}`),
      address: `10.0.0.${host}`,
      port: 6881,
    });
    table.recordResponse(at('10', 1));
    now += SECOND;
    table.recordResponse(at('20', 2));
    table.recordResponse(at('30', 3)); // bucket 0 is full: cached
    table.recordQuery(at('c0', 4)); // never answered
    table.recordResponse(at('e0', 5));
    table.recordResponse(at('f8', 6));
    now += 16 * MINUTE;
    table.recordResponse(at('20', 2));
    table.recordFailure(at('f8', 6).id);
    expect(renderTable(table)).toBe(
      [
        'routing table  own f000000000000000000000000000000000000000  k=2',
        '5 nodes in 4 buckets: 1 good, 4 questionable, 0 bad, 1 cached',
        'legend: ● good  ○ questionable  × bad  ◌ free slot',
        'bucket   0  prefix 0*    [2/2] ○●  repl 1',
        '  ○ 100000…10 10.0.0.1:6881  questionable  seen 16m01s ago',
        '  ● 200000…20 10.0.0.2:6881  good          seen 0s ago',
        '  ┈ 300000…30 10.0.0.3:6881  cached',
        'bucket   1  prefix 10*   [0/2] ◌◌  repl 0',
        'bucket   2  prefix 110*  [1/2] ○◌  repl 0',
        '  ○ c00000…c0 10.0.0.4:6881  questionable  seen 16m00s ago, never answered',
        'bucket   3  prefix 111*  [2/2] ○○  repl 0  (holds our ID)',
        '  ○ e00000…e0 10.0.0.5:6881  questionable  seen 16m00s ago',
        '  ○ f80000…f8 10.0.0.6:6881  questionable  seen 16m00s ago, 1 failed',
      ].join('\n'),
    );
  });

  it('has a line for every bucket and every contact of a large table', () => {
    const { table, node } = setup();
    for (let shared = 0; shared < 40; shared++) for (let i = 0; i < 3; i++) table.recordResponse(node(shared));
    const dump = renderTable(table);
    expect(dump).toBe(renderTable(table));
    const lines = dump.split('\n');
    for (const bucket of table.buckets()) {
      expect(lines.some((line) => line.startsWith(`bucket ${String(bucket.index).padStart(3)}  prefix `))).toBe(true);
    }
    for (const c of table.all()) expect(dump).toContain(`${c.address}:${c.port}`);
    // Long prefixes are shortened so the columns stay readable.
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(100);
  });
});

describe('renderTable: an extended table', () => {
  it('counts the marks of a big bucket, lists 16 contacts a bucket, and says how many more there are', () => {
    const { table, node } = setup({ farBucketSizes: EXTENDED_FAR_BUCKETS });
    for (let i = 0; i < 40; i++) table.recordResponse(node(0));
    for (let i = 0; i < 3; i++) table.recordHeard(node(0));
    const lines = renderTable(table).split('\n');
    expect(lines[0]).toMatch(/ k=8, far buckets 128$/);
    expect(lines.find((l) => l.startsWith('bucket   0'))).toMatch(/\[43\/128\] ●40 ○3 ◌85 {2}repl 0/);
    expect(lines.filter((l) => /^ {2}[●○×] /.test(l))).toHaveLength(16);
    expect(lines).toContain('  … 27 more');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(100);
  });

  it('says which contacts were only heard of', () => {
    const { table, node } = setup();
    table.recordHeard(node(0));
    expect(renderTable(table)).toMatch(/○ \S+ 10\.0\.0\.1:6881 {2}questionable {2}heard of, not yet asked$/m);
  });
});


describe('tableView: the table as data for a picture', () => {
  it('gives each bucket the prefix it covers (the last: our own), its fill and its contacts by state', () => {
    const own = idFromHex(`f0${'00'.repeat(19)}`);
    const table = new RoutingTable(own, { k: 2, now: () => START });
    const at = (firstByte: string, host: number): NodeInfo => ({ id: idFromHex(`${firstByte}${'00'.repeat(19)}`), address: `10.0.0.${host}`, port: 6881 });
    table.recordResponse(at('10', 1));
    table.recordResponse(at('20', 2));
    table.recordHeard(at('c0', 3));
    table.recordResponse(at('e0', 4));
    table.recordResponse(at('f8', 5));
    const view = tableView(table);
    expect(view.nodes).toBe(5);
    expect(view.buckets.map((b) => [b.prefix, b.holdsOwnId, b.capacity])).toEqual([
      ['0', false, 2],
      ['10', false, 2],
      ['110', false, 2],
      ['111', true, 2],
    ]);
    expect(view.buckets[0]!.counts).toEqual({ good: 2, questionable: 0, bad: 0, heard: 0 });
    expect(view.buckets[2]!.contacts).toEqual([{ id: `c0${'00'.repeat(19)}`, state: 'heard', address: '10.0.0.3', port: 6881 }]);
    // The text picture names the same prefixes.
    for (const b of view.buckets) expect(renderTable(table)).toContain(`prefix ${b.prefix}*`);
  });
});
