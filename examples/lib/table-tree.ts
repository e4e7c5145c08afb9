/**
 * The routing table as a compact tree for a terminal: one line per bucket, indented by depth, with
 * the prefix the bucket covers, how full it is and its contacts by state. Each bucket but the last
 * branches off the path of our own ID; the last one holds our ID.
 */
import type { TableView } from '../../src/table/routing-table-view.js';

const MARK = { good: '●', questionable: '○', bad: '×', heard: '·' } as const;
/** Prefixes longer than this show their tail (the head is our ID's, as in every line above). */
const MAX_PREFIX = 14;

export const TREE_LEGEND = '● good  ○ questionable  × bad  · heard of (named in a reply, not yet asked)';

export function tableTree(view: TableView): string[] {
  const last = view.buckets.length - 1;
  return view.buckets.map((bucket) => {
    const depth = Math.min(bucket.index, MAX_PREFIX);
    const branch = bucket.index === last ? '└─' : '├─';
    const bits = bucket.prefix.length > MAX_PREFIX ? `…${bucket.prefix.slice(-(MAX_PREFIX - 1))}` : bucket.prefix;
    const label = `${' '.repeat(depth)}${branch} ${bits || '(all)'}*`;
    const fill = `${bucket.contacts.length}/${bucket.capacity}`.padStart(7);
    const states = (Object.keys(MARK) as (keyof typeof MARK)[])
      .filter((state) => bucket.counts[state] > 0)
      .map((state) => `${MARK[state]}${bucket.counts[state]}`)
      .join(' ');
    const own = bucket.holdsOwnId ? '  ← our ID' : '';
    return `${label.padEnd(MAX_PREFIX + 6)}${fill}  ${states}${own}`;
  });
}
