/**
 * Events handed from a producer that never waits (a lookup's replies, a crawl's sightings) to a
 * reader that may be slower, as an async iterator: `for await (const e of queue)` reads what has
 * come, then sleeps until the next push or until close(). Bounded: past `max` waiting events, the
 * oldest go, so a reader that stops reading cannot make the producer hold everything.
 */
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private readonly max: number;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(max: number = Number.POSITIVE_INFINITY) {
    this.max = max;
  }

  /** Queue an event for the reader; ignored once closed. */
  push(item: T): void {
    if (this.closed) return;
    if (this.items.length >= this.max) this.items.shift();
    this.items.push(item);
    this.wake?.();
  }

  /** No more events: the reader gets what is queued, then its loop ends. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}
