/**
 * BEP 44 against libtorrent: items libtorrent puts are found by our get, items we put are found by
 * libtorrent's get, immutable and mutable (libtorrent's signatures verify with our code, ours with
 * its). Needs Python's libtorrent binding; skipped loudly without it, a failure with
 * DHT_SCRAPE_REQUIRE_LIBTORRENT=1 (see libtorrent.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/wire/bencode.js';
import { immutableTarget, keyPairFromSeed, mutableTarget, signItem } from '../../src/wire/dht-item.js';
import { idToHex } from '../../src/wire/id.js';
import { getItem, newestItem, putItem, type FoundItem } from '../../src/dht/item-lookup.js';
import { DhtNode } from '../../src/dht/node.js';
import { findLibtorrentPython, LibtorrentFixture, type LtSession } from './fixture.js';

const libtorrent = findLibtorrentPython();
const required = process.env.DHT_SCRAPE_REQUIRE_LIBTORRENT === '1';
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

if ('missing' in libtorrent) {
  describe('BEP 44 interop with libtorrent', () => {
    it.skipIf(!required)(`${required ? 'FAILED: DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but' : 'SKIPPED:'} libtorrent cannot be imported (${libtorrent.missing})`, () => {
      throw new Error('DHT_SCRAPE_REQUIRE_LIBTORRENT=1 but libtorrent cannot be imported');
    });
  });
}

describe.skipIf('missing' in libtorrent)('BEP 44 interop with libtorrent', () => {
  let fixture: LibtorrentFixture;
  let lt: LtSession[];
  let ours: DhtNode;

  beforeAll(async () => {
    if (!('python' in libtorrent)) return;
    ({ fixture, ready: { sessions: lt } } = await LibtorrentFixture.start(libtorrent.python, { sessions: 3, subnet: 100, ttlSeconds: 90 }));
    ours = await DhtNode.create({ address: '127.0.110.1', port: 0 });
    await ours.bootstrap([{ address: lt[0]!.address, port: lt[0]!.port }], { timeoutMs: 10_000 });
    // Each libtorrent session learns our node, so that its puts and gets reach us too.
    for (const [session] of lt.entries()) fixture.send({ cmd: 'add_node', session, address: '127.0.110.1', port: ours.local.port });
  }, 40_000);

  afterAll(async () => {
    await ours?.close();
    await fixture?.close();
  });

  async function found(target: Uint8Array, salt?: Uint8Array): Promise<FoundItem[]> {
    const items: FoundItem[] = [];
    for await (const event of ours.lookup(target, getItem(target, salt !== undefined ? { salt } : {}))) if (event.type === 'item') items.push(event.item);
    return items;
  }

  it('an immutable item libtorrent puts is found by our get, under the same target', async () => {
    const value = encode({ from: 'libtorrent', n: 1 });
    fixture.send({ cmd: 'put_immutable', session: 1, value: hex(value) });
    const put = await fixture.waitFor((e) => e.event === 'put_done' && e.session === 1, 20_000, 'libtorrent to put the immutable item');
    expect(put.target).toBe(idToHex(immutableTarget(value)));
    const copies = await found(immutableTarget(value));
    expect(copies.map((c) => hex(c.v))).toContain(hex(value));
  });

  it('an immutable item we put is found by libtorrent', async () => {
    // A string: the 2.0.8 Python binding can only read an immutable item's value as one.
    const value = encode('an immutable string from dht-scrape');
    const put = await putItem(ours, { v: value });
    expect(put.storedBy).toBeGreaterThan(0);
    const since = fixture.events.length;
    fixture.send({ cmd: 'get_immutable', session: 2, target: idToHex(put.target) });
    const item = await fixture.waitFor((e) => e.event === 'immutable_item' && e.session === 2, 20_000, 'libtorrent to get our item', since);
    expect(item.value).toBe(hex(value));
  });

  it("a mutable item: libtorrent's signature verifies here, and our newer version reaches libtorrent", async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(0x5a));
    const salt = new TextEncoder().encode('interop');
    fixture.send({ cmd: 'put_mutable', session: 1, seed: hex(keys.seed), public_key: hex(keys.publicKey), data: 'from libtorrent', salt: 'interop' });
    const put = await fixture.waitFor((e) => e.event === 'put_done' && e.session === 1 && e.key === hex(keys.publicKey), 20_000, 'libtorrent to put the mutable item');
    const target = mutableTarget(keys.publicKey, salt);
    const theirs = newestItem(await found(target, salt));
    expect(theirs).toMatchObject({ kind: 'mutable', seq: put.seq, v: encode('from libtorrent') });

    const ours2 = signItem(keys, salt, Number(put.seq) + 1, encode('from dht-scrape'));
    expect((await putItem(ours, { v: ours2.v, mutable: ours2 })).storedBy).toBeGreaterThan(0);
    const since = fixture.events.length;
    fixture.send({ cmd: 'get_mutable', session: 2, public_key: hex(keys.publicKey), salt: 'interop' });
    const got = await fixture.waitFor((e) => e.event === 'mutable_item' && e.session === 2 && e.seq === ours2.seq, 20_000, 'libtorrent to get our newer version', since);
    expect(got.value).toBe(hex(encode('from dht-scrape')));
  });
});
