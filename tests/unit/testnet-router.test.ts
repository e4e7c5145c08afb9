/**
 * The rules of a bootstrap router like router.bittorrent.com (bittorrent/bootstrap-dht), as the
 * `internet` local network's routers follow them: nodes handed out in turn, whatever the target;
 * 3 instead of 16 to an IP that asked before; the second of two back-to-back queries dropped.
 */
import { describe, expect, it } from 'vitest';
import { ROUTER_RULES, RouterBook } from '../../src/modes/testnet-router.js';
import type { NodeInfo } from '../../src/wire/compact.js';

function nodes(n: number, prefix: string): NodeInfo[] {
  return Array.from({ length: n }, (_, i) => ({ id: new Uint8Array(20).fill(i), address: `${prefix}.${i >> 8}.${i & 255}`, port: 6881 }));
}

describe('a bootstrap router', () => {
  it('hands out its buffer in turn, 16 at a time, and wraps around', () => {
    const buffer = nodes(40, '10.0');
    const book = new RouterBook({ 4: buffer }, 0);
    const first = book.next(4, 16);
    const second = book.next(4, 16);
    const third = book.next(4, 16);
    expect(first).toEqual(buffer.slice(0, 16));
    expect(second).toEqual(buffer.slice(16, 32));
    expect(third).toEqual([...buffer.slice(32, 40), ...buffer.slice(0, 8)]);
    expect(book.next(6, 16)).toEqual([]);
  });

  it('gives a whole small buffer at once', () => {
    const book = new RouterBook({ 4: nodes(5, '10.0') }, 0);
    expect(book.next(4, 16)).toHaveLength(5);
    expect(book.next(4, 16)).toHaveLength(5);
  });

  it('answers an IP that asked before with 3 nodes until its recent set is reset, 10 minutes on', () => {
    const book = new RouterBook({ 4: nodes(100, '10.0') }, 0);
    expect(book.admit('192.0.2.1', false, 0)).toBe(ROUTER_RULES.nodes);
    expect(book.admit('192.0.2.2', false, 1)).toBe(16);
    expect(book.admit('192.0.2.1', false, 2)).toBe(ROUTER_RULES.repeatNodes);
    expect(book.admit('192.0.2.1', true, 500)).toBe(3);
    expect(book.admit('192.0.2.1', false, ROUTER_RULES.windowMs + 10)).toBe(16);
  });

  it('drops the second of two queries an IP sends back to back, unless read-only (BEP 43) or someone else came between', () => {
    const book = new RouterBook({ 4: nodes(100, '10.0') }, 0);
    expect(book.admit('192.0.2.1', false, 100)).toBe(16);
    expect(book.admit('192.0.2.1', false, 100.1)).toBe('drop');
    expect(book.admit('192.0.2.1', true, 100.2)).toBe(3);
    expect(book.admit('192.0.2.9', false, 100.3)).toBe(16);
    expect(book.admit('192.0.2.1', false, 100.4)).toBe(3);
    expect(book.admit('192.0.2.1', false, 100.4 + ROUTER_RULES.backToBackMs)).toBe(3);
  });
});
