/**
 * BEP 44 on a local network: a node puts an item, another finds it, as the BEP describes; and what
 * storage nodes refuse, with the BEP's error codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/wire/bencode.js';
import { immutableTarget, keyPairFromSeed, mutableTarget, signItem } from '../../src/wire/dht-item.js';
import { getItem, newestItem, putItem } from '../../src/dht/item-lookup.js';
import { DhtNode } from '../../src/dht/node.js';
import { Testnet } from '../../src/modes/testnet.js';

describe('BEP 44 items on a local network', () => {
  let net: Testnet;
  let writer: DhtNode;
  let reader: DhtNode;
  beforeAll(async () => {
    net = await Testnet.start({ nodes: 120, torrents: 0 });
    writer = await DhtNode.create({ address: '127.0.0.1' });
    reader = await DhtNode.create({ address: '127.0.0.1' });
    await writer.bootstrap(net.bootstrap.slice(0, 1));
    await reader.bootstrap(net.bootstrap.slice(1, 2));
  }, 30_000);
  afterAll(async () => {
    await writer?.close();
    await reader?.close();
    await net?.close();
  });

  it('an immutable item put by one node is found by another, under the SHA-1 of its bencoding', async () => {
    const v = encode({ hello: 'world', n: 42 });
    const put = await putItem(writer, { v });
    expect(put.target).toEqual(immutableTarget(v));
    expect(put.storedBy).toBeGreaterThanOrEqual(6);
    const found: Uint8Array[] = [];
    for await (const event of reader.lookup(put.target, getItem(put.target))) if (event.type === 'item') found.push(event.item.v);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((copy) => Buffer.from(copy).equals(Buffer.from(v)))).toBe(true);
  });

  it('a mutable item: the newest seq wins, an older one is refused with 302, a wrong cas with 301', async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(0x42));
    const salt = new TextEncoder().encode('status');
    const first = signItem(keys, salt, 1, encode('first'));
    const second = signItem(keys, salt, 2, encode('second'));
    expect((await putItem(writer, { v: first.v, mutable: first })).storedBy).toBeGreaterThanOrEqual(6);
    expect((await putItem(writer, { v: second.v, mutable: second })).storedBy).toBeGreaterThanOrEqual(6);

    const stale = await putItem(writer, { v: first.v, mutable: first });
    expect(stale.storedBy).toBe(0);
    expect(stale.refusals.get(302)).toBeGreaterThanOrEqual(6);
    const third = signItem(keys, salt, 3, encode('third'));
    const wrongCas = await putItem(writer, { v: third.v, mutable: third, cas: 1 });
    expect(wrongCas.refusals.get(301)).toBeGreaterThanOrEqual(6);

    const target = mutableTarget(keys.publicKey, salt);
    const lookup = reader.lookup(target, getItem(target, { salt }));
    const copies = [];
    for await (const event of lookup) if (event.type === 'item') copies.push(event.item);
    const newest = newestItem(copies);
    expect(newest).toMatchObject({ kind: 'mutable', seq: 2, v: encode('second') });
  });

  it('a copy that does not match its target is not kept (a lying node cannot plant a value)', async () => {
    const v = encode('genuine');
    const target = immutableTarget(v);
    const liar = net.nodes[0]!;
    const fake = encode('forged');
    const strategy = getItem(target);
    expect(strategy.collect({ id: liar.id, v: fake }, { id: liar.id, ...liar.local })).toEqual([]);
    expect(strategy.collect({ id: liar.id, v }, { id: liar.id, ...liar.local })).toHaveLength(1);
  });
});
