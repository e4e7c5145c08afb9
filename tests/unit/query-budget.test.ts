import { describe, expect, it } from 'vitest';
import { QueryBudget } from '../../src/crawl/query-budget.js';

describe('QueryBudget: queries per node per minute', () => {
  it('lets a node have perMinute queries in a minute, then none until its minute is over', () => {
    const budget = new QueryBudget({ perMinute: 3 });
    const t0 = 1_000_000;
    expect([1, 2, 3, 4].map((i) => budget.take('10.0.0.1:6881', t0 + i))).toEqual([true, true, true, false]);
    expect(budget.nextAt('10.0.0.1:6881', t0 + 10)).toBe(t0 + 1 + 60_000);
    // Another node has its own minute.
    expect(budget.take('10.0.0.2:6881', t0 + 10)).toBe(true);
    expect(budget.take('10.0.0.1:6881', t0 + 59_999)).toBe(false);
    expect(budget.take('10.0.0.1:6881', t0 + 60_001)).toBe(true);
    expect(budget.peak).toBe(3);
    expect(budget.denied).toBe(2);
  });

  it('remembers at most maxNodes nodes: over minutes are swept first, then the oldest goes', () => {
    const budget = new QueryBudget({ perMinute: 1, maxNodes: 2 });
    budget.take('a:1', 0);
    budget.take('b:1', 30_000);
    // a's minute is over: it makes room for c, and b keeps its spent minute.
    budget.take('c:1', 61_000);
    expect(budget.take('b:1', 61_000)).toBe(false);
    // Nobody's minute is over: the oldest (b) is dropped, so b starts afresh.
    budget.take('d:1', 62_000);
    expect(budget.take('b:1', 62_000)).toBe(true);
  });
});
