/** BEP 44's storage rules: what a node keeps, what it refuses and with which code, and for how long. */
import { describe, expect, it } from 'vitest';
import { ItemStore } from '../../src/table/item-store.js';
import { immutableTarget, keyPairFromSeed, mutableTarget, signItem } from '../../src/wire/dht-item.js';

const text = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, 'latin1'));
const keys = keyPairFromSeed(new Uint8Array(32).fill(9));
const salt = text('room');
const version = (seq: number, v: string) => {
  const { v: value, ...signed } = signItem(keys, salt, seq, text(v));
  return { v: value, mutable: signed };
};

describe('immutable items', () => {
  it('are stored under the SHA-1 of their bencoded value', () => {
    const store = new ItemStore();
    const outcome = store.put({ v: text('12:Hello World!') });
    expect(outcome).toEqual({ ok: true, target: immutableTarget(text('12:Hello World!')) });
    expect(store.get(immutableTarget(text('12:Hello World!')))).toEqual({ kind: 'immutable', v: text('12:Hello World!') });
  });

  it('over 1,000 bytes: error 205', () => {
    const v = text(`1001:${'x'.repeat(1001)}`);
    expect(new ItemStore().put({ v })).toMatchObject({ ok: false, code: 205 });
  });
});

describe('mutable items', () => {
  it('a signed version is stored under SHA-1(k + salt); a newer seq replaces it', () => {
    const store = new ItemStore();
    expect(store.put(version(1, '3:one'))).toEqual({ ok: true, target: mutableTarget(keys.publicKey, salt) });
    expect(store.put(version(2, '3:two')).ok).toBe(true);
    expect(store.get(mutableTarget(keys.publicKey, salt))).toMatchObject({ kind: 'mutable', seq: 2, v: text('3:two') });
  });

  it('a lower seq, or the same seq with another value: 302; the same seq and value refreshes', () => {
    const store = new ItemStore();
    store.put(version(5, '3:one'));
    expect(store.put(version(4, '3:old'))).toMatchObject({ ok: false, code: 302 });
    expect(store.put(version(5, '3:new'))).toMatchObject({ ok: false, code: 302 });
    expect(store.put(version(5, '3:one')).ok).toBe(true);
  });

  it('cas must name the stored seq: 301 otherwise', () => {
    const store = new ItemStore();
    store.put(version(5, '3:one'));
    const next = version(6, '3:two');
    expect(store.put({ ...next, mutable: { ...next.mutable, cas: 4 } })).toMatchObject({ ok: false, code: 301 });
    expect(store.put({ ...next, mutable: { ...next.mutable, cas: 5 } }).ok).toBe(true);
  });

  it('a forged signature: 206, and nothing is stored', () => {
    const store = new ItemStore();
    const forged = version(1, '3:one');
    forged.mutable.sig = new Uint8Array(64).fill(1);
    expect(store.put(forged)).toMatchObject({ ok: false, code: 206 });
    expect(store.size).toBe(0);
  });

  it('a salt over 64 bytes: 207', () => {
    const long = signItem(keys, new Uint8Array(65), 1, text('0:'));
    const { v, ...signed } = long;
    expect(new ItemStore().put({ v, mutable: signed })).toMatchObject({ ok: false, code: 207 });
  });
});

describe('bounds', () => {
  it('an item not put again within the TTL is gone', () => {
    let now = 0;
    const store = new ItemStore({ ttlMs: 1000, now: () => now });
    store.put({ v: text('1:a') });
    now = 999;
    expect(store.size).toBe(1);
    now = 1000;
    expect(store.get(immutableTarget(text('1:a')))).toBeUndefined();
  });

  it('when full, the item put least recently makes room', () => {
    const store = new ItemStore({ maxItems: 2 });
    for (const v of ['1:a', '1:b']) store.put({ v: text(v) });
    store.put({ v: text('1:a') }); // put again: now the newest
    store.put({ v: text('1:c') });
    expect(store.size).toBe(2);
    expect(store.get(immutableTarget(text('1:b')))).toBeUndefined();
    expect(store.get(immutableTarget(text('1:a')))).toBeDefined();
  });
});
