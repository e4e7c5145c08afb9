import { afterEach, describe, expect, test, vi } from 'vitest';
import { ViewFeed, type ViewEvent } from '../../src/cli/web/view-feed.js';

afterEach(() => { vi.useRealTimers(); });

describe('the live view shows torrent names as they are, not as they would read (issue 14 item 7)', () => {
  test('a name with bidi, zero-width and control characters reaches the page escaped', () => {
    vi.useFakeTimers();
    const feed = new ViewFeed({ title: 'test' });
    const infoHash = new Uint8Array(20).fill(7);
    feed.named(infoHash, 'movie\u202egpj.exe\u200b\u2066\ufeff\u0007');
    const entry = { infoHash, requests: 3, sources: 2 };
    const crawler = {
      progress: () => ({ elapsedMs: 1_000, discovered: 1 }),
      store: { top: () => [entry], counts: () => ({ seenIn: { 4: 1, 6: 0 } }) },
    } as unknown as Parameters<ViewFeed['watchCrawler']>[0];
    const events: ViewEvent[] = [];
    feed.subscribe((event) => events.push(event));
    feed.watchCrawler(crawler);
    vi.advanceTimersByTime(1_000);
    const crawl = events.find((e) => e.kind === 'crawl') as Extract<ViewEvent, { kind: 'crawl' }>;
    expect(crawl.crawl.top[0]!.name).toBe('movie\\u202egpj.exe\\u200b\\u2066\\ufeff\\u0007');
    feed.close();
  });
});
